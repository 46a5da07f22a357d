"""Fixtures every test may use: isolated settings, data root and fake AWS credentials."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
# Tests read no developer .env: the settings tests pass their own env_file.
os.environ.setdefault("SCONES_ENV_FILE", "")
os.environ.setdefault("SCONES_DATA_ROOT", str(Path(os.environ.get("TMPDIR", "/tmp")) / "scones-test-data"))


@pytest.fixture
def scones_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Settings read from the environment this test sets, with a fresh data root."""
    from include.settings import get_settings

    env = {"SCONES_DATA_ROOT": str(tmp_path / "data"), "SCONES_RUNTIME": "local",
           "SCONES_POLL_INTERVAL_SECONDS": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


@pytest.fixture
def settings(scones_env: dict[str, str]):
    from include.settings import get_settings

    return get_settings()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The IAM evaluations' counts per role, when the session evaluated any."""
    import sys

    report = sys.modules.get("tests.support.iam_report")
    if report is not None and (report.EVALUATIONS or report.POLICY_CHECKS):
        terminalreporter.section("IAM: every request checked against its role's policy in the template")
        for line in report.summary_lines():
            terminalreporter.write_line(line)
@pytest.fixture(scope="session")
def airflow_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow metadata DB migrated once per test session; each DAG run home gets its own copy."""
    from tests.aws.moto_harness import migrate_airflow_db

    return migrate_airflow_db(tmp_path_factory.mktemp("airflow-db-template"))
