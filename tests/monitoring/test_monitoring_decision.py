"""Violations become none / no_traffic / alert / retrain by the settings, with minimum count, backfill rule and
a cooldown in data-interval time; an incident alerts once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from include.runtime.local.alerts import FileAlerts, read_alerts
from include.runtime.local.store import LocalObjectStore
from include.workflows.monitoring import announce
from include.workflows.monitoring import decision as policy
from include.workflows.monitoring.decision import RetrainClaim

END = datetime(2026, 3, 1, 11, tzinfo=UTC)


def violation(feature: str, check: str = "baseline_drift_check") -> dict:
    return {"feature_name": feature, "constraint_check_type": check,
            "description": "Baseline drift distance: 0.41 exceeds threshold: 0.1"}


def result(*violations: dict, no_traffic: bool = False) -> dict:
    return {"output_uri": "s3://b/r/", "violations": list(violations), "no_traffic": no_traffic,
            "item_count": 0 if no_traffic else 300}


def with_monitor(settings, **changes):
    return settings.model_copy(update={"monitor": settings.monitor.model_copy(update=changes)})


def claim(hours_from_end: float, run_key: str = "20260301T0700") -> RetrainClaim:
    return RetrainClaim(END + timedelta(hours=hours_from_end), run_key, "drift")


def test_traffic_like_the_baseline_needs_nothing(settings):
    assert policy.decide(result(), settings, interval_end=END).action == "none"


def test_drift_triggers_retraining_with_the_reason(settings):
    decision = policy.decide(result(violation("brightness")), settings, interval_end=END)
    assert decision.action == "retrain"
    assert decision.reasons[0].startswith("baseline_drift_check on brightness -> retrain")


def test_fewer_violations_than_the_minimum_need_nothing(settings):
    decision = policy.decide(result(violation("brightness")), with_monitor(settings, min_violations=2),
                             interval_end=END)
    assert decision.action == "none"
    assert "monitor.min_violations=2" in decision.reasons[0]


def width_alerts(settings):
    return with_monitor(settings, actions={**settings.monitor.actions, "baseline_drift_check:width": "alert"})


def test_per_feature_action_overrides_the_check_type(settings):
    assert policy.decide(result(violation("width")), width_alerts(settings), interval_end=END).action == "alert"


def test_photo_size_is_not_acted_on_by_default(settings):
    assert policy.decide(result(violation("width"), violation("height")), settings, interval_end=END).action == "none"


def test_ignored_violations_do_not_count(settings):
    ignoring = with_monitor(settings, actions={**settings.monitor.actions, "completeness_check": "ignore"})
    decision = policy.decide(result(violation("confidence", "completeness_check")), ignoring, interval_end=END)
    assert (decision.action, decision.violations) == ("none", [])


def test_retrain_within_the_cooldown_of_another_runs_claim_is_downgraded_to_alert(settings):
    decision = policy.decide(result(violation("brightness")), settings, interval_end=END, run_key="20260301T1000",
                             claims=[claim(-3)])
    assert decision.action == "alert"
    assert "run 20260301T0700 claimed a retrain" in decision.reasons[-1]
    assert "monitor.retrain_cooldown_hours=24" in decision.reasons[-1]


def test_the_cooldown_is_measured_between_interval_ends_not_against_the_clock(settings):
    """A backfill of last week is judged against last week: today's claim does not cool it down."""
    last_week = policy.decide(result(violation("brightness")), settings, interval_end=END - timedelta(days=7),
                              run_key="20260222T1000", claims=[claim(0)])
    assert last_week.action == "retrain"
    day_before = policy.decide(result(violation("brightness")), settings, interval_end=END - timedelta(hours=5),
                               run_key="20260301T0500", claims=[claim(0)])
    assert day_before.action == "alert", "a claim cools down the intervals on both sides of it"


def test_retrain_after_the_cooldown_is_allowed(settings):
    decision = policy.decide(result(violation("brightness")), settings, interval_end=END, run_key="20260301T1000",
                             claims=[claim(-25)])
    assert decision.action == "retrain"


def test_a_runs_own_claim_keeps_its_retrain(settings):
    """A retried decide task, or a cleared run, retrains again (and triggers the same scones_train run)."""
    decision = policy.decide(result(violation("brightness")), settings, interval_end=END, run_key="20260301T1000",
                             claims=[claim(0, run_key="20260301T1000")])
    assert decision.action == "retrain"


def test_backfilled_drift_is_reported_not_retrained_by_default(settings):
    decision = policy.decide(result(violation("brightness")), settings, interval_end=END, backfill=True)
    assert decision.action == "alert"
    assert "monitor.retrain_on_backfill=false" in decision.reasons[-1]


def test_backfills_may_retrain_when_the_setting_allows(settings):
    allowing = with_monitor(settings, retrain_on_backfill=True)
    assert policy.decide(result(violation("brightness")), allowing, interval_end=END, backfill=True).action == "retrain"


def test_no_traffic_is_reported_as_such_not_as_drift(settings):
    assert policy.decide(result(no_traffic=True), settings, interval_end=END).action == "no_traffic"


def test_retrain_conf_names_the_reason_and_carries_the_violations(settings):
    decision = policy.decide(result(violation("brightness"), violation("width")), width_alerts(settings),
                             interval_end=END)
    conf = policy.retrain_conf(decision, "20260301T1000")
    assert conf["reason"] == "drift detected by scones_monitor run 20260301T1000: baseline_drift_check on brightness"
    assert [v["feature_name"] for v in conf["violations"]] == ["brightness", "width"]


def test_no_traffic_announcement_does_not_speak_of_drift():
    decision = {"action": "no_traffic", "reasons": ["no capture records in the window"]}
    message = announce.announcement(decision, run_key="k", report_uri="s3://b/report/index.html")
    assert "no traffic (not drift)" in message
    assert "DRIFT" not in message


def test_drift_is_announced_as_a_warning_and_sent_to_the_runtimes_alerts(settings, caplog):
    decision = policy.decide(result(violation("width")), width_alerts(settings), interval_end=END).as_dict()
    with caplog.at_level("INFO", logger=announce.LOG.name):
        announce.announce(FileAlerts(settings), decision, run_key="k", report_uri="s3://b/report/index.html")
    announced = [r for r in caplog.records if r.name == announce.LOG.name]
    assert [r.levelname for r in announced] == ["WARNING"]
    assert "DRIFT ALERT" in announced[0].getMessage()
    [sent] = read_alerts(settings)
    assert sent["subject"] == "Scones drift: alert" and "DRIFT ALERT" in sent["message"]


def test_no_drift_sends_no_alert(settings):
    decision = policy.decide(result(), settings, interval_end=END).as_dict()
    announce.announce(FileAlerts(settings), decision, run_key="k", report_uri="s3://b/report/index.html")
    assert read_alerts(settings) == []


def _announce_hour(settings, store, decision: dict, hour: int) -> None:
    start = datetime(2026, 3, 1, hour, tzinfo=UTC)
    announce.announce_interval(settings, store, FileAlerts(settings), decision, run_key=f"20260301T{hour:02d}00",
                               report_uri="s3://b/index.html", start=start, end=start + timedelta(hours=1))


def test_an_incident_alerts_once_however_many_hours_it_lasts(settings):
    store = LocalObjectStore(settings.data_root)
    alerting = width_alerts(settings)
    drift = policy.decide(result(violation("width")), alerting, interval_end=END).as_dict()
    for hour in (8, 9, 10, 11):
        _announce_hour(settings, store, drift, hour)
    assert len(read_alerts(settings)) == 1


def test_a_rerun_of_an_announced_interval_does_not_alert_again(settings):
    store = LocalObjectStore(settings.data_root)
    drift = policy.decide(result(violation("width")), width_alerts(settings), interval_end=END).as_dict()
    for _ in range(3):  # the scheduled run, then the same hour cleared and backfilled
        _announce_hour(settings, store, drift, 8)
    assert len(read_alerts(settings)) == 1


def test_a_backfilled_rerun_of_a_retrained_interval_does_not_alert_again(settings):
    store = LocalObjectStore(settings.data_root)
    retraining = with_monitor(width_alerts(settings), actions={**width_alerts(settings).monitor.actions,
                                                               "baseline_drift_check:width": "retrain"})
    retrain = policy.decide(result(violation("width")), retraining, interval_end=END).as_dict()
    alert = {**retrain, "action": "alert"}  # the backfill's decision: drift, no retrain on a backfill
    _announce_hour(settings, store, retrain, 8)
    _announce_hour(settings, store, alert, 8)
    assert [a["subject"] for a in read_alerts(settings)] == ["Scones drift: retrain"]


def test_a_changed_violation_set_or_a_quiet_hour_between_starts_a_new_incident(settings):
    store = LocalObjectStore(settings.data_root)
    alerting = with_monitor(width_alerts(settings), actions={**width_alerts(settings).monitor.actions,
                                                             "baseline_drift_check": "alert"})
    width = policy.decide(result(violation("width")), alerting, interval_end=END).as_dict()
    both = policy.decide(result(violation("width"), violation("brightness")), alerting, interval_end=END).as_dict()
    quiet = policy.decide(result(), alerting, interval_end=END).as_dict()
    for hour, decision in ((8, width), (9, both), (10, quiet), (11, both)):
        _announce_hour(settings, store, decision, hour)
    assert len(read_alerts(settings)) == 3
