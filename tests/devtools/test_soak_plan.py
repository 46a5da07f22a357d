"""The soak's calendar: traffic with a rhythm and a busy interval, a drift episode that ends, every fault placed;
the failed runs it expects (only the deployments it rolled back)."""

from __future__ import annotations

import itertools

import pytest

from devtools.soak.invariants import Ledger, failure_invariants
from devtools.soak.plan import (
    DAY_ZERO_FAULTS,
    FAULTS,
    NEW_MODEL_ERROR,
    ROLLBACK_DURING_DRIFT,
    WORKER_KILL,
    SoakPlan,
)
from devtools.soak.report import failures, table
from include.runtime.local.model_server_faults import GREEN_TARGET, check_answer


def every_interval(plan: SoakPlan):
    return [interval for day in range(plan.days) for interval in plan.intervals(day)]


@pytest.mark.parametrize("plan", [SoakPlan(), SoakPlan(days=30, interval_hours=6)])
def test_every_fault_is_applied_once(plan):
    placed = [fault for interval in every_interval(plan) for fault in interval.faults]
    assert sorted(placed + list(DAY_ZERO_FAULTS)) == sorted(FAULTS)


def test_intervals_cover_each_day_back_to_back():
    plan = SoakPlan(days=4, interval_hours=6)
    intervals = every_interval(plan)
    assert len(intervals) == 16
    assert all(a.end == b.start for a, b in itertools.pairwise(intervals))


def test_traffic_has_a_daily_rhythm_and_one_busy_interval():
    plan = SoakPlan(days=30, interval_hours=6, base_photos=40, busy_photos=2000)
    day = [i.photos for i in plan.intervals(3)]
    assert day[0] < day[2] and day[3] < day[2]
    assert [i.photos for i in every_interval(plan)].count(2000) == 1


def test_the_drift_episode_starts_and_ends_and_the_no_data_day_is_empty():
    plan = SoakPlan(days=3)
    assert [plan.drift_on(day) for day in range(3)] == [None, "night", None]
    assert all(i.photos == 0 and i.drift is None for i in plan.intervals(plan.no_data_day()))


def test_a_month_has_two_episodes_of_different_drifts():
    plan = SoakPlan(days=30)
    assert [e.drift for e in plan.episodes] == ["night", "new_background"]
    assert plan.no_data_day() not in {d for e in plan.episodes for d in range(e.first_day, e.last_day + 1)}


def test_fewer_than_three_days_is_refused():
    with pytest.raises(ValueError, match="at least 3"):
        SoakPlan(days=2)


def test_the_table_marks_a_failing_invariant_and_failures_name_it():
    invariant = {"name": "photos lost (never routed)", "expected": 0, "detail": "s3://b/p.png"}
    report = {"days": [{"day": 1, "invariants": [{**invariant, "value": 0, "ok": True}]},
                       {"day": 2, "invariants": [{**invariant, "value": 1, "ok": False}]}]}
    assert "1   !" in table(report) and table(report).rstrip().endswith("NO")
    assert failures(report) == ["day 2: photos lost (never routed) = 1 (expected 0); s3://b/p.png"]


def test_intervals_are_named_by_day_and_hours():
    assert [i.name for i in SoakPlan(interval_hours=12).intervals(0)] == ["day 1 00:00-12:00", "day 1 12:00-00:00"]
    assert [i.name for i in SoakPlan(interval_hours=24).intervals(1)] == ["day 2"]


def test_drift_alerts_are_counted_per_monitor_interval(tmp_path):
    from devtools.soak.invariants import drift_alerts_per_interval
    from include.runtime.local.alerts import FileAlerts
    from include.settings import load_settings

    settings = load_settings(environ={"SCONES_DATA_ROOT": str(tmp_path)})
    alerts = FileAlerts(settings)
    alerts.publish("Scones drift: retrain", "scones_monitor 20260302T0000: DRIFT: retraining triggered\n- why")
    alerts.publish("Scones drift: alert", "scones_monitor 20260302T0000: DRIFT ALERT\n- why")
    alerts.publish("Scones drift: alert", "scones_monitor 20260303T0000: DRIFT ALERT\n- why")
    alerts.publish("Task failed: scones_train", "scones_monitor 20260303T0000: not a drift alert")
    assert drift_alerts_per_interval(settings) == {"20260302T0000": 2, "20260303T0000": 1}


@pytest.mark.parametrize("plan", [SoakPlan(days=3, interval_hours=24), SoakPlan(days=30, interval_hours=6)])
def test_the_rollback_falls_on_the_drifted_interval_whose_monitor_run_retrains(plan):
    [where] = [i for i in every_interval(plan) if ROLLBACK_DURING_DRIFT in i.faults]
    assert where.drift is not None and plan.episodes[0].covers(where.day)
    assert WORKER_KILL in where.faults, "the monitor run the worker kill hits is the one that retrains"
    assert where.index == plan.intervals_per_day - 1


def test_the_retrained_models_planned_error_targets_only_the_new_model():
    assert NEW_MODEL_ERROR["target"] == GREEN_TARGET and NEW_MODEL_ERROR["status"] >= 500
    assert check_answer(dict(NEW_MODEL_ERROR)) == NEW_MODEL_ERROR


def failed(*runs: tuple[str, str]) -> list[dict]:
    return [{"dag_id": dag, "dag_run_id": run} for dag, run in runs]


def test_a_rollback_seen_happening_is_the_one_failed_run_expected():
    ledger = Ledger(rollbacks_planned=1, rolled_back_deploys=[("scones_deploy", "asset_triggered__1")])
    rows = {i.name: i for i in failure_invariants(failed(("scones_deploy", "asset_triggered__1")), ledger)}
    assert rows["deployments rolled back"].ok and rows["deployments rolled back"].value == 1
    assert rows["DAG runs failed (rolled-back deployments expected)"].ok


def test_a_planned_rollback_that_did_not_happen_fails():
    rows = {i.name: i for i in failure_invariants([], Ledger(rollbacks_planned=1))}
    assert not rows["deployments rolled back"].ok
    assert rows["DAG runs failed (rolled-back deployments expected)"].ok


def test_any_other_failed_run_fails_even_beside_a_rollback():
    ledger = Ledger(rollbacks_planned=1, rolled_back_deploys=[("scones_deploy", "asset_triggered__1")])
    rows = {i.name: i for i in failure_invariants(
        failed(("scones_deploy", "asset_triggered__1"), ("scones_monitor", "manual__2")), ledger)}
    assert not rows["DAG runs failed (rolled-back deployments expected)"].ok
    assert "scones_monitor manual__2" in rows["DAG runs failed (rolled-back deployments expected)"].detail


def test_a_failed_deployment_not_seen_rolling_back_fails_both_rows():
    rows = {i.name: i for i in failure_invariants(failed(("scones_deploy", "asset_triggered__1")), Ledger())}
    assert not rows["deployments rolled back"].ok
    assert not rows["DAG runs failed (rolled-back deployments expected)"].ok


def test_the_cooldown_lets_a_month_retrain_for_each_of_its_episodes():
    """Capture is on the wall clock, so is the cooldown: a day's would span a month's whole run."""
    from devtools.soak.plan import EPISODES_APART_COOLDOWN_HOURS

    assert SoakPlan(days=3).cooldown_hours == 24.0
    month = SoakPlan(days=30)
    assert len(month.episodes) == 2 and month.cooldown_hours == EPISODES_APART_COOLDOWN_HOURS < 1
    assert SoakPlan(days=30, cooldown_hours=2.0).cooldown_hours == 2.0
