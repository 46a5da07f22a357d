"""The whole lifecycle offline, through a real Airflow scheduler (``make demo``).

ingest → train → (Asset) deploy → inference on courier photos → drifted photos → review and
label → ingest again → monitor detects drift and triggers retraining → (Asset) deploy —
then both models are scored on held-out drifted photos.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.home_lock import DEFAULT_HOME
from devtools.local_airflow import AirflowSizing, LocalAirflow, free_port
from devtools.processes import StopRequested
from devtools.training_progress import TrainingProgress
from include.runtime.local.store import LocalObjectStore, local_work_root
from include.settings import PROJECT_ROOT, Settings, load_settings
from include.web.links import HEALTH_UI_ROUTE, UI_ROUTE

DEMO_HOME = DEFAULT_HOME
TRUTHS = "labels.json"
TRAINING_TASKS = {"scones_train": "train", "scones_tune": "tune"}
LONG_DECIMAL = re.compile(r"(?<![\w.:])-?\d+\.\d{4,}")


@dataclass(frozen=True)
class DemoScale:
    """How much data and training the demo uses (the end-to-end test runs a smaller one)."""

    train_per_class: int = 500
    test_per_class: int = 100
    epochs: int = 15
    normal_photos: int = 24
    drifted_photos: int = 32
    extra_labelled_drifted: int = 480
    held_out_drifted: int = 120
    min_accuracy: float = 0.75


def say(message: str) -> None:
    """One timestamped progress line; figures with more than three decimals are rounded to three."""
    readable = LONG_DECIMAL.sub(lambda match: f"{float(match[0]):.3f}", message)
    try:
        print(f"[{datetime.now(UTC):%H:%M:%S}] {readable}", flush=True)
    except OSError:  # the terminal is gone (SIGHUP): keep stopping, silently
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115


def rounded(value: Any, digits: int = 3) -> Any:
    """``value`` with every float rounded, for printing."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {key: rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(item, digits) for item in value]
    return value


def model_server_dir(settings: Settings) -> Path:
    """Where the local model server a deploy task starts keeps its PID and state."""
    from include.runtime.local.serving import MODEL_SERVER_FOLDER  # imports Airflow: only when needed

    return local_work_root(settings) / MODEL_SERVER_FOLDER


def local_airflow(settings: Settings, home: Path, port: int, env: dict[str, str], command: str) -> LocalAirflow:
    """The local Airflow of ``make demo`` and ``make airflow``: bound, sized and owned as the settings say."""
    return LocalAirflow(home, port=port, extra_env=env, bind_host=settings.local.bind_host,
                        sizing=AirflowSizing.for_machine(settings.local.parallelism),
                        model_server_dir=model_server_dir(settings), command=command)


def synthetic_archive(data_root: Path, scale: DemoScale = DemoScale()) -> tuple[Path, str]:
    """The generated CIFAR-format archive the demo ingests (made once per scale, reused)."""
    from devtools.synthetic import write_cifar_archive

    path = data_root / "synthetic" / f"{scale.train_per_class}-{scale.test_per_class}" / "cifar-100-python.tar.gz"
    md5_file = path.with_suffix(".md5")
    if not (path.exists() and md5_file.exists()):
        path.parent.mkdir(parents=True, exist_ok=True)
        say(f"generating the synthetic CIFAR-100-format archive at {path}")
        md5_file.write_text(write_cifar_archive(str(path), seed=0, train_per_class=scale.train_per_class,
                                                test_per_class=scale.test_per_class))
    return path, md5_file.read_text().strip()


def demo_environment(archive: Path, md5: str, scale: DemoScale = DemoScale()) -> dict[str, str]:
    """Settings overrides: the synthetic archive; the demo triggers ingest and the first training itself."""
    return {
        "SCONES_RUNTIME": "local",
        "SCONES_CIFAR__SOURCE": str(archive),
        "SCONES_CIFAR__MD5": md5,
        "SCONES_INGEST__SCHEDULE": "none",
        "SCONES_TRAINING__SCHEDULE_ON_DATASET": "false",
        "SCONES_TRAINING__EPOCHS": str(scale.epochs),
        "SCONES_GATE__MIN_ACCURACY": str(scale.min_accuracy),
        "SCONES_POLL_INTERVAL_SECONDS": "2",
        "SCONES_DEPLOY__BAKE_MINUTES": "0.25",  # the retrained model's update bakes 15 s, not the default 5 min
    }


class Lifecycle:
    """Drives the DAGs through the REST API and plays the roles around them (couriers, reviewers)."""

    def __init__(self, airflow: LocalAirflow, settings: Settings, scale: DemoScale,
                 review_by_hand: bool = False) -> None:
        self.airflow = airflow
        self.settings = settings
        self.scale = scale
        self.review_by_hand = review_by_hand
        self.store = LocalObjectStore(settings.data_root)
        self.summary: dict[str, Any] = {}

    # --- Airflow --------------------------------------------------------------------------

    def run(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None) -> str:
        self.airflow.wait_for_dag(dag_id)
        self.airflow.unpause(dag_id)
        run_id = self.airflow.trigger(dag_id, conf=conf, logical_date=logical_date)
        say(f"triggered {dag_id} ({run_id})")
        return self.finish(dag_id, run_id)

    def finish(self, dag_id: str, run_id: str) -> str:
        training = TRAINING_TASKS.get(dag_id)
        follower = TrainingProgress(self.airflow.home, dag_id, run_id, training, say) if training else None
        state = self.airflow.wait_for_run(dag_id, run_id, progress=say, on_poll=follower.poll if follower else None)
        if state != "success":
            raise SystemExit(f"{dag_id} run {run_id} ended {state}; task logs are under {self.airflow.home}/logs")
        return run_id

    def backfill_hour(self, dag_id: str, hour: datetime) -> str:
        self.airflow.wait_for_dag(dag_id)
        self.airflow.unpause(dag_id)
        known = {r["dag_run_id"] for r in self.airflow.runs(dag_id)}
        backfill, _ = self.airflow.create_backfill({
            "dag_id": dag_id, "from_date": hour.isoformat(), "to_date": hour.isoformat(),
            "max_active_runs": 1, "reprocess_behavior": "completed",
        })
        say(f"backfilling {dag_id} for the hour {hour:%Y-%m-%d %H}:00")
        run_id = self.finish(dag_id, self.new_run(dag_id, known, run_type="backfill"))
        self.airflow.wait_for_backfill(backfill["id"])
        return run_id

    def new_run(self, dag_id: str, known: set[str], run_type: str | None = None, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for run in self.airflow.runs(dag_id):
                if run["dag_run_id"] not in known and (run_type is None or run["run_type"] == run_type):
                    return run["dag_run_id"]
            time.sleep(2)
        raise SystemExit(f"no new {dag_id} run appeared within {timeout:.0f} s")

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        return self.airflow.xcom(dag_id, run_id, task_id)

    # --- couriers and reviewers --------------------------------------------------------------

    def courier_photos(self, hour: datetime, count: int, seed: int, drift: str | None) -> dict[str, str]:
        """Couriers upload photos during ``hour``; returns photo key → true class."""
        from devtools.synthetic import write_courier_photos

        with tempfile.TemporaryDirectory() as tmp:
            write_courier_photos(tmp, count=count, seed=seed, drift=drift)
            truths = json.loads((Path(tmp) / TRUTHS).read_text())
            prefix = f"{self.settings.prefixes.incoming_photos}/{hour:%Y/%m/%d/%H}"
            placed = {}
            for name, vehicle in truths.items():
                key = f"{prefix}/{name}"
                self.store.upload_file(Path(tmp) / name, f"s3://{self.settings.bucket}/{key}")
                placed[key] = vehicle
        return placed

    def label_review_queue(self, review_queue: list[str], truths: dict[str, str]) -> int:
        """Reviewers label every photo the run routed to human review (the `label` CLI's path)."""
        from include.review import label_photo

        labelled = 0
        for uri in review_queue:
            name = uri.rsplit("/", 1)[-1]
            vehicle = next((v for key, v in truths.items() if key.endswith("/" + name)), None)
            if vehicle and not uri.endswith(".json"):
                label_photo(self.settings, self.store, uri, vehicle)
                labelled += 1
        return labelled

    def label_directly(self, count: int, seed: int, drift: str) -> int:
        """A larger sample the review team labelled by hand, dropped under incoming/labelled/<class>/."""
        from devtools.synthetic import write_courier_photos

        with tempfile.TemporaryDirectory() as tmp:
            write_courier_photos(tmp, count=count, seed=seed, drift=drift)
            for name, vehicle in json.loads((Path(tmp) / TRUTHS).read_text()).items():
                uri = self.settings.s3_uri(self.settings.prefixes.incoming_labelled, vehicle, name)
                self.store.upload_file(Path(tmp) / name, uri)
        return count

    # --- the story ------------------------------------------------------------------------------

    def ingest(self, label: str) -> dict:
        run_id = self.run("scones_ingest")
        partition = self.xcom("scones_ingest", run_id, "publish_partition")
        say(f"ingest ({label}) published {partition['partition']}: {json.dumps(partition['counts'])}"
            + (f", {partition['quarantined']} quarantined" if partition["quarantined"] else ""))
        return partition

    def report_training(self, run_id: str) -> dict:
        """What a training run produced: its candidate, evaluation, gate decision and registered version."""
        from include.workflows.training import quality_gate

        candidate = self.xcom("scones_train", run_id, "describe_trained_candidate")
        evaluation = json.loads(self.store.get_bytes(
            candidate["model_url"].split("/training/")[0] + "/evaluation/evaluation.json"))
        metrics, matrix = evaluation["metrics"], evaluation["confusion_matrix"]
        champion = evaluation.get("champion")
        say(f"candidate model: test accuracy {metrics['accuracy']:.3f}, ECE {metrics['ece']:.3f}, "
            f"precision {json.dumps(rounded(metrics['precision']))}, recall {json.dumps(rounded(metrics['recall']))}"
            + (f"; champion re-scored on the same split {champion['accuracy']:.3f}" if champion else ""))
        say(f"confusion matrix (rows true, columns predicted) {matrix['labels']}: {matrix['matrix']}")
        gate = self.settings.gate
        decision = quality_gate(evaluation, gate.min_accuracy, gate.max_regression)
        states = {t["task_id"]: t["state"] for t in self.airflow.task_instances("scones_train", run_id)}
        version = None
        if states.get("promote.register_model") == "success":
            version = self.xcom("scones_train", run_id, "promote.register_model")
            say(f"quality gate passed ({decision.reason}); registered model version {version['version']} "
                f"({version['approval_status']})")
        else:
            say(f"quality gate refused the model: {decision.reason}")
        return {"candidate": candidate, "evaluation": metrics, "version": version}

    def wait_for_deploy(self, known: set[str]) -> None:
        run_id = self.finish("scones_deploy", self.new_run("scones_deploy", known))
        say(f"deployed: {json.dumps(rounded(self.xcom('scones_deploy', run_id, 'record_endpoint')))}")

    def classify(self, hour: datetime, count: int, seed: int, drift: str | None) -> tuple[dict, dict[str, str]]:
        truths = self.courier_photos(hour, count, seed, drift)
        run_id = self.backfill_hour("scones_inference", hour)
        routing = self.xcom("scones_inference", run_id, "write_routing")
        rows = json.loads(self.store.get_bytes(routing["routing_uri"]))["routing"]
        bucket_prefix = f"s3://{self.settings.bucket}/"
        correct = sum(1 for r in rows if truths.get(r["courier_photo"].removeprefix(bucket_prefix)) == r["vehicle"])
        say(f"routing for {hour:%Y-%m-%d %H}:00 ({drift or 'normal'} photos): {rounded(routing['counts'])}; "
            f"{correct}/{len(rows)} classified correctly (the rest wrong or sent to review); "
            f"routing file {routing['routing_uri']}")
        return routing, truths

    def score_on_drifted(self, old_model_url: str, new_model_url: str) -> dict[str, float]:
        """Both models' accuracy on held-out drifted photos, with the evaluation program."""
        from devtools.synthetic import write_courier_photos

        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_courier_photos(root / "raw", count=self.scale.held_out_drifted, seed=99, drift="night")
            for name, vehicle in json.loads((root / "raw" / TRUTHS).read_text()).items():
                (root / "test" / vehicle).mkdir(parents=True, exist_ok=True)
                shutil.copy(root / "raw" / name, root / "test" / vehicle / name)
            for label, model_url in (("old", old_model_url), ("new", new_model_url)):
                (root / label).mkdir()
                self.store.download_file(model_url, root / label / "model.tar.gz")
            subprocess.run([sys.executable, str(PROJECT_ROOT / "programs" / "model" / "evaluate.py"),
                            "--model-dir", str(root / "new"), "--champion-dir", str(root / "old"),
                            "--test-dir", str(root / "test"), "--output-dir", str(root / "out")],
                           check=True, capture_output=True)
            report = json.loads((root / "out" / "evaluation.json").read_text())
        return {"old": report["champion"]["accuracy"], "new": report["metrics"]["accuracy"]}

    def monitor(self, start: datetime, end: datetime) -> dict:
        """Run the monitor over the captured traffic of ``[start, end)`` and report its decision."""
        run_id = self.run("scones_monitor", conf={"window_start": start.isoformat(), "window_end": end.isoformat()})
        decision = self.xcom("scones_monitor", run_id, "decide_action")
        report = self.xcom("scones_monitor", run_id, "write_monitoring_report")
        reasons = "; ".join(decision["reasons"][:3]) or "no violation acted on"
        say(f"monitor over {start:%H:%M:%S} to {end:%H:%M:%S}: {decision['action']} — {reasons}")
        say(f"monitoring report: {self.settings.data_root / report.removeprefix('s3://')}")
        return {**decision, "report": report}

    def story(self) -> dict[str, Any]:
        scale = self.scale
        self.airflow.ensure_pool(self.settings.sagemaker_pool, 2)
        self.ingest("CIFAR-format base")
        known_deploys: set[str] = set()
        self.airflow.wait_for_dag("scones_deploy")
        self.airflow.unpause("scones_deploy")
        first = self.report_training(self.run("scones_train", conf={"reason": "initial model"}))
        if first["version"] is None:
            raise SystemExit("the first model did not pass the quality gate; nothing to deploy")
        self.wait_for_deploy(known_deploys)
        known_deploys = {r["dag_run_id"] for r in self.airflow.runs("scones_deploy")}

        yesterday = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        normal_started = datetime.now(UTC) - timedelta(seconds=5)
        self.classify(yesterday.replace(hour=9), scale.normal_photos, seed=1, drift=None)
        capture = self.settings.data_root / self.settings.bucket / self.settings.prefixes.capture
        say(f"Data Capture files (SageMaker's layout) under {capture}")
        drift_started = datetime.now(UTC)
        normal_decision = self.monitor(normal_started, drift_started)
        routing, truths = self.classify(yesterday.replace(hour=10), scale.drifted_photos, seed=2, drift="night")
        queued = [info.uri for info in self.store.list(routing["review_prefix"]) if not info.uri.endswith(".json")]
        extra = self.label_directly(scale.extra_labelled_drifted, seed=3, drift="night")
        if self.review_by_hand:
            say(f"{len(queued)} night photos wait in the review queue for you: "
                f"{self.airflow.url}/plugin/{UI_ROUTE}; {extra} more night-time photos were labelled by hand")
        else:
            reviewed = self.label_review_queue(queued, truths)
            say(f"reviewers labelled {reviewed} photos from the review queue (`label PHOTO CLASS`) "
                f"and {extra} more night-time photos by hand")
        self.ingest("with the labelled night-time photos")

        known_trains = {r["dag_run_id"] for r in self.airflow.runs("scones_train")}
        decision = self.monitor(drift_started, datetime.now(UTC) + timedelta(minutes=1))
        result: dict[str, Any] = {"first_version": first["version"], "normal_decision": normal_decision,
                                  "monitor_decision": decision}
        if decision["action"] != "retrain":
            say("the monitor did not ask for retraining")
            return result
        retrain_run = self.finish("scones_train", self.new_run("scones_train", known_trains))
        second = self.report_training(retrain_run)
        result["second_version"] = second["version"]
        if second["version"] is not None and second["version"]["approval_status"] == "Approved":
            self.wait_for_deploy(known_deploys)
        scores = self.score_on_drifted(first["candidate"]["model_url"], second["candidate"]["model_url"])
        say(f"accuracy on {scale.held_out_drifted} held-out night-time photos: "
            f"old model {scores['old']:.3f}, retrained model {scores['new']:.3f}")
        result["drifted_accuracy"] = scores
        return result


def pause_all(airflow: LocalAirflow) -> list[str]:
    """Pause every DAG, so that nothing runs by itself after the demo; returns the ones it paused."""
    paused = []
    for dag in airflow.dags():
        if not dag["is_paused"]:
            airflow.pause(dag["dag_id"])
            paused.append(dag["dag_id"])
    return paused


def run_demo(keep_running: bool = False, scale: DemoScale = DemoScale(), home: Path = DEMO_HOME,
             extra_env: dict[str, str] | None = None, port: int | None = None,
             command: str = "demo") -> dict[str, Any]:
    """Start Airflow, play the lifecycle, pause the DAGs, stop everything it started; returns what happened."""
    data_root = load_settings(environ={**os.environ, **(extra_env or {})}).data_root
    archive, md5 = synthetic_archive(data_root, scale)
    env = {**demo_environment(archive, md5, scale), **(extra_env or {})}
    settings = load_settings(environ={**os.environ, **env})
    started = time.monotonic()
    airflow = local_airflow(settings, home, port or free_port(), env, command)
    say(f"starting Airflow (home {home}, component logs {airflow.log_dir}, "
        f"{airflow.sizing.parallelism} tasks at once)")
    airflow.start()
    try:
        say(f"Airflow is up at {airflow.url} after {time.monotonic() - started:.0f} s")
        result = Lifecycle(airflow, settings, scale, review_by_hand=keep_running).story()
        say(f"lifecycle finished in {time.monotonic() - started:.0f} s; data under {settings.data_root}")
        say(f"model health: {airflow.url}/plugin/{HEALTH_UI_ROUTE}")
        paused = pause_all(airflow)
        say(f"paused {', '.join(paused) or 'no DAG'}: nothing runs by itself until you unpause a DAG in the UI")
        if keep_running:
            say(f"Airflow keeps running at {airflow.url} — Ctrl-C (or `make stop` from another shell) stops it. "
                f"Label the night photos in the review queue ({airflow.url}/plugin/{UI_ROUTE}), then trigger "
                "scones_ingest to learn from them")
            while True:
                time.sleep(3600)
        return result
    except (KeyboardInterrupt, StopRequested) as interruption:
        say(f"interrupted ({interruption.__class__.__name__} {interruption}): stopping")
        return {}
    finally:
        with contextlib.suppress(Exception):  # a failed or interrupted demo leaves nothing unpaused either
            pause_all(airflow)
        say("stopping the local model server and Airflow")
        survivors = airflow.stop()
        say("stopped" + (f"; processes that survived SIGKILL: {survivors}" if survivors else ""))
