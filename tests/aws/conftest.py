"""Fixtures for DAG runs in ``aws`` mode against a moto server (see :mod:`tests.aws.moto_harness`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.aws.moto_harness import AwsHarness, MotoServer


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer.start(tmp_path_factory.mktemp("moto") / "moto_server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def aws_harness(moto_server: MotoServer, airflow_db_template: Path,
                tmp_path_factory: pytest.TempPathFactory) -> AwsHarness:
    """An empty emulated account and a work folder for one test module's DAG runs."""
    moto_server.reset()
    return AwsHarness(moto=moto_server, airflow_db=airflow_db_template, work_root=tmp_path_factory.mktemp("aws-runs"))
