"""The Airflow Assets that chain the workflows: a dataset partition, then an approved model."""

from __future__ import annotations

from airflow.sdk import Asset

from include.settings import get_settings

_settings = get_settings()

DATASET = Asset(name="scones_dataset", uri=_settings.s3_uri(_settings.prefixes.datasets) + "/")
APPROVED_MODEL = Asset(name="scones_approved_model", uri=_settings.s3_uri(_settings.prefixes.registry) + "/")
