import re
from datetime import UTC, datetime
from types import SimpleNamespace

from include.run_keys import job_name, run_key, sanitise
from include.runtime.job_reuse import attempt_name, choose_job

SAGEMAKER_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def test_scheduled_run_is_keyed_by_logical_date():
    run = SimpleNamespace(logical_date=datetime(2026, 1, 2, 3, 0, tzinfo=UTC), run_id="scheduled__x",
                          run_type="scheduled")
    assert run_key(run) == "20260102T0300"


def test_backfill_run_is_keyed_by_logical_date():
    run = SimpleNamespace(logical_date=datetime(2026, 1, 2, tzinfo=UTC), run_id="backfill__x", run_type="backfill")
    assert run_key(run) == "20260102T0000"


def test_manual_run_given_a_date_is_keyed_by_that_date_like_its_scheduled_run():
    """``airflow dags test scones_ingest 2026-01-01`` rebuilds the 2026-01-01 partition, however often it runs."""
    run = SimpleNamespace(logical_date=datetime(2026, 1, 2, tzinfo=UTC), run_id="manual__2026-12-01T20:31:28+00:00",
                          run_type="manual")
    assert run_key(run) == "20260102T0000"


def test_dates_given_to_the_second_keep_their_seconds():
    at_seconds = SimpleNamespace(logical_date=datetime(2026, 12, 1, 20, 24, 37, tzinfo=UTC), run_id="m",
                                 run_type="manual")
    at_microseconds = SimpleNamespace(logical_date=datetime(2026, 12, 1, 20, 24, 37, 5, tzinfo=UTC), run_id="m",
                                      run_type="manual")
    assert (run_key(at_seconds), run_key(at_microseconds)) == ("20261201T202437", "20261201T202437000005")


def test_run_without_logical_date_is_keyed_by_sanitised_run_id():
    """Asset-triggered runs and runs triggered without a date have no logical date in Airflow 3."""
    run = SimpleNamespace(logical_date=None, run_id="manual__2026-11-24T05:37:55.123456+00:00")
    key = run_key(run)
    assert key == "manual-2026-11-24t05-37-55-123456-00-00"
    assert SAGEMAKER_JOB_NAME.match(job_name("ingest", key))


def test_long_run_ids_are_shortened_with_a_stable_hash():
    long_id = "asset_triggered__" + "x" * 200
    assert sanitise(long_id, 40) == sanitise(long_id, 40)
    assert len(sanitise(long_id, 40)) == 40
    assert sanitise(long_id, 40) != sanitise(long_id + "y", 40)


def test_job_names_fit_sagemaker_limits_for_every_attempt():
    base = job_name("evaluate-champion", "asset-triggered-" + "a" * 60)
    for attempt in (1, 2, 12):
        name = attempt_name(base, attempt)
        assert len(name) <= 63
        assert SAGEMAKER_JOB_NAME.match(name), name


def _describer(jobs: dict[str, str]):
    return lambda name: {"Status": jobs[name]} if name in jobs else None


def test_retry_reuses_a_completed_job_of_an_earlier_attempt():
    choice = choose_job("job", 2, _describer({"job": "Completed"}), lambda d: d["Status"])
    assert (choice.action, choice.name) == ("reuse", "job")


def test_retry_after_failure_starts_a_suffixed_job():
    choice = choose_job("job", 2, _describer({"job": "Failed"}), lambda d: d["Status"])
    assert (choice.action, choice.name) == ("start", "job-t2")


def test_retry_waits_for_a_job_still_running():
    choice = choose_job("job", 3, _describer({"job": "Failed", "job-t2": "InProgress"}), lambda d: d["Status"])
    assert (choice.action, choice.name) == ("wait", "job-t2")


def test_rebuild_starts_a_new_job_beside_a_completed_one():
    choice = choose_job("job", 2, _describer({"job": "Completed"}), lambda d: d["Status"], rebuild=True)
    assert (choice.action, choice.name) == ("start", "job-t2")


def test_rebuild_skips_every_name_already_taken():
    taken = {"job": "Completed", "job-t2": "Completed", "job-t3": "Failed"}
    choice = choose_job("job", 2, _describer(taken), lambda d: d["Status"], rebuild=True)
    assert (choice.action, choice.name) == ("start", "job-t4")


def test_first_attempt_starts_the_base_name():
    assert choose_job("job", 1, _describer({}), lambda d: d["Status"]).name == "job"


def test_pendulum_interval_bounds_stay_timezone_aware_through_arithmetic():
    from datetime import timedelta

    import pendulum

    from include.intervals import as_utc

    moment = as_utc(pendulum.datetime(2026, 1, 1, 6, tz="Europe/Paris")) - timedelta(minutes=1)
    assert moment.tzinfo is not None
    assert moment == datetime(2026, 1, 1, 4, 59, tzinfo=UTC)
