"""Violations become none / no_traffic / alert / retrain by the settings, with minimum count and cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from include.runtime.local.alerts import FileAlerts, read_alerts
from include.runtime.local.store import LocalObjectStore
from include.workflows.monitoring import announce, retraining
from include.workflows.monitoring import decision as policy

NOW = datetime(2026, 3, 1, 11, 5, tzinfo=UTC)


def violation(feature: str, check: str = "baseline_drift_check") -> dict:
    return {"feature_name": feature, "constraint_check_type": check,
            "description": "Baseline drift distance: 0.41 exceeds threshold: 0.1"}


def result(*violations: dict, no_traffic: bool = False) -> dict:
    return {"output_uri": "s3://b/r/", "violations": list(violations), "no_traffic": no_traffic,
            "item_count": 0 if no_traffic else 300}


def with_monitor(settings, **changes):
    return settings.model_copy(update={"monitor": settings.monitor.model_copy(update=changes)})


def test_traffic_like_the_baseline_needs_nothing(settings):
    assert policy.decide(result(), settings, None, NOW).action == "none"


def test_drift_triggers_retraining_with_the_reason(settings):
    decision = policy.decide(result(violation("brightness")), settings, None, NOW)
    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("baseline_drift_check on brightness -> retrain")


def test_fewer_violations_than_the_minimum_need_nothing(settings):
    decision = policy.decide(result(violation("brightness")), with_monitor(settings, min_violations=2), None, NOW)
    assert decision.action == "none"
    assert "monitor.min_violations=2" in decision.reasons[0]


def width_alerts(settings):
    return with_monitor(settings, actions={**settings.monitor.actions, "baseline_drift_check:width": "alert"})


def test_per_feature_action_overrides_the_check_type(settings):
    assert policy.decide(result(violation("width")), width_alerts(settings), None, NOW).action == "alert"


def test_photo_size_is_not_acted_on_by_default(settings):
    assert policy.decide(result(violation("width"), violation("height")), settings, None, NOW).action == "none"


def test_ignored_violations_do_not_count(settings):
    ignoring = with_monitor(settings, actions={**settings.monitor.actions, "completeness_check": "ignore"})
    decision = policy.decide(result(violation("confidence", "completeness_check")), ignoring, None, NOW)
    assert (decision.action, decision.violations) == ("none", [])


def test_retrain_inside_the_cooldown_is_downgraded_to_alert(settings):
    decision = policy.decide(result(violation("brightness")), settings, NOW - timedelta(hours=3), NOW)
    assert decision.action == "alert"
    assert "monitor.retrain_cooldown_hours" in decision.reasons[-1]


def test_retrain_after_the_cooldown_is_allowed(settings):
    decision = policy.decide(result(violation("brightness")), settings, NOW - timedelta(hours=25), NOW)
    assert decision.action == "retrain"


def test_no_traffic_is_reported_as_such_not_as_drift(settings):
    assert policy.decide(result(no_traffic=True), settings, None, NOW).action == "no_traffic"


def test_retrain_conf_names_the_reason_and_carries_the_violations(settings):
    decision = policy.decide(result(violation("brightness"), violation("width")), width_alerts(settings),
                                 None, NOW)
    conf = policy.retrain_conf(decision, "20260301T1000")
    assert conf["reason"] == "drift detected by scones_monitor run 20260301T1000: baseline_drift_check on brightness"
    assert [v["feature_name"] for v in conf["violations"]] == ["brightness", "width"]


def test_recorded_retrain_is_read_back_for_the_cooldown(settings):
    store = LocalObjectStore(settings.data_root)
    assert retraining.last_retrain_at(settings, store) is None
    retraining.record_retrain(settings, store, when=NOW, run_key="20260301T1000", reason="drift")
    assert retraining.last_retrain_at(settings, store) == NOW


def test_no_traffic_announcement_does_not_speak_of_drift():
    decision = {"action": "no_traffic", "reasons": ["no capture records in the window"]}
    message = announce.announcement(decision, run_key="k", report_uri="s3://b/report/index.html")
    assert "no traffic (not drift)" in message
    assert "DRIFT" not in message


def test_drift_is_announced_as_a_warning_and_sent_to_the_runtimes_alerts(settings, caplog):
    decision = policy.decide(result(violation("width")), width_alerts(settings), None, NOW).as_dict()
    with caplog.at_level("INFO", logger=announce.LOG.name):
        announce.announce(FileAlerts(settings), decision, run_key="k", report_uri="s3://b/report/index.html")
    announced = [r for r in caplog.records if r.name == announce.LOG.name]
    assert [r.levelname for r in announced] == ["WARNING"]
    assert "DRIFT ALERT" in announced[0].getMessage()
    [sent] = read_alerts(settings)
    assert sent["subject"] == "Scones drift: alert" and "DRIFT ALERT" in sent["message"]


def test_no_drift_sends_no_alert(settings):
    decision = policy.decide(result(), settings, None, NOW).as_dict()
    announce.announce(FileAlerts(settings), decision, run_key="k", report_uri="s3://b/report/index.html")
    assert read_alerts(settings) == []
