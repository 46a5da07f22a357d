"""Run a CreateTrainingJob request on this machine under SageMaker's training container contract.

Channels are copied to ``/opt/ml/input/data/<channel>``, the config files SageMaker writes go
to ``/opt/ml/input/config``, the script-mode source is unpacked to ``/opt/ml/code`` and the
entry point runs as the sagemaker-training toolkit runs it: ``python train.py --name value ...``
with the toolkit's ``SM_*`` environment (every ``/opt/ml`` path remapped under the job folder).
Metrics are parsed from the log with the request's own MetricDefinitions; on success
``model.tar.gz`` and ``output.tar.gz`` are uploaded to ``<S3OutputPath>/<job>/output/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from include.runtime.capabilities import JobFailedError
from include.runtime.local.container import (
    ContainerPaths,
    local_command,
    program_failure_reason,
    run_container_process,
)
from include.runtime.local.job_records import LocalJobRegistry, now_iso
from include.storage import ObjectStore, download_prefix, upload_directory

HOST = "algo-1"
CODE_DIR = "/opt/ml/code"
MODEL_DIR = "/opt/ml/model"
INPUT_DIR = "/opt/ml/input"
INPUT_CONFIG_DIR = "/opt/ml/input/config"
OUTPUT_DIR = "/opt/ml/output"
OUTPUT_DATA_DIR = "/opt/ml/output/data"
OUTPUT_INTERMEDIATE_DIR = "/opt/ml/output/intermediate"
DEFAULT_CHECKPOINT_DIR = "/opt/ml/checkpoints"
METRIC_SERIES_FILE = "metric_series.json"
FRAMEWORK_MODULE = "sagemaker_pytorch_container.training:main"


class TrainingJobError(JobFailedError):
    """A local training job failed; the message carries SageMaker's FailureReason."""


class _JobFailure(Exception):
    """A failure detected before or after the program runs (its message is the FailureReason)."""


@dataclass
class MetricParser:
    """Applies a job's MetricDefinitions to each log line, as SageMaker does with the CloudWatch log."""

    definitions: list[dict[str, str]]
    series: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._patterns = [(d["Name"], re.compile(d["Regex"])) for d in self.definitions]

    def observe(self, line: str) -> None:
        for name, pattern in self._patterns:
            match = pattern.search(line)
            if match is None:
                continue
            try:
                value = float(match.group(1) if pattern.groups else match.group(0))
            except ValueError:
                continue
            self.series.append({"MetricName": name, "Value": value, "Timestamp": now_iso()})

    def final_metrics(self) -> list[dict]:
        """The last value of every metric seen (SageMaker's FinalMetricDataList)."""
        last: dict[str, dict] = {}
        for point in self.series:
            last[point["MetricName"]] = point
        return list(last.values())


def decode_hyperparameter(raw: str) -> object:
    """The toolkit's reading of a hyperparameters.json value: JSON when it parses, else the string."""
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def toolkit_value(value: object) -> str:
    """How the toolkit renders a value in an ``SM_*`` variable."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def toolkit_cli_args(hyperparameters: dict[str, object]) -> list[str]:
    """``--name value`` pairs sorted by name, values as ``str()`` (the toolkit's ``to_cmd_args``)."""
    args: list[str] = []
    for name in sorted(hyperparameters):
        value = hyperparameters[name]
        rendered = ",".join(f"{k}={v}" for k, v in sorted(value.items())) if isinstance(value, dict) else str(value)
        args += [f"--{name}" if len(name) > 1 else f"-{name}", rendered]
    return args


def user_hyperparameters(request: dict) -> dict[str, object]:
    """Decoded hyperparameters without the ``sagemaker_*`` entries the container itself consumes."""
    decoded = {name: decode_hyperparameter(raw) for name, raw in request.get("HyperParameters", {}).items()}
    return {name: value for name, value in decoded.items() if not name.startswith("sagemaker_")}


def container_hyperparameter(request: dict, name: str) -> str:
    raw = request.get("HyperParameters", {}).get(name)
    if raw is None:
        raise _JobFailure(f"ClientError: hyperparameter {name} is missing: script-mode training needs "
                          "sagemaker_program and sagemaker_submit_directory (see builders.training)")
    return str(decode_hyperparameter(raw))


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def resource_config(request: dict) -> dict:
    instance_type = request["ResourceConfig"]["InstanceType"]
    return {
        "current_host": HOST,
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": [HOST],
        "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": instance_type,
                             "hosts": [HOST]}],
        "network_interface_name": "eth0",
    }


def input_data_config(request: dict) -> dict:
    return {
        channel["ChannelName"]: {
            **({"ContentType": channel["ContentType"]} if "ContentType" in channel else {}),
            "TrainingInputMode": channel.get("InputMode", request["AlgorithmSpecification"]["TrainingInputMode"]),
            "S3DistributionType": channel["DataSource"]["S3DataSource"].get(
                "S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        for channel in request.get("InputDataConfig", [])
    }


def write_config_files(request: dict, paths: ContainerPaths) -> None:
    """hyperparameters.json, inputdataconfig.json, resourceconfig.json (and checkpointconfig.json)."""
    config_dir = paths.path(INPUT_CONFIG_DIR)
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "hyperparameters.json").write_text(json.dumps(request.get("HyperParameters", {})))
    (config_dir / "inputdataconfig.json").write_text(json.dumps(input_data_config(request)))
    (config_dir / "resourceconfig.json").write_text(json.dumps(resource_config(request)))
    if "CheckpointConfig" in request:
        (config_dir / "checkpointconfig.json").write_text(json.dumps(request["CheckpointConfig"]))


def toolkit_environment(request: dict, paths: ContainerPaths, num_cpus: int) -> dict[str, str]:
    """The ``SM_*`` environment the sagemaker-training toolkit gives a script-mode entry point."""
    hyperparameters = user_hyperparameters(request)
    channels = sorted(c["ChannelName"] for c in request.get("InputDataConfig", []))
    program = container_hyperparameter(request, "sagemaker_program")
    log_level = decode_hyperparameter(request["HyperParameters"].get("sagemaker_container_log_level", "20"))
    values: dict[str, object] = {
        "hosts": [HOST],
        "network_interface_name": "eth0",
        "hps": hyperparameters,
        "user_entry_point": program,
        "framework_params": {},
        "resource_config": resource_config(request),
        "input_data_config": input_data_config(request),
        "output_data_dir": paths.remap(OUTPUT_DATA_DIR),
        "channels": channels,
        "current_host": HOST,
        "current_instance_type": request["ResourceConfig"]["InstanceType"],
        "module_name": program.removesuffix(".py"),
        "log_level": log_level,
        "framework_module": FRAMEWORK_MODULE,
        "input_dir": paths.remap(INPUT_DIR),
        "input_config_dir": paths.remap(INPUT_CONFIG_DIR),
        "output_dir": paths.remap(OUTPUT_DIR),
        "num_cpus": num_cpus,
        "num_gpus": 0,
        "model_dir": paths.remap(MODEL_DIR),
        "module_dir": container_hyperparameter(request, "sagemaker_submit_directory"),
        "user_args": toolkit_cli_args(hyperparameters),
        "output_intermediate_dir": paths.remap(OUTPUT_INTERMEDIATE_DIR),
    }
    values["training_env"] = {k: v for k, v in values.items() if k != "user_args"}
    values.update({f"channel_{name}": paths.remap(f"{INPUT_DIR}/data/{name}") for name in channels})
    values.update({f"hp_{name}": value for name, value in hyperparameters.items()})
    env = {f"SM_{name.upper()}": toolkit_value(value) for name, value in values.items()}
    if "CheckpointConfig" in request:
        # The toolkit has no such variable; the program reads it because /opt/ml/checkpoints is remapped here.
        env["SM_CHECKPOINT_DIR"] = paths.remap(request["CheckpointConfig"].get("LocalPath", DEFAULT_CHECKPOINT_DIR))
    env.update({key: paths.remap(value) for key, value in request.get("Environment", {}).items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def download_channels(request: dict, store: ObjectStore, paths: ContainerPaths, log: Callable[[str], None]) -> None:
    """Copy every channel to ``/opt/ml/input/data/<channel>``; an empty channel fails the job as on SageMaker."""
    for channel in request.get("InputDataConfig", []):
        name = channel["ChannelName"]
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        files = download_prefix(store, uri, paths.path(f"{INPUT_DIR}/data/{name}"))
        if not files:
            raise _JobFailure(f"ClientError: channel '{name}' has no S3 objects under {uri}: "
                              "publish the dataset partition there or point the channel at one that exists")
        log(f"channel {name}: {len(files)} file(s) from {uri}")


def unpack_source(request: dict, store: ObjectStore, paths: ContainerPaths) -> Path:
    """Extract ``sourcedir.tar.gz`` into ``/opt/ml/code``, refusing members that would land outside it."""
    uri = container_hyperparameter(request, "sagemaker_submit_directory")
    code_dir = paths.path(CODE_DIR)
    code_dir.mkdir(parents=True, exist_ok=True)
    archive = paths.path(f"{INPUT_DIR}/sourcedir.tar.gz")
    try:
        store.download_file(uri, archive)
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(code_dir, filter="data")
    except (KeyError, FileNotFoundError) as exc:
        raise _JobFailure(f"ClientError: source archive {uri} not found: upload it with "
                          "builders.training.upload_training_source") from exc
    except (tarfile.TarError, OSError) as exc:
        raise _JobFailure(f"ClientError: source archive {uri} is unusable ({exc}): "
                          "rebuild it with code_bundle.source_tarball") from exc
    finally:
        archive.unlink(missing_ok=True)
    program = container_hyperparameter(request, "sagemaker_program")
    if not (code_dir / program).is_file():
        raise _JobFailure(f"ClientError: entry point {program} is not in {uri}: set sagemaker_program to a file "
                          "at the archive's top level")
    return code_dir


def failure_file_reason(paths: ContainerPaths) -> str:
    failure = paths.path(f"{OUTPUT_DIR}/failure")
    return failure.read_text().strip() if failure.is_file() else ""


def tar_directory(directory: Path, archive: Path) -> Path:
    """A ``tar.gz`` of the directory's contents, members relative to it (as SageMaker packs model.tar.gz)."""
    directory.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=path.relative_to(directory).as_posix(), recursive=False)
    return archive


def upload_artifacts(request: dict, store: ObjectStore, paths: ContainerPaths, job_dir: Path) -> str:
    """Upload model.tar.gz and output.tar.gz to ``<S3OutputPath>/<job>/output/``; returns the model URI."""
    prefix = f"{request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{request['TrainingJobName']}/output"
    for source, name in ((MODEL_DIR, "model.tar.gz"), (OUTPUT_DATA_DIR, "output.tar.gz")):
        archive = tar_directory(paths.path(source), job_dir / name)
        store.upload_file(archive, f"{prefix}/{name}")
        archive.unlink()
    return f"{prefix}/model.tar.gz"


def checkpoint_location(request: dict, paths: ContainerPaths) -> tuple[str, Path] | None:
    config = request.get("CheckpointConfig")
    if not config:
        return None
    return config["S3Uri"], paths.path(config.get("LocalPath", DEFAULT_CHECKPOINT_DIR))


def run_training_job(
    request: dict,
    *,
    store: ObjectStore,
    registry: LocalJobRegistry,
    log: Callable[[str], None],
    num_cpus: int | None = None,
) -> dict:
    """Execute ``request`` and return its DescribeTrainingJob-shaped description.

    ``num_cpus`` (default: this machine's cores) is what SM_NUM_CPUS reports to the program.
    """
    name = request["TrainingJobName"]
    job_dir = registry.job_dir(name)
    if job_dir.exists():
        shutil.rmtree(job_dir)
    paths = ContainerPaths(job_dir / "opt" / "ml")
    description = {**request, "TrainingJobArn": f"local:training-job/{name}", "TrainingJobStatus": "InProgress",
                   "SecondaryTrainingStatus": "Starting", "CreationTime": now_iso()}
    registry.record(name, description)
    parser = MetricParser(request["AlgorithmSpecification"].get("MetricDefinitions", []))
    started_at, started = now_iso(), time.monotonic()
    checkpoints = checkpoint_location(request, paths)
    try:
        download_channels(request, store, paths, log)
        write_config_files(request, paths)
        code_dir = unpack_source(request, store, paths)
        for folder in (MODEL_DIR, OUTPUT_DATA_DIR, OUTPUT_INTERMEDIATE_DIR):
            paths.path(folder).mkdir(parents=True, exist_ok=True)
        if checkpoints:
            restored = download_prefix(store, checkpoints[0], checkpoints[1])
            log(f"checkpoints: {len(restored)} file(s) restored from {checkpoints[0]}")
        env = toolkit_environment(request, paths, num_cpus or cpu_count())
        argv = local_command([sys.executable, container_hyperparameter(request, "sagemaker_program"),
                              *json.loads(env["SM_USER_ARGS"])], paths)
        log(f"running {' '.join(argv)}")

        def on_line(line: str) -> None:
            log(line)
            parser.observe(line)

        max_runtime = request["StoppingCondition"]["MaxRuntimeInSeconds"]
        result = run_container_process(argv, env=env, cwd=code_dir, log=on_line, max_runtime_seconds=max_runtime)
        if checkpoints:
            synced = upload_directory(store, checkpoints[1], checkpoints[0])
            log(f"checkpoints: {len(synced)} file(s) synced to {checkpoints[0]}")
        if result.timed_out:
            raise _JobFailure(f"MaxRuntimeExceeded: Training job stopped after {max_runtime} s "
                              "(StoppingCondition.MaxRuntimeInSeconds)")
        if result.exit_code != 0:
            raise _JobFailure(program_failure_reason(result, failure_file_reason(paths)))
        model_uri = upload_artifacts(request, store, paths, job_dir)
    except _JobFailure as failure:
        _record_series(job_dir, parser)
        registry.record(name, {**description, **_timing(started_at, started), "TrainingJobStatus": "Failed",
                               "SecondaryTrainingStatus": "Failed", "FailureReason": str(failure),
                               "FinalMetricDataList": parser.final_metrics()})
        raise TrainingJobError(f"training job {name} failed: {failure}", job_name=name,
                               failure_reason=str(failure)) from failure
    _record_series(job_dir, parser)
    final = {**description, **_timing(started_at, started), "TrainingJobStatus": "Completed",
             "SecondaryTrainingStatus": "Completed", "ModelArtifacts": {"S3ModelArtifacts": model_uri},
             "FinalMetricDataList": parser.final_metrics()}
    registry.record(name, final)
    shutil.rmtree(paths.host_root, ignore_errors=True)
    return final


def metric_series(registry: LocalJobRegistry, name: str) -> list[dict]:
    """Every metric value a job logged, in order (what SageMaker shows as the metrics time series)."""
    path = registry.job_dir(name) / METRIC_SERIES_FILE
    return json.loads(path.read_text()) if path.is_file() else []


def _record_series(job_dir: Path, parser: MetricParser) -> None:
    (job_dir / METRIC_SERIES_FILE).write_text(json.dumps(parser.series, indent=1))


def _timing(started_at: str, started: float) -> dict:
    seconds = max(1, round(time.monotonic() - started))
    return {"TrainingStartTime": started_at, "TrainingEndTime": now_iso(), "LastModifiedTime": now_iso(),
            "TrainingTimeInSeconds": seconds, "BillableTimeInSeconds": seconds}
