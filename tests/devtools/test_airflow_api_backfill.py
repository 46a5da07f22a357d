"""Creating a backfill on SQLite: Airflow's 503 "Database is locked" is asked again, other errors are not."""

from __future__ import annotations

import pytest

from devtools import airflow_api
from devtools.airflow_api import AirflowApiError, AirflowRestClient

LOCKED = ('POST /api/v2/backfills -> 503: {"detail":"Database is locked. Backfill creation is not supported on '
          'SQLite under concurrent access."}')


class Answers(AirflowRestClient):
    url = "http://127.0.0.1:1"

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.asked = 0

    def request(self, method, path, body=None):
        self.asked += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch):
    monkeypatch.setattr(airflow_api.time, "sleep", lambda seconds: None)


def test_a_locked_database_is_asked_again_until_the_backfill_is_created():
    client = Answers(AirflowApiError(LOCKED), AirflowApiError(LOCKED), {"id": 7})
    assert client.create_backfill({"dag_id": "scones_monitor"}) == ({"id": 7}, 2)


def test_a_refusal_that_had_created_the_backfill_after_all_finds_it():
    already = AirflowApiError("POST /api/v2/backfills -> 409: There is already a running backfill for dag d")
    listed = {"backfills": [{"id": 3, "completed_at": "2026-03-01T00:00:00Z"}, {"id": 4, "completed_at": None}]}
    client = Answers(AirflowApiError(LOCKED), already, listed)
    assert client.create_backfill({"dag_id": "d"}) == ({"id": 4, "completed_at": None}, 1)


def test_any_other_refusal_is_raised_at_once():
    client = Answers(AirflowApiError("POST /api/v2/backfills -> 409: already running"), {"id": 7})
    with pytest.raises(AirflowApiError, match="409"):
        client.create_backfill({"dag_id": "scones_monitor"})
    assert client.asked == 1


def test_a_lock_that_outlasts_the_timeout_is_raised():
    client = Answers(AirflowApiError(LOCKED), AirflowApiError(LOCKED))
    with pytest.raises(AirflowApiError, match="503"):
        client.create_backfill({"dag_id": "scones_monitor"}, timeout=-1)
