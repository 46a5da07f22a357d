"""The local blue/green simulation's plan and split: the configured share of invocations goes to the new model,
and its errors or latency during a bake roll the update back, as SageMaker's rollback alarms would."""

from __future__ import annotations

import pytest

from include.builders.deploy import endpoint_request
from include.runtime.local.traffic_shift import (
    BLUE,
    GREEN,
    ShiftPlan,
    TrafficShiftingError,
    TrafficSplit,
    run_shift,
    shift_plan,
)
from include.settings import load_settings


def plan_for(**deploy: str) -> dict | None:
    settings = load_settings(environ={f"SCONES_DEPLOY__{name.upper()}": value for name, value in deploy.items()})
    request = endpoint_request(settings, config_name="scones-config-v2-x", run_key="x")
    return shift_plan(request, max_errors=settings.deploy.error_alarm_threshold,
                      max_latency_ms=settings.deploy.latency_alarm_milliseconds)


def test_the_plan_is_the_update_requests_own_routing_and_the_settings_alarms():
    assert plan_for(traffic_routing="CANARY", traffic_step_percent="20", initial_instance_count="2",
                    bake_minutes="0.5") == {
        "green_shares": [0.2, 1.0], "bake_seconds": 30.0, "max_errors": 1, "max_latency_ms": 500.0}
    assert plan_for(traffic_routing="LINEAR", traffic_step_percent="25", initial_instance_count="4")["green_shares"] \
        == [0.25, 0.5, 0.75, 1.0]
    assert plan_for()["green_shares"] == [1.0]


def test_without_rollback_alarms_the_plan_bakes_but_cannot_roll_back():
    plan = plan_for(rollback_alarms="[]")
    assert (plan["max_errors"], plan["max_latency_ms"]) == (None, None)


def test_a_serverless_endpoint_has_no_plan():
    assert plan_for(serverless="true") is None


def test_a_step_sends_exactly_its_share_of_invocations_to_green():
    split = TrafficSplit(ShiftPlan((0.1, 1.0), bake_seconds=0))
    split.next_step()
    routes = [split.route() for _ in range(200)]
    assert routes.count(GREEN) == 20 and routes[9] == GREEN and routes[:9] == [BLUE] * 9
    split.next_step()
    assert {split.route() for _ in range(10)} == {GREEN}


def test_green_server_errors_at_the_threshold_roll_back_and_send_everything_to_blue():
    split = TrafficSplit(ShiftPlan((1.0,), bake_seconds=0, max_errors=2))
    split.next_step()
    split.record_green(5.0, server_error=True)
    assert split.rolled_back is None
    split.record_green(5.0, server_error=True)
    assert split.rolled_back.startswith("error alarm: 2 server errors")
    assert {split.route() for _ in range(5)} == {BLUE}


def test_green_latency_above_the_threshold_rolls_back():
    split = TrafficSplit(ShiftPlan((1.0,), bake_seconds=0, max_latency_ms=100))
    split.next_step()
    split.record_green(90.0, server_error=False)
    split.record_green(150.0, server_error=False)
    assert "mean latency 120 ms over 2 invocations exceeds 100 ms" in split.rolled_back


def test_a_healthy_shift_bakes_every_step_and_completes():
    split = TrafficSplit(ShiftPlan((0.25, 0.5, 1.0), bake_seconds=60, max_errors=1, max_latency_ms=500))
    baked = []

    def traffic_while_baking(seconds: float) -> None:
        baked.append((split.share, seconds))
        for _ in range(8):
            if split.route() == GREEN:
                split.record_green(10.0, server_error=False)

    assert run_shift(split, sleep=traffic_while_baking) is None
    assert baked == [(0.25, 60), (0.5, 60), (1.0, 60)]


def test_a_failing_canary_rolls_back_during_its_bake_before_taking_all_traffic():
    split = TrafficSplit(ShiftPlan((0.1, 1.0), bake_seconds=60, max_errors=1))

    def failing_green(seconds: float) -> None:
        for _ in range(20):
            if split.route() == GREEN:
                split.record_green(10.0, server_error=True)

    assert run_shift(split, sleep=failing_green).startswith("error alarm")
    assert split.share == 0.1, "the rest of the traffic never moved"


@pytest.mark.parametrize("document", [{"green_shares": [0.5], "bake_seconds": 1}, {"green_shares": [1.0]},
                                      {"green_shares": [0, 1.0], "bake_seconds": 1}])
def test_a_malformed_plan_is_refused(document):
    with pytest.raises(TrafficShiftingError):
        ShiftPlan.from_request(document)
