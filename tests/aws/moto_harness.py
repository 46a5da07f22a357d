"""Run a Scones DAG in ``aws`` mode with ``dag.test()`` against a moto server, recording its requests.

How it works: a ``moto_server`` process on a free port stands in for AWS. Each DAG run is a
fresh Python process (``python -m tests.aws.run_dag_aws``) with its own ``AIRFLOW_HOME``
(a copy of a metadata DB migrated once per test session), fake credentials, and
``AWS_ENDPOINT_URL`` plus the ``aws_default`` connection's ``endpoint_url`` pointing at moto,
so boto3 (operators, hooks, the object store) and aiobotocore (the provider's deferrable
triggers) both talk to it. In that process a recorder attached to every botocore session
lists each request's service, operation, parameters and transport; scenario functions can
answer or amend chosen calls and simulate what moto lacks (a job still running at first
look, a job's output files).

What a passing run proves: the DAG runs end to end in ``aws`` mode through the Amazon
provider's real operators and triggers (deferral included); every request is well-formed
enough for botocore and moto to accept; the requests carry the run-derived names, tags and
URIs; idempotency across re-runs works against an emulated API that keeps state.

Every run's requests are also checked against the template's IAM policies (:mod:`tests.aws.iam_check`):
the tasks' calls against the MWAA execution role, what the jobs they create do against the SageMaker role.

What it does not prove: trust policies, resource policies and IAM conditions, that a job really runs (no
container starts, its outputs are simulated), that the container images exist or work,
service quotas and limits moto does not enforce, networking (VPC, endpoints, KMS), real
timing and eventual consistency, or costs.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from devtools.local_airflow import free_port
from include.settings import PROJECT_ROOT
from tests.aws.iam_check import assert_permitted, evaluate_run
from tests.support.stack import stack_environment

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_INHERITED_PREFIXES_DROPPED = ("AWS_", "AIRFLOW", "SCONES_", "BOTO_")
# The stack's own ARNs in moto's account, as its SconesEnvironment output gives them.
STACK_ARNS = {name: value for name, value in stack_environment().items()
              if name in ("SCONES_SAGEMAKER_ROLE_ARN", "SCONES_INFERENCE__STATE_MACHINE_ARN")}


def _stop_process_group(process: subprocess.Popen, grace: float = 10) -> None:
    """Terminate the process we started (and its group, which it leads), then kill what is left."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(grace)


@dataclass
class MotoServer:
    """A ``moto_server`` subprocess on 127.0.0.1; ``stop()`` ends it by its PID."""

    port: int
    process: subprocess.Popen
    log_path: Path

    @classmethod
    def start(cls, log_path: Path, timeout: float = 30) -> MotoServer:
        port = free_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        server = cls(port, process, log_path)
        try:
            server._wait_ready(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"moto_server exited ({self.process.returncode}): {tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto_server not ready on {self.url} after {timeout} s")

    def client(self, service: str) -> Any:
        """A boto3 client of the emulated account, for setting a run up and checking its effects."""
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        aws_session_token="testing", region_name=REGION)
        return session.client(service, endpoint_url=self.url)

    def reset(self) -> None:
        """Forget every resource (moto's reset API), so each test starts from an empty account."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        _stop_process_group(self.process)


def aws_mode_environment(moto_url: str, airflow_home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A DAG-run process's environment: its own Airflow home, fake credentials, every client at moto."""
    inherited = {k: v for k, v in os.environ.items() if not k.upper().startswith(_INHERITED_PREFIXES_DROPPED)}
    connection = {"conn_type": "aws", "extra": {"endpoint_url": moto_url, "region_name": REGION}}
    env = {
        **inherited,
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        **STACK_ARNS,
        "SCONES_ENV_FILE": "",
        "SCONES_RUNTIME": "aws",
        "SCONES_REGION": REGION,
        "SCONES_POLL_INTERVAL_SECONDS": "1",
        "SCONES_DATA_ROOT": str(airflow_home / "unused-data-root"),
        "SCONES_INFERENCE__DEADLINE_MINUTES": "0",  # dag.test() cannot finish a run of a DAG with a deadline
    }
    env.update(extra or {})
    return env


def migrate_airflow_db(template_home: Path, timeout: float = 300) -> Path:
    """Migrate a metadata DB into ``template_home`` once; returns the DB file runs copy."""
    database = template_home / "airflow.db"
    if database.is_file():
        return database
    template_home.mkdir(parents=True, exist_ok=True)
    env = aws_mode_environment("http://127.0.0.1:9", template_home)
    airflow = str(Path(sys.executable).with_name("airflow"))
    log_path = template_home / "db-migrate.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([airflow, "db", "migrate"], env=env, cwd=PROJECT_ROOT, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            returncode = process.wait(timeout)
        finally:
            _stop_process_group(process)
    if returncode != 0 or not database.is_file():
        raise RuntimeError(f"airflow db migrate failed ({returncode}): {log_path.read_text()[-3000:]}")
    return database


@dataclass(frozen=True)
class RecordedRequest:
    service: str
    operation: str
    params: dict[str, Any]
    transport: str  # "botocore" (operators, hooks, object store) or "aiobotocore" (triggers)


@dataclass
class DagRunResult:
    run_id: str
    run_type: str
    dag_run_state: str
    task_states: dict[str, str | None]
    requests: list[RecordedRequest]
    triggers: list[dict[str, Any]]
    log_path: Path

    def calls(self, service: str, operation: str, transport: str | None = None) -> list[RecordedRequest]:
        return [r for r in self.requests if r.service == service and r.operation == operation
                and (transport is None or r.transport == transport)]

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]


Setup = Callable[[MotoServer], None]


@dataclass
class AwsHarness:
    """A moto server, a migrated metadata DB and a work folder: everything a DAG run needs."""

    moto: MotoServer
    airflow_db: Path
    work_root: Path
    runs: int = field(default=0)

    def run_dag(self, dag_id: str, logical_date: datetime, env: Mapping[str, str] | None = None,
                setup: Setup | None = None, scenarios: Sequence[str] = (), run_type: str = "scheduled",
                timeout: float = 300) -> DagRunResult:
        self.runs += 1
        return run_dag_in_aws_mode(dag_id, logical_date, env, setup, harness=self, scenarios=scenarios,
                                   run_type=run_type, run_dir=self.work_root / f"run-{self.runs:02d}-{dag_id}",
                                   timeout=timeout)


def run_dag_in_aws_mode(dag_id: str, logical_date: datetime, env: Mapping[str, str] | None = None,
                        setup: Setup | None = None, *, harness: AwsHarness, run_dir: Path,
                        scenarios: Sequence[str] = (), run_type: str = "scheduled",
                        timeout: float = 300) -> DagRunResult:
    """Run ``dag_id`` for ``logical_date`` with ``dag.test()`` in a fresh process in ``aws`` mode.

    ``setup(moto)`` prepares the emulated account first; ``scenarios`` are ``module:function``
    names the run process calls with its recorder (see :mod:`tests.aws.run_dag_aws`);
    ``run_type`` is "scheduled" (keyed by the logical date, as the scheduler's runs are) or "manual".
    """
    home = run_dir / "airflow-home"
    home.mkdir(parents=True, exist_ok=False)
    shutil.copyfile(harness.airflow_db, home / "airflow.db")
    if setup is not None:
        setup(harness.moto)
    output = run_dir / "result.json"
    log_path = run_dir / "dag-test.log"
    command = [sys.executable, "-m", "tests.aws.run_dag_aws", dag_id, logical_date.isoformat(),
               "--output", str(output), "--run-type", run_type]
    for scenario in scenarios:
        command += ["--scenario", scenario]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=aws_mode_environment(harness.moto.url, home, env), cwd=PROJECT_ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            returncode = process.wait(timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            _stop_process_group(process)
    if returncode != 0 or not output.is_file():
        tail = log_path.read_text(errors="replace")[-6000:]
        raise AssertionError(f"DAG run process for {dag_id} ended with {returncode}; log {log_path}:\n{tail}")
    data = json.loads(output.read_text())
    result = DagRunResult(
        run_id=data["run_id"],
        run_type=data["run_type"],
        dag_run_state=data["dag_run_state"],
        task_states=data["task_states"],
        requests=[RecordedRequest(**r) for r in data["requests"]],
        triggers=data["triggers"],
        log_path=log_path,
    )
    environment = aws_mode_environment(harness.moto.url, home, env)
    assert_permitted(evaluate_run(result.requests, environment, dag_id), log_path)
    return result
