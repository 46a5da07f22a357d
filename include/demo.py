"""The offline lifecycle, end to end, through a real Airflow scheduler (``make demo``)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from include.local_airflow import LocalAirflow
from include.settings import PROJECT_ROOT, get_settings

DEMO_HOME = PROJECT_ROOT / ".airflow"


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def synthetic_archive(data_root: Path) -> tuple[Path, str]:
    """The generated CIFAR-format archive the demo ingests (made once, reused)."""
    from include.synthetic import write_cifar_archive

    path = data_root / "synthetic" / "cifar-100-python.tar.gz"
    md5_file = path.with_suffix(".md5")
    if not (path.exists() and md5_file.exists()):
        path.parent.mkdir(parents=True, exist_ok=True)
        say(f"generating the synthetic CIFAR-100-format archive at {path}")
        md5_file.write_text(write_cifar_archive(str(path), seed=0))
    return path, md5_file.read_text().strip()


def demo_environment(archive: Path, md5: str) -> dict[str, str]:
    """Settings overrides for the demo: the synthetic archive, and no schedules (the demo triggers)."""
    return {
        "SCONES_RUNTIME": "local",
        "SCONES_CIFAR__SOURCE": str(archive),
        "SCONES_CIFAR__MD5": md5,
        "SCONES_INGEST__SCHEDULE": "none",
        "SCONES_POLL_INTERVAL_SECONDS": "2",
    }


def run_dag(airflow: LocalAirflow, dag_id: str, logical_date: str | None = None, conf: dict | None = None) -> str:
    airflow.wait_for_dag(dag_id)
    airflow.unpause(dag_id)
    run_id = airflow.trigger(dag_id, conf=conf, logical_date=logical_date)
    say(f"triggered {dag_id} ({run_id})")
    state = airflow.wait_for_run(dag_id, run_id, progress=say)
    if state != "success":
        raise SystemExit(f"{dag_id} run {run_id} ended {state}; see the task logs under {airflow.home}/logs "
                         f"or run `make airflow` and open the UI")
    return run_id


def run_demo(keep_running: bool = False) -> None:
    settings = get_settings()
    started = time.monotonic()
    archive, md5 = synthetic_archive(settings.data_root)
    airflow = LocalAirflow(DEMO_HOME, extra_env=demo_environment(archive, md5))
    say(f"starting Airflow (home {DEMO_HOME}, log {airflow.log_path})")
    airflow.start()
    try:
        say(f"Airflow is up at {airflow.url}")
        airflow.ensure_pool(settings.sagemaker_pool, settings.sagemaker_pool_slots)
        yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        run_id = run_dag(airflow, "scones_ingest", logical_date=yesterday.isoformat())
        partition = airflow.xcom("scones_ingest", run_id, "publish_partition")
        say("ingest published partition " + partition["partition"])
        print(json.dumps(partition["counts"], indent=2))
        say(f"lifecycle finished in {time.monotonic() - started:.0f} s; data under {settings.data_root}")
        if keep_running:
            say(f"Airflow keeps running at {airflow.url} — Ctrl-C stops it")
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        say("stopping Airflow")
        airflow.stop()
