"""Plays the simulated calendar on a real local Airflow: couriers, reviewers, the operator and the faults.

Every run is created through the REST API for its own data interval (``logical_date`` = the interval's
start, with the interval given explicitly), so N simulated days take minutes. The endpoint writes Data
Capture on the wall clock, so each monitor run is given the real window its interval's inference ran in
(``window_start``/``window_end``, the monitor's manual-run params); its run key is still the interval's.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devtools.demo import TRUTHS, DemoScale, demo_environment, model_server_dir, synthetic_archive
from devtools.local_airflow import AirflowSizing, LocalAirflow, free_port
from devtools.soak import invariants, kills
from devtools.soak.invariants import Ledger, MonitorObservation
from devtools.soak.plan import (
    BACKFILL_OVER_DRIFT,
    CORRUPT_CAPTURE,
    ENDPOINT_ERROR_BURST,
    ENDPOINT_ERRORS,
    NEW_MODEL_ERROR,
    NO_NEW_DATA,
    RELABEL,
    ROLLBACK_DURING_DRIFT,
    SCHEDULER_KILL,
    TRAINING_JOB_KILL,
    WORKER_KILL,
    Interval,
    SoakPlan,
)
from include.runtime.local import model_server_faults
from include.runtime.local.store import LocalObjectStore
from include.settings import Settings, load_settings

SOAK_SCALE = DemoScale(train_per_class=200, test_per_class=50, epochs=12, min_accuracy=0.6)
DAGS = ("scones_ingest", "scones_train", "scones_deploy", "scones_inference", "scones_monitor")
PHOTO_SIZES = (96, 160)   # the model sees 32x32 whatever the size; rendering small photos keeps the soak fast
RUN_TIMEOUT = 1200
FAULT_FILE = "model_server_faults.json"
WORKER_KILL_TASK = "write_monitoring_report"   # the longest task of a monitor run
TRAINING_PROGRAM = "train.py"
IDLE_GIVE_UP_SECONDS = 20   # no run active this long (the Asset-triggered deploy is created within seconds)
PROBES = 5   # invocations the soak sends the retrained model during its bake, at most (the first error trips it)


def soak_environment(plan: SoakPlan, root: Path) -> dict[str, str]:
    """The demo's settings with the soak's calendar: compressed schedules, short heartbeat timeout, own data root."""
    archive, md5 = synthetic_archive(root, SOAK_SCALE)
    return {
        **demo_environment(archive, md5, SOAK_SCALE),
        "SCONES_DATA_ROOT": str(root / "data"),
        "SCONES_TRAINING__SCHEDULE_ON_DATASET": "true",   # the product's default: every partition may train
        "SCONES_INFERENCE__SCHEDULE": plan.schedule,
        "SCONES_MONITOR__SCHEDULE": plan.schedule,
        "SCONES_MONITOR__RETRAIN_COOLDOWN_HOURS": str(plan.cooldown_hours),
        "SCONES_POLL_INTERVAL_SECONDS": "1",
        "SCONES_DEPLOY__LOCAL_SERVER_PORT": "0",
        # The model server answers the burst the plan queues in this file (its test and soak facility).
        model_server_faults.FAULTS_VARIABLE: str(root / FAULT_FILE),
        # The soak's model is small (12 epochs on 400 images): photos it is this sure of are routed, and only a
        # shift of the photos (KS and distance checks), not its low label-free accuracy estimate, retrains.
        "SCONES_CONFIDENCE_THRESHOLD": "0.6",
        "SCONES_MONITOR__MIN_ESTIMATED_ACCURACY": "0.3",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    }


class Soak:
    """One soak: start Airflow, play every day of the plan, check the invariants after each, stop Airflow."""

    def __init__(self, plan: SoakPlan, root: Path, say: Callable[[str], None]) -> None:
        self.plan = plan
        self.root = root
        self.say = say
        self.env = soak_environment(plan, root)
        self.settings: Settings = load_settings(environ={**os.environ, **self.env})
        self.store = LocalObjectStore(self.settings.data_root)
        self.ledger = Ledger()
        self.airflow = LocalAirflow(root / "airflow", port=free_port(), extra_env=self.env,
                                    sizing=AirflowSizing.for_machine(), command="soak",
                                    model_server_dir=model_server_dir(self.settings))
        self.days: list[dict[str, Any]] = []
        self.pending_review: list[str] = []   # review prefixes whose photos the reviewers label next interval
        self.truth_by_name: dict[str, str] = {}
        self.backfills: list[int] = []
        self.rollback_watch: dict[str, Any] | None = None

    # --- Airflow ---------------------------------------------------------------------------------

    def trigger(self, dag_id: str, start: datetime, end: datetime | None = None, conf: dict | None = None) -> str:
        body: dict[str, Any] = {"logical_date": start.isoformat(), "conf": conf or {}}
        if end is not None:
            body.update(data_interval_start=start.isoformat(), data_interval_end=end.isoformat())
        return self.airflow.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def wait(self, dag_id: str, run_id: str) -> str:
        state = self.airflow.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
        if state != "success":
            self.say(f"{dag_id} {run_id} ended {state}")
        return state

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {ti["task_id"]: ti["state"] for ti in self.airflow.task_instances(dag_id, run_id)
                if ti.get("map_index", -1) < 0}

    def wait_idle(self, timeout: float = RUN_TIMEOUT) -> None:
        """Until no DAG run is queued or running (trainings and deployments the Assets started included)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not invariants.active_runs(self.airflow):
                return
            time.sleep(3)
        still = invariants.active_runs(self.airflow)
        raise TimeoutError(f"DAG runs still active after {timeout:.0f} s: "
                           + ", ".join(f"{r['dag_id']} {r['dag_run_id']}" for r in still))

    # --- couriers and reviewers -----------------------------------------------------------------

    def upload_photos(self, interval: Interval) -> None:
        from devtools.synthetic import write_courier_photos

        hours = [interval.start + timedelta(hours=h) for h in range(self.plan.interval_hours)]
        seed = self.plan.seed * 1000 + interval.day * 24 + interval.index
        with tempfile.TemporaryDirectory() as tmp:
            write_courier_photos(tmp, count=interval.photos, seed=seed, drift=interval.drift, size_range=PHOTO_SIZES)
            truths = json.loads((Path(tmp) / TRUTHS).read_text())
            for number, (name, vehicle) in enumerate(sorted(truths.items())):
                hour = hours[number % len(hours)]
                uri = self.settings.s3_uri(self.settings.prefixes.incoming_photos, f"{hour:%Y/%m/%d/%H}", name)
                self.store.upload_file(Path(tmp) / name, uri)
                self.ledger.photos[uri] = vehicle
                self.truth_by_name[name] = vehicle

    def label_pending(self) -> int:
        """Reviewers label what earlier intervals queued (labels arrive an interval later)."""
        from include.review import label_photo

        labelled = 0
        for prefix in self.pending_review:
            for info in self.store.list(prefix):
                name = info.uri.rsplit("/", 1)[-1]
                vehicle = self.truth_by_name.get(name)
                if vehicle is None or info.uri.endswith(".json"):
                    continue
                label_photo(self.settings, self.store, info.uri, vehicle, reviewer="soak-reviewer")
                self.ledger.labels[info.uri] = vehicle
                labelled += 1
        self.pending_review = []
        return labelled

    # --- faults ---------------------------------------------------------------------------------------

    def fault(self, name: str, where: str, outcome: str) -> None:
        self.ledger.faults.append({"fault": name, "where": where, "outcome": outcome})
        self.say(f"fault — {name} at {where}: {outcome}")

    def kill_scheduler_mid_run(self, dag_id: str, run_id: str, where: str) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            running = [ti["task_id"] for ti in self.airflow.task_instances(dag_id, run_id) if ti["state"] == "running"]
            if running:
                break
            time.sleep(0.5)
        else:
            self.fault(SCHEDULER_KILL, where, "no task started within 300 s; scheduler not killed")
            return
        pid = self.airflow.kill_component("scheduler")
        time.sleep(5)
        self.airflow.restart_component("scheduler")
        self.fault(SCHEDULER_KILL, where, f"scheduler pid {pid} killed while {', '.join(running)} ran; restarted "
                                          f"5 s later as pid {self.airflow.processes['scheduler'].pid}")

    def plan_endpoint_errors(self) -> None:
        model_server_faults.plan_answers(self.root / FAULT_FILE, list(ENDPOINT_ERROR_BURST))

    def endpoint_errors_served(self, where: str, run_id: str, state: str) -> None:
        path = self.root / FAULT_FILE
        served = model_server_faults.served_answers(path)
        left = model_server_faults.clear_answers(path)
        by_kind = Counter(f"{a['status']} {a['code']}" for a in served)
        self.fault(ENDPOINT_ERRORS, where, f"the model server answered {len(served)} of {len(ENDPOINT_ERROR_BURST)} "
                                           f"InvokeEndpoint calls with planned errors ("
                                           + ", ".join(f"{n} x {kind}" for kind, n in sorted(by_kind.items()))
                                           + f") during scones_inference {run_id}, which ended {state}"
                                           + (f"; {left} planned answers were never asked for" if left else ""))

    def watch_for_update(self, where: str, drift: str | None) -> dict[str, Any]:
        """Queue the new model's error and watch for its update in a thread, from before the monitor run.

        The drift's new model is the one trained after the monitor run asked for a retrain: by that run's
        retraining, or — when its data is unchanged until the reviewers' labels of the drifted photos are
        ingested — by the training the day's ingest starts. Only an invocation its update routes to it takes
        the planned error.
        """
        from include import runtime
        from include.runtime.local.serving import model_server_url

        model_server_faults.plan_answers(self.root / FAULT_FILE, [NEW_MODEL_ERROR])
        self.ledger.rollbacks_planned += 1
        name = self.settings.deploy.endpoint_name
        watch: dict[str, Any] = {
            "where": where, "name": name, "url": model_server_url(self.settings), "stop": threading.Event(),
            "answers": [], "shifting": None, "before": runtime.served_models(self.settings).served_model(name),
            "deploys_before": {run["dag_run_id"] for run in self.airflow.runs("scones_deploy")}}
        watch["thread"] = threading.Thread(target=self.probe_when_shifting, args=(watch, drift),
                                           name="rollback-probe", daemon=True)
        watch["thread"].start()
        return watch

    def probe_when_shifting(self, watch: dict[str, Any], drift: str | None) -> None:
        from include.runtime.local.model_server_control import describe_endpoint

        deadline = time.monotonic() + RUN_TIMEOUT
        while not watch["stop"].is_set() and time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                shifting = describe_endpoint(watch["url"], watch["name"]).get("traffic_shifting")
                if shifting:
                    watch["shifting"] = shifting
                    watch["answers"] = self.probe_update(watch["url"], watch["name"], drift)
                    return
            time.sleep(0.2)

    def roll_back_retrained_model(self, watch: dict[str, Any]) -> None:
        """Once the retraining and its deployment are over: the endpoint must serve the model it served before.

        No inference runs during the bake (the next interval waits for the deployment): the soak's probe
        invocations are the traffic the alarm watches.
        """
        from include import runtime
        from include.runtime.local.model_server_control import describe_endpoint

        thread, url, name, where = watch["thread"], watch["url"], watch["name"], watch["where"]
        busy = time.monotonic()
        deadline = busy + RUN_TIMEOUT
        while thread.is_alive() and time.monotonic() < deadline:
            if invariants.active_runs(self.airflow):
                busy = time.monotonic()
            elif time.monotonic() - busy > IDLE_GIVE_UP_SECONDS:
                break   # the retraining ended without an update (its gate failed, or it skipped)
            time.sleep(1)
        watch["stop"].set()
        thread.join(timeout=60)
        self.wait_idle()
        left = model_server_faults.clear_answers(self.root / FAULT_FILE)
        before, after = watch["before"], runtime.served_models(self.settings).served_model(name)
        new_deploys = [run for run in self.airflow.runs("scones_deploy")
                       if run["dag_run_id"] not in watch["deploys_before"]]
        failure = describe_endpoint(url, name).get("failure_reason") or ""
        kept = before is not None and after is not None and after.model_package_arn == before.model_package_arn
        for run in new_deploys:
            if run["state"] == "failed" and kept and "rolled back" in failure:
                self.ledger.rolled_back_deploys.append(("scones_deploy", run["dag_run_id"]))
        shifting = watch["shifting"]
        self.fault(ROLLBACK_DURING_DRIFT, where,
                   (f"the retrained model's update to {shifting['config_name']} answered "
                    + ", ".join(watch["answers"]) + " during its bake" if shifting else
                    "no blue/green update seen (no training passed its gate after the drift)")
                   + "; scones_deploy " + (", ".join(f"{r['dag_run_id']} ended {r['state']}" for r in new_deploys)
                                           or "did not run")
                   + f"; the endpoint serves {after.model_package_arn if after else None}"
                   + (" as before" if kept else f", not {before.model_package_arn if before else None}")
                   + (f" ({failure[:160]})" if failure else "")
                   + (f"; {left} planned answer(s) never asked for" if left else ""))

    def probe_update(self, url: str, name: str, drift: str | None) -> list[str]:
        """Invoke the endpoint with courier photos while the update shifts traffic; what each call answered.

        The photos are rendered for the probe (not uploaded): no courier photo is classified twice.
        """
        import urllib.error
        import urllib.request

        from devtools.synthetic import write_courier_photos
        from include.runtime.local.model_server_control import describe_endpoint

        answers: list[str] = []
        with tempfile.TemporaryDirectory() as tmp:
            write_courier_photos(tmp, count=PROBES, seed=self.plan.seed, drift=drift, size_range=PHOTO_SIZES)
            for name_on_disk in sorted(json.loads((Path(tmp) / TRUTHS).read_text())):
                if not describe_endpoint(url, name).get("traffic_shifting"):
                    break
                kind = "image/png" if name_on_disk.endswith(".png") else "image/jpeg"
                request = urllib.request.Request(
                    f"{url}/endpoints/{name}/invocations", data=(Path(tmp) / name_on_disk).read_bytes(),
                    headers={"Content-Type": kind, "Accept": "application/json"}, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        answers.append(f"{response.status} from "
                                       f"{response.headers.get('x-Amzn-Invoked-Production-Variant')}")
                except urllib.error.HTTPError as error:
                    body = json.loads(error.read() or b"{}")
                    answers.append(f"{error.code} {body.get('__type')} (original status "
                                   f"{body.get('OriginalStatusCode')})")
                    break
        return answers

    def kill_task_process(self, dag_id: str, run_id: str, task_id: str) -> str:
        """kill -9 of the task's process as soon as it runs; says what was killed."""
        running = kills.running_task(self.airflow, dag_id, run_id, task_id, timeout=300)
        if running is None:
            return f"{task_id} never ran within 300 s (or ended first); nothing killed"
        if not kills.kill_9(running.pid, self.airflow.home):
            return f"{task_id} try {running.try_number} (pid {running.pid}) ended before it could be killed"
        return f"killed {dag_id}.{task_id} try {running.try_number} (pid {running.pid}) mid-run"

    def task_outcome(self, dag_id: str, run_id: str, task_id: str) -> str:
        ti = next((ti for ti in self.airflow.task_instances(dag_id, run_id)
                   if ti["task_id"] == task_id and ti.get("map_index", -1) < 0), {})
        return f"the task ended {ti.get('state')} on try {ti.get('try_number')}"

    def kill_training_job(self, where: str) -> None:
        """kill -9 of the first training job's program mid-run; its task is retried and trains again."""
        from include.runtime.local.job_records import LocalJobRegistry
        from include.runtime.local.store import local_work_root

        deadline = time.monotonic() + 300
        runs: list[dict] = []
        while not runs and time.monotonic() < deadline:
            runs = self.airflow.runs("scones_train")
            time.sleep(0.5)
        run_id = runs[0]["dag_run_id"] if runs else ""
        running = kills.running_task(self.airflow, "scones_train", run_id, "train", timeout=300) if runs else None
        program = kills.job_program(running.pid, TRAINING_PROGRAM, timeout=120) if running else None
        if running is None or program is None:
            self.fault(TRAINING_JOB_KILL, where, "no training program seen running within 300 s; nothing killed")
            return
        time.sleep(3)   # mid-run: the program has loaded its data and is training
        if not kills.kill_9(program, self.airflow.home):
            self.fault(TRAINING_JOB_KILL, where, f"the training program (pid {program}) ended before it was killed")
            return
        self.wait_idle()
        jobs = LocalJobRegistry(local_work_root(self.settings), "training")
        described = [jobs.describe(folder.name) for folder in sorted(jobs.root.iterdir())] if jobs.root.is_dir() else []
        self.fault(TRAINING_JOB_KILL, where, f"killed the training program (pid {program}) of scones_train {run_id} "
                                              f"train try {running.try_number} 3 s into its job; "
                                              + self.task_outcome("scones_train", run_id, "train") + "; jobs: "
                                              + ", ".join(f"{d['TrainingJobName']} {d['TrainingJobStatus']}"
                                                          + (f" ({d['FailureReason'][:70]})"
                                                             if d.get("FailureReason") else "")
                                                          for d in described if d))

    def corrupt_capture_file(self, where: str) -> str:
        from include.workflows.monitoring.layout import capture_prefix

        now = datetime.now(UTC)
        uri = f"{capture_prefix(self.settings)}{now:%Y/%m/%d/%H}/{now:%M-%S}-000-soak-corrupt.jsonl"
        self.store.put_bytes(uri, b'{"captureData": {"endpointInput": {"data": "\x00\xff not json\n{{{\n')
        self.fault(CORRUPT_CAPTURE, where, f"wrote {uri}")
        return uri

    def relabel(self, where: str) -> None:
        """A photo labelled wrongly, relabelled by a lead, then labelled once more by a third reviewer."""
        from include.review import AlreadyLabelledError, label_photo, label_record

        queued = [info.uri for prefix in self.pending_review for info in self.store.list(prefix)
                  if not info.uri.endswith(".json") and info.uri.rsplit("/", 1)[-1] in self.truth_by_name]
        if not queued:
            self.fault(RELABEL, where, "no queued photo to relabel")
            return
        uri = queued[0]
        truth = self.truth_by_name[uri.rsplit("/", 1)[-1]]
        wrong = "motorcycle" if truth == "bicycle" else "bicycle"
        label_photo(self.settings, self.store, uri, wrong, reviewer="soak-reviewer")
        label_photo(self.settings, self.store, uri, truth, reviewer="soak-lead", relabel=True)
        try:
            label_photo(self.settings, self.store, uri, wrong, reviewer="soak-third")
            refused = "accepted (the relabel was overwritten)"
        except AlreadyLabelledError:
            refused = "refused with AlreadyLabelledError"
        self.ledger.labels[uri] = truth
        record = label_record(self.store, uri) or {}
        earlier = len(record.get("history", []))
        self.fault(RELABEL, where, f"{uri.rsplit('/', 1)[-1]}: {wrong} then relabelled {truth}; a third label was "
                                   f"{refused}; standing label {record.get('label')} with {earlier} earlier in its "
                                   "history")

    def backfill_over_drift(self, where: str) -> None:
        episode = self.plan.episodes[0]
        first = self.plan.intervals(episode.first_day)[0].start
        last = self.plan.intervals(episode.last_day)[-1].start
        refusals = 0
        for dag_id in ("scones_inference", "scones_monitor"):
            backfill, refused = self.airflow.create_backfill({
                "dag_id": dag_id, "from_date": first.isoformat(), "to_date": last.isoformat(),
                "max_active_runs": 2, "reprocess_behavior": "completed"})
            refusals += refused
            self.backfills.append(backfill["id"])
        self.fault(BACKFILL_OVER_DRIFT, where, f"backfills {self.backfills[-2:]} of scones_inference and "
                                               f"scones_monitor over {first:%Y-%m-%d %H}:00 to {last:%Y-%m-%d %H}:00 "
                                               "(reprocessing completed runs) while this interval's runs go on; "
                                               f"{refusals} creation(s) refused with 503 (SQLite locked) first")

    # --- the calendar ---------------------------------------------------------------------------------

    def play_interval(self, interval: Interval) -> None:
        where = interval.name
        if NO_NEW_DATA in interval.faults:
            self.fault(NO_NEW_DATA, where, "no photos and no labels all day")
        no_data = interval.day == self.plan.no_data_day()
        if interval.photos:
            self.upload_photos(interval)
        if RELABEL in interval.faults:
            self.relabel(where)
        labelled = 0 if no_data else self.label_pending()
        window_start = datetime.now(UTC)
        if ENDPOINT_ERRORS in interval.faults:
            self.plan_endpoint_errors()
        run_id = self.trigger("scones_inference", interval.start, interval.end)
        if BACKFILL_OVER_DRIFT in interval.faults:
            self.backfill_over_drift(where)
        if SCHEDULER_KILL in interval.faults:
            self.kill_scheduler_mid_run("scones_inference", run_id, where)
        state = self.wait("scones_inference", run_id)
        if ENDPOINT_ERRORS in interval.faults:
            self.endpoint_errors_served(where, run_id, state)
        routing = self.airflow.xcom("scones_inference", run_id, "write_routing") if state == "success" else None
        if routing and routing.get("review_prefix"):
            self.pending_review.append(routing["review_prefix"])
        if CORRUPT_CAPTURE in interval.faults:
            self.corrupt_capture_file(where)
        window_end = datetime.now(UTC) + timedelta(seconds=1)
        if ROLLBACK_DURING_DRIFT in interval.faults:
            self.rollback_watch = self.watch_for_update(where, interval.drift)
        self.monitor(interval, window_start, window_end)
        self.say(f"{where}: {interval.photos} photos{f' ({interval.drift})' if interval.drift else ''}, "
                 f"inference {state} {json.dumps(routing['counts']) if routing else ''}, {labelled} labels given")

    def monitor(self, interval: Interval, start: datetime, end: datetime) -> None:
        from include import runtime
        from include.deployed_model import NoModelDeployedError
        from include.workflows.monitoring.baseline import baseline_for_serving_model

        run_id = self.trigger("scones_monitor", interval.start, interval.end,
                              conf={"window_start": start.isoformat(), "window_end": end.isoformat()})
        killed = self.kill_task_process("scones_monitor", run_id, WORKER_KILL_TASK) \
            if WORKER_KILL in interval.faults else None
        state = self.wait("scones_monitor", run_id)
        if killed is not None:
            outcome = self.task_outcome("scones_monitor", run_id, WORKER_KILL_TASK)
            self.fault(WORKER_KILL, interval.name, f"{killed}; {outcome}; the run ended {state}")
        states = self.task_states("scones_monitor", run_id)
        used = None
        if states.get("find_baseline") == "success":
            used = self.airflow.xcom("scones_monitor", run_id, "find_baseline")
        try:
            serving = baseline_for_serving_model(self.settings, runtime.served_models(self.settings),
                                                 runtime.model_registry(self.settings), self.store)
        except NoModelDeployedError:
            serving = None
        action = None
        if states.get("decide_action") == "success":
            action = self.airflow.xcom("scones_monitor", run_id, "decide_action")["action"]
        episode = next((n for n, e in enumerate(self.plan.episodes) if e.covers(interval.day)), None)
        self.ledger.monitor_runs.append(MonitorObservation(
            run_id, interval.name, False, episode, state, used, serving, action,
            states.get("trigger_retraining") == "success"))
        self.say(f"{interval.name}: monitor {state}, decision {action}")

    def ingest(self, logical_date: datetime) -> str:
        run_id = self.trigger("scones_ingest", logical_date)
        state = self.wait("scones_ingest", run_id)
        if state == "success":
            partition = self.airflow.xcom("scones_ingest", run_id, "publish_partition")
            self.say(f"ingest {logical_date:%Y-%m-%d}: {partition['partition']} {json.dumps(partition['counts'])}")
        return state

    def start(self) -> None:
        self.say(f"starting Airflow (home {self.airflow.home}, logs {self.airflow.log_dir})")
        self.airflow.start()
        self.airflow.ensure_pool(self.settings.sagemaker_pool, 2)
        for dag_id in DAGS:
            self.airflow.wait_for_dag(dag_id)
            self.airflow.unpause(dag_id)

    def first_model(self) -> None:
        """Day zero: ingest, the Asset-triggered training, then the Asset-triggered deployment."""
        self.ingest(self.plan.day_start(0) - timedelta(days=1))
        self.kill_training_job("day 0 (the first model)")
        self.wait_idle()
        from include import runtime

        served = runtime.served_models(self.settings).served_model(self.settings.deploy.endpoint_name)
        if served is None:
            raise SystemExit("the first model was not deployed: see the scones_train and scones_deploy runs "
                             f"under {self.airflow.home}/logs")
        self.say(f"serving {served.model_package_arn}")

    def play(self) -> dict[str, Any]:
        started = time.monotonic()
        self.start()
        try:
            self.first_model()
            for day in range(self.plan.days):
                day_started = time.monotonic()
                if any(e.first_day == day for e in self.plan.episodes):
                    self.ledger.episodes_started += 1
                for interval in self.plan.intervals(day):
                    self.play_interval(interval)
                self.ingest(self.plan.day_start(day + 1))
                if self.rollback_watch is not None:   # the drifted day's new model deploys after its ingest
                    self.roll_back_retrained_model(self.rollback_watch)
                    self.rollback_watch = None
                for backfill in self.backfills:
                    self.airflow.wait_for_backfill(backfill, timeout=RUN_TIMEOUT)
                self.wait_idle()
                self.backfills = []
                final = day == self.plan.days - 1
                checked = invariants.check(self.settings, self.store, self.airflow, self.ledger, final=final)
                self.days.append({"day": day + 1, "seconds": round(time.monotonic() - day_started, 1),
                                  "invariants": invariants.as_dicts(checked)})
                failing = [i.name for i in checked if not i.ok]
                self.say(f"day {day + 1} checked in {time.monotonic() - day_started:.0f} s: "
                         + (f"FAILING {', '.join(failing)}" if failing else "every invariant holds"))
            return self.summary(time.monotonic() - started)
        except Exception as stopped:  # the days checked so far still go in the report, marked as failed
            self.say(f"the soak stopped early: {stopped.__class__.__name__}: {stopped}")
            return {**self.summary(time.monotonic() - started), "passed": False,
                    "error": f"{stopped.__class__.__name__}: {stopped}"}
        finally:
            for dag_id in DAGS:
                with contextlib.suppress(Exception):
                    self.airflow.pause(dag_id)
            self.airflow.stop()

    def summary(self, seconds: float) -> dict[str, Any]:
        runs: dict[str, int] = {}
        with contextlib.suppress(Exception):
            runs = {dag_id: len(self.airflow.runs(dag_id)) for dag_id in DAGS}
        return {"plan": {**asdict(self.plan), "schedule": self.plan.schedule,
                         "no_data_day": self.plan.no_data_day() + 1, "backfill_day": self.plan.backfill_day() + 1},
                "database": "sqlite", "wall_seconds": round(seconds, 1), "dag_runs": runs,
                "faults": self.ledger.faults, "monitor_runs": [asdict(m) for m in self.ledger.monitor_runs],
                "days": self.days, "error": None,
                "passed": bool(self.days) and all(i["ok"] for day in self.days for i in day["invariants"])}

