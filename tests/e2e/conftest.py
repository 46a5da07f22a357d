"""One real Airflow (``airflow standalone``: scheduler, API server, triggerer) for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.demo import DemoScale, demo_environment, synthetic_archive
from devtools.local_airflow import LocalAirflow

SMALL = DemoScale(train_per_class=120, test_per_class=40, epochs=3, normal_photos=6, drifted_photos=10,
                  extra_labelled_drifted=40, held_out_drifted=30, min_accuracy=0.5)


@pytest.fixture(scope="session")
def e2e_scale() -> DemoScale:
    return SMALL


@pytest.fixture(scope="session")
def e2e_data(tmp_path_factory: pytest.TempPathFactory, e2e_scale: DemoScale) -> dict[str, str]:
    """A small synthetic CIFAR archive and the demo's settings pointed at a temporary data root."""
    root = tmp_path_factory.mktemp("e2e")
    archive, md5 = synthetic_archive(root, e2e_scale)
    return {
        **demo_environment(archive, md5, e2e_scale),
        "SCONES_DATA_ROOT": str(root / "data"),
        "SCONES_INGEST__SCHEDULE": "@daily",
        "SCONES_POLL_INTERVAL_SECONDS": "1",
        "SCONES_DEPLOY__LOCAL_SERVER_PORT": "0",
    }


@pytest.fixture(scope="session")
def airflow(e2e_data: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAirflow]:
    home = Path(tmp_path_factory.mktemp("airflow-home"))
    instance = LocalAirflow(home, extra_env=e2e_data)
    instance.start()
    try:
        instance.ensure_pool("sagemaker_jobs", 2)
        yield instance
    finally:
        from include.runtime.local.model_server_control import stop_server

        stop_server(Path(e2e_data["SCONES_DATA_ROOT"]) / ".work" / "model-server")
        instance.stop()
