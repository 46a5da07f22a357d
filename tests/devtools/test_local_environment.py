"""What the local environment says and how it sizes itself: schedules on start, figures, exports, workers."""

from __future__ import annotations

from devtools.demo import say
from devtools.local_airflow import AirflowSizing, airflow_environment
from devtools.local_environment import schedule_summary
from devtools.processes import MARKER


class FakeDags:
    def __init__(self, dags: list[dict]) -> None:
        self._dags = dags

    def dags(self) -> list[dict]:
        return self._dags


def _dag(dag_id: str, summary: str | None, description: str, paused: bool = True, next_run: str | None = None):
    return {"dag_id": dag_id, "timetable_summary": summary, "timetable_description": description,
            "is_paused": paused, "next_dagrun_run_after": next_run}


def test_start_names_what_runs_by_itself_what_waits_paused_and_what_only_runs_when_triggered():
    lines = schedule_summary(FakeDags([
        _dag("scones_inference", "0 * * * *", "Every hour", paused=False, next_run="2026-12-01T21:00:00Z"),
        _dag("scones_ingest", "0 0 * * *", "At 00:00"),
        _dag("scones_deploy", "Asset", "Triggered by assets"),
        _dag("scones_tune", None, "Never, external triggers only"),
    ]))
    assert lines == [
        "will run by themselves on their schedule: scones_inference (every hour, 0 * * * *, "
        "next after 2026-12-01T21:00 UTC)",
        "paused (unpause one in the UI to let it run on its schedule): scones_deploy (on its Asset's updates), "
        "scones_ingest (at 00:00, 0 0 * * *)",
        "run only when triggered: scones_tune",
    ]


def test_all_paused_says_nothing_runs_by_itself():
    lines = schedule_summary(FakeDags([_dag("scones_ingest", "0 0 * * *", "At 00:00")]))
    assert lines[0] == "nothing runs by itself: every scheduled DAG is paused"


def test_progress_lines_round_long_figures_and_keep_run_ids(capsys):
    say("accuracy 0.9166666666666666 of manual__2026-12-01T21:07:24.661758+00:00, version 2.13.0")
    assert capsys.readouterr().out.endswith(
        "accuracy 0.917 of manual__2026-12-01T21:07:24.661758+00:00, version 2.13.0\n")


def test_parallelism_follows_the_cpu_count_unless_set():
    assert AirflowSizing.for_machine(cpus=2).parallelism == 4
    assert AirflowSizing.for_machine(cpus=8).parallelism == 16
    assert AirflowSizing.for_machine(parallelism_setting=3, cpus=8).parallelism == 3
    assert AirflowSizing.for_machine(cpus=8).parsing_processes == 2


def test_airflow_binds_loopback_and_reaches_tasks_logs_there_unless_opened(tmp_path):
    local = airflow_environment(tmp_path, 18080)
    assert local["AIRFLOW__API__HOST"] == "127.0.0.1" and local[MARKER] == str(tmp_path.resolve())
    assert local["AIRFLOW__CORE__HOSTNAME_CALLABLE"].endswith("loopback_hostname")
    opened = airflow_environment(tmp_path, 18080, bind_host="0.0.0.0")
    assert opened["AIRFLOW__API__HOST"] == "0.0.0.0"
    assert opened["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert "AIRFLOW__CORE__HOSTNAME_CALLABLE" not in opened


def test_env_exports_what_points_the_airflow_cli_at_the_local_instance_but_not_the_marker(
    tmp_path, monkeypatch, capsys
):
    from devtools.cli import main

    monkeypatch.setenv("SCONES_CIFAR__SOURCE", str(tmp_path / "cifar.tar.gz"))
    main(["env", "--home", str(tmp_path / "home")])
    exports = dict(line.removeprefix("export ").split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert exports["AIRFLOW_HOME"] == str(tmp_path / "home")
    assert exports["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")
    assert MARKER not in exports


def test_the_process_marker_is_not_taken_for_a_setting(tmp_path):
    from include.settings import load_settings

    environment = airflow_environment(tmp_path, 8080)
    settings = load_settings(environ={name: value for name, value in environment.items()
                                      if name.startswith("SCONES_")})
    assert settings.runtime == "local"
