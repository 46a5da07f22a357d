"""The Scones Airflow plugin: template macros for run-derived names."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from include.run_keys import job_name, run_key


class SconesPlugin(AirflowPlugin):
    name = "scones"
    macros = [run_key, job_name]
