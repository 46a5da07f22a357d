"""One Airflow (API server and scheduler) with real users for the human-in-the-loop end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.hitl.airflow_users import AirflowWithUsers, start_airflow_with_users
from tests.hitl.health_world import HealthWorld, build_health_world


@pytest.fixture(scope="session")
def airflow_with_users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowWithUsers]:
    root = tmp_path_factory.mktemp("hitl")
    env = {
        "SCONES_RUNTIME": "local",
        "SCONES_DATA_ROOT": str(root / "data"),
        "SCONES_POLL_INTERVAL_SECONDS": "1",
        "SCONES_REGISTRY__APPROVAL_TIMEOUT_HOURS": "1",
        "SCONES_REVIEW__PAGE_SIZE": "50",
    }
    instance = start_airflow_with_users(root, env)
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="session")
def health_world(airflow_with_users: AirflowWithUsers, tmp_path_factory: pytest.TempPathFactory) -> HealthWorld:
    """The records the model-health view reads, written into the running Airflow's data root."""
    return build_health_world(airflow_with_users.settings, tmp_path_factory.mktemp("health-world"))
