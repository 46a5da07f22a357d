"""Settings for the monitoring workflow's tests: local defaults, or AWS with Model Monitor."""

from __future__ import annotations

import pytest

from include.code_bundle import code_version

MONITOR_REPOSITORY = "111122223333.dkr.ecr.us-east-1.amazonaws.com/scones-drift-analyzer"
MONITOR_IMAGE = f"{MONITOR_REPOSITORY}:{code_version('monitor')}"
"""The analyzer image as `make analyzer-image-tag` tags it: the code version the DAG uploads."""


@pytest.fixture
def aws_settings(scones_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """The ``aws`` runtime with Model Monitor on and the analyzer's image configured."""
    from include.settings import get_settings

    monkeypatch.setenv("SCONES_RUNTIME", "aws")
    monkeypatch.setenv("SCONES_MONITOR__USE_MODEL_MONITOR", "true")
    monkeypatch.setenv("SCONES_IMAGES__MONITOR_URI", MONITOR_IMAGE)
    get_settings.cache_clear()
    return get_settings()
