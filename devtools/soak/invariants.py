"""What must hold after every simulated day, counted from what the pipeline left behind.

The :class:`Ledger` is what the soak did (photos it uploaded, labels it gave, what each monitor run
used); the counts come from the bucket on disk, the registry and Airflow's REST API — never from the
soak's own bookkeeping alone, so each invariant can fail.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from devtools.airflow_api import AirflowRestClient
from devtools.soak.retries import RetriedTry, retried_tries
from include.review import label_record
from include.run_keys import RUN_KEY_PROPERTY
from include.runtime.local.registry import LocalModelRegistry
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore
from include.workflows.training import quality_gate

ACTIVE_STATES = ("queued", "running")
RETRAIN_PREFIX = "monitor__"
DEPLOY_DAG = "scones_deploy"


@dataclass
class MonitorObservation:
    """One monitor run the soak created (or backfilled), with the baseline it used and the one serving then."""

    run_id: str
    interval: str
    backfill: bool
    in_episode: int | None
    state: str
    baseline_used: str | None
    serving_baseline: str | None
    action: str | None
    retrain_triggered: bool


@dataclass
class Ledger:
    """What the soak put into the world."""

    photos: dict[str, str] = field(default_factory=dict)          # courier photo URI -> true class
    labels: dict[str, str] = field(default_factory=dict)          # review URI -> the label that must stand
    monitor_runs: list[MonitorObservation] = field(default_factory=list)
    episodes_started: int = 0
    faults: list[dict[str, Any]] = field(default_factory=list)   # fault, where, what happened
    rollbacks_planned: int = 0                                    # retrained models planned to fail their bake
    rolled_back_deploys: list[tuple[str, str]] = field(default_factory=list)   # (dag, run) seen rolled back


@dataclass(frozen=True)
class Invariant:
    name: str
    value: int
    expected: int | str
    ok: bool
    detail: str = ""


def routed_counts(settings: Settings, store: ObjectStore) -> Counter:
    """Courier photo URI -> how many routing rows name it, over every interval's routing file."""
    counts: Counter = Counter()
    for info in store.list(settings.s3_uri(settings.prefixes.routing) + "/"):
        if info.uri.endswith("/routing.json"):
            counts.update(row["courier_photo"] for row in json.loads(store.get_bytes(info.uri))["routing"])
    return counts


def _task_states(client: AirflowRestClient, dag_id: str, run_id: str) -> dict[str, str]:
    return {ti["task_id"]: ti["state"] for ti in client.task_instances(dag_id, run_id) if ti.get("map_index", -1) < 0}


def training_runs(client: AirflowRestClient, store: ObjectStore) -> list[dict]:
    """Every scones_train run whose training job ran: its partition's content, hyperparameters and evaluation."""
    trained = []
    for run in client.runs("scones_train"):
        states = _task_states(client, "scones_train", run["dag_run_id"])
        if states.get("train") != "success":
            continue
        candidate = client.xcom("scones_train", run["dag_run_id"], "describe_trained_candidate")
        manifest = json.loads(store.get_bytes(candidate["partition"].rstrip("/") + "/manifest.json"))
        evaluation = None
        with contextlib.suppress(ObjectNotFoundError):
            evaluation = json.loads(store.get_bytes(
                candidate["model_url"].split("/training/")[0] + "/evaluation/evaluation.json"))
        trained.append({"run_id": run["dag_run_id"], "content": manifest.get("content_sha256"),
                        "hyperparameters": json.dumps(candidate.get("hyperparameters"), sort_keys=True),
                        "evaluation": evaluation, "register": states.get("promote.register_model")})
    return sorted(trained, key=lambda t: t["run_id"])


def drift_alerts_per_interval(settings: Settings) -> Counter:
    """Monitor run key -> how many drift alerts named it (``scones_monitor <run key>: ...``)."""
    from include.runtime.local.alerts import read_alerts

    counts: Counter = Counter()
    for alert in read_alerts(settings):
        first_line = alert.get("message", "").split("\n", 1)[0]
        if alert.get("subject", "").startswith("Scones drift") and first_line.startswith("scones_monitor "):
            counts[first_line.removeprefix("scones_monitor ").split(":", 1)[0]] += 1
    return counts


def active_runs(client: AirflowRestClient) -> list[dict]:
    """DAG runs still queued or running, over every DAG."""
    found = []
    for state in ACTIVE_STATES:
        found += client.get(f"/api/v2/dags/~/dagRuns?state={state}&limit=100")["dag_runs"]
    return found


def failed_runs(client: AirflowRestClient) -> list[dict]:
    return client.get("/api/v2/dags/~/dagRuns?state=failed&limit=100")["dag_runs"]


def failure_invariants(failed: list[dict], ledger: Ledger) -> list[Invariant]:
    """Failed DAG runs: only the deployments the fault plan rolled back (a rolled-back update fails its run).

    A rollback counts when the soak saw it happen: the deploy run failed and the endpoint kept its model.
    """
    expected = set(ledger.rolled_back_deploys)
    unexpected = [r for r in failed if (r["dag_id"], r["dag_run_id"]) not in expected]
    failed_deploys = [r for r in failed if r["dag_id"] == DEPLOY_DAG]
    return [
        Invariant("deployments rolled back", len(failed_deploys), ledger.rollbacks_planned,
                  len(failed_deploys) == ledger.rollbacks_planned == len(expected),
                  ", ".join(f"{dag} {run}" for dag, run in sorted(expected))),
        Invariant("DAG runs failed (rolled-back deployments expected)", len(failed), len(expected),
                  not unexpected and len(failed) == len(expected),
                  ", ".join(f"{r['dag_id']} {r['dag_run_id']}" for r in unexpected[:3])),
    ]


def retry_invariants(retried: list[RetriedTry]) -> list[Invariant]:
    """Tries that followed a failed try, and those whose failure was deterministic (never worth a retry)."""
    deterministic = [r for r in retried if r.kind == "deterministic"]
    kinds = Counter(r.kind for r in retried)
    return [
        Invariant("task tries retried", len(retried), "-", True,
                  ", ".join(f"{count} after a {kind} failure" for kind, count in sorted(kinds.items()))),
        Invariant("tasks retried after a deterministic failure", len(deterministic), 0, not deterministic,
                  "; ".join(f"{r.name}: {r.why}" for r in deterministic[:3])),
    ]


def check(settings: Settings, store: ObjectStore, client: AirflowRestClient, ledger: Ledger, *,
          final: bool) -> list[Invariant]:
    """Every invariant, counted now; ``final`` adds the ones that only hold once the calendar is over."""
    routed = routed_counts(settings, store)
    arrived = set(ledger.photos)
    once = sum(1 for uri in arrived if routed[uri] == 1)
    lost = sorted(uri for uri in arrived if routed[uri] == 0)
    twice = sorted(uri for uri in arrived if routed[uri] > 1)
    strangers = sorted(uri for uri in routed if uri not in arrived)

    observed = [m for m in ledger.monitor_runs if m.baseline_used is not None]
    wrong_baseline = [m.run_id for m in observed if m.baseline_used != m.serving_baseline]
    # A retrain is a scones_train run the monitor triggered (``monitor__<monitor run id>``), whichever run did.
    by_run = {m.run_id: m for m in ledger.monitor_runs}
    retrain_runs = [r["dag_run_id"].removeprefix(RETRAIN_PREFIX) for r in client.runs("scones_train")
                    if r["dag_run_id"].startswith(RETRAIN_PREFIX)]
    by_episode = Counter(by_run[run].in_episode if run in by_run else None for run in retrain_runs)
    outside = by_episode.pop(None, 0)
    backfill_retrains = sum(1 for run in retrain_runs if run.startswith("backfill__"))
    repeated = sum(count - 1 for count in by_episode.values() if count > 1)

    trained = training_runs(client, store)
    seen: set[tuple[str, str]] = set()
    unchanged = []
    for run in trained:
        inputs = (run["content"], run["hyperparameters"])
        if inputs in seen:
            unchanged.append(run["run_id"])
        seen.add(inputs)
    gate = settings.gate
    passed = [run for run in trained if run["evaluation"] is not None
              and quality_gate(run["evaluation"], gate.min_accuracy, gate.max_regression).passed]
    versions = LocalModelRegistry(settings).versions()
    version_keys = Counter(v.get("CustomerMetadataProperties", {}).get(RUN_KEY_PROPERTY) for v in versions)
    duplicates = sum(count - 1 for count in version_keys.values() if count > 1)

    lost_labels = []
    for review_uri, label in ledger.labels.items():
        record = label_record(store, review_uri)
        if record is None or record["label"] != label or not store.exists(record["labelled_uri"]):
            lost_labels.append(review_uri)
    alerts = drift_alerts_per_interval(settings)
    realerted = sorted(key for key, count in alerts.items() if count > 1)

    invariants = [
        Invariant("photos arrived", len(arrived), "-", True),
        Invariant("photos routed exactly once", once, len(arrived), once == len(arrived)),
        Invariant("photos lost (never routed)", len(lost), 0, not lost, ", ".join(lost[:3])),
        Invariant("photos routed twice or more", len(twice), 0, not twice, ", ".join(twice[:3])),
        Invariant("routing rows for photos that never arrived", len(strangers), 0, not strangers,
                  ", ".join(strangers[:3])),
        Invariant("monitor runs whose baseline was not the serving model's", len(wrong_baseline), 0,
                  not wrong_baseline, ", ".join(wrong_baseline[:3])),
        Invariant("drift episodes started", ledger.episodes_started, "-", True),
        Invariant("retrains triggered during drift episodes", sum(by_episode.values()),
                  ledger.episodes_started if final else f"<= {ledger.episodes_started}",
                  (set(by_episode) == set(range(ledger.episodes_started))) if final
                  else sum(by_episode.values()) <= ledger.episodes_started),
        Invariant("extra retrains in one episode", repeated, 0, repeated == 0),
        Invariant("retrains triggered outside drift episodes", outside, 0, outside == 0),
        Invariant("retrains triggered by backfilled intervals", backfill_retrains, 0, backfill_retrains == 0),
        Invariant("trainings on unchanged data", len(unchanged), 0, not unchanged, ", ".join(unchanged[:3])),
        Invariant("registry versions", len(versions), f"= gates passed ({len(passed)})", len(versions) == len(passed),
                  f"gates passed by {', '.join(r['run_id'] for r in passed)}"),
        Invariant("duplicate registry versions", duplicates, 0, duplicates == 0),
        Invariant("drift alerts sent", sum(alerts.values()), "-", True),
        Invariant("intervals alerted more than once", len(realerted), 0, not realerted, ", ".join(realerted[:3])),
        Invariant("labels lost", len(lost_labels), 0, not lost_labels, ", ".join(lost_labels[:3])),
        *failure_invariants(failed_runs(client), ledger),
        *retry_invariants(retried_tries(client)),
    ]
    if final:
        left = active_runs(client)
        invariants.append(Invariant("DAG runs left running or queued at the end", len(left), 0, not left,
                                    ", ".join(f"{r['dag_id']} {r['dag_run_id']}" for r in left[:3])))
    return invariants


def as_dicts(invariants: list[Invariant]) -> list[dict]:
    return [asdict(invariant) for invariant in invariants]
