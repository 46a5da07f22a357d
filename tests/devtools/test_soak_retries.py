"""Retried tries are found through the REST API and their earlier failure classified by the retry policy."""

from __future__ import annotations

import pytest

from devtools.soak.invariants import retry_invariants
from devtools.soak.retries import FAILURE_EVENT, LoggedFailure, failure_kind, logged_failure, retried_tries


def failed_log(exc_type: str, exc_value: str) -> list[dict]:
    return [{"event": "Task started", "timestamp": "2026-03-02T00:00:00Z"},
            {"event": FAILURE_EVENT, "level": "error",
             "error_detail": [{"exc_type": exc_type, "exc_value": exc_value, "frames": []},
                              {"exc_type": "KeyError", "exc_value": "'cause'", "frames": []}]}]


class FabricatedAirflow:
    """Answers the three REST calls the count makes, from fabricated task instances, tries and logs."""

    def __init__(self, instances: dict[tuple[str, int], dict]) -> None:
        # (task_id, current try) -> {earlier try number: (state, log entries)}
        self.instances = instances

    def get(self, path: str) -> dict:
        if "/dagRuns/~/taskInstances?" in path:
            rows = [{"dag_id": "scones_train", "dag_run_id": "manual__1", "task_id": task, "map_index": -1,
                     "try_number": current} for task, current in self.instances]
            offset = int(path.rsplit("offset=", 1)[1])
            return {"task_instances": rows[offset:offset + 100], "total_entries": len(rows)}
        task = path.split("/taskInstances/", 1)[1].split("/", 1)[0]
        (current, earlier), = ((c, e) for (t, c), e in self.instances.items() if t == task)
        if path.endswith("/tries"):
            return {"task_instances": [{"try_number": n, "state": state} for n, (state, _) in earlier.items()]
                    + [{"try_number": current, "state": "success"}]}
        try_number = int(path.split("/logs/", 1)[1].split("?", 1)[0])
        return {"content": earlier[try_number][1]}


def test_the_raised_exception_is_read_from_a_failed_try_log_not_its_cause():
    assert logged_failure(failed_log("ObjectNotFoundError", "no object at s3://b/k")) == LoggedFailure(
        "ObjectNotFoundError", "no object at s3://b/k")
    assert logged_failure([{"event": "Task started"}]) is None


@pytest.mark.parametrize(("failure", "kind"), [
    (LoggedFailure("ObjectNotFoundError", "no object at s3://b/k"), "deterministic"),
    (LoggedFailure("ValueError", "bad input"), "deterministic"),
    (LoggedFailure("ArchiveChecksumError", "md5 x, expected y"), "deterministic"),
    (LoggedFailure("TrainingJobError", "training job j failed: AlgorithmError: exit code 1: Traceback"),
     "deterministic"),
    (LoggedFailure("TrainingJobError", "training job j failed: InternalServerError: killed by SIGKILL"),
     "transient"),
    (LoggedFailure("ConnectionResetError", "connection reset by peer"), "transient"),
    (LoggedFailure("RuntimeError", "something unforeseen"), "unknown"),
    (LoggedFailure("NoSuchThingAnywhereError", "?"), "unknown"),
    (None, "unknown"),
], ids=lambda value: value.exc_type if isinstance(value, LoggedFailure) else str(value))
def test_a_logged_failure_is_classified_by_the_retry_policy(failure, kind):
    assert failure_kind(failure)[0] == kind


def test_a_retry_after_a_deterministic_failure_fails_the_invariant_and_others_do_not():
    airflow = FabricatedAirflow({
        ("publish_partition", 2): {1: ("failed", failed_log("ObjectNotFoundError", "no object at s3://b/k"))},
        ("train", 3): {1: ("failed", []),   # killed: no exception logged
                       2: ("up_for_retry", failed_log("ConnectionResetError", "reset"))},
        ("register_model", 2): {1: ("success", failed_log("ValueError", "a log of an earlier, cleared run"))},
    })
    retried = retried_tries(airflow)
    assert sorted((r.task_id, r.failed_try, r.kind) for r in retried) == [
        ("publish_partition", 1, "deterministic"), ("train", 1, "unknown"), ("train", 2, "transient")]
    counted, deterministic = retry_invariants(retried)
    assert counted.value == 3 and counted.ok
    assert deterministic.value == 1 and not deterministic.ok
    assert "publish_partition try 1" in deterministic.detail and "ObjectNotFoundError" in deterministic.detail


def test_no_retries_hold_the_invariant():
    assert [i.ok for i in retry_invariants(retried_tries(FabricatedAirflow({})))] == [True, True]
