"""One real Airflow (``airflow standalone``: scheduler, API server, triggerer) for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from include.local_airflow import LocalAirflow


@pytest.fixture(scope="session")
def e2e_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A small synthetic CIFAR archive and the settings that point the pipeline at it."""
    from include.synthetic import write_cifar_archive

    root = tmp_path_factory.mktemp("e2e")
    archive = root / "cifar-100-python.tar.gz"
    md5 = write_cifar_archive(str(archive), seed=3, train_per_class=120, test_per_class=40)
    return {
        "SCONES_RUNTIME": "local",
        "SCONES_DATA_ROOT": str(root / "data"),
        "SCONES_CIFAR__SOURCE": str(archive),
        "SCONES_CIFAR__MD5": md5,
        "SCONES_POLL_INTERVAL_SECONDS": "1",
        "SCONES_TRAINING__EPOCHS": "3",
        "SCONES_TRAINING__SCHEDULE_ON_DATASET": "false",
        "SCONES_GATE__MIN_ACCURACY": "0.5",
        "SCONES_DEPLOY__LOCAL_SERVER_PORT": "0",
        "SCONES_INFERENCE__SCHEDULE": "none",
        "SCONES_MONITOR__SCHEDULE": "none",
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
        instance.stop()
