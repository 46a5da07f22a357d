"""Run a CreateProcessingJob request on this machine under SageMaker's Processing contract.

Inputs are copied from the object store to their ``LocalPath`` (remapped under the job
folder), the container entrypoint and arguments run as a process, and outputs are uploaded
only when the program exits 0 — as SageMaker does with ``S3UploadMode: EndOfJob``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

from include.runtime.capabilities import JobFailedError
from include.runtime.local.container import ContainerPaths, local_command, program_failure_reason, run_container_process
from include.runtime.local.job_records import LocalJobRegistry, now_iso
from include.storage import ObjectStore, download_prefix, upload_directory


class ProcessingJobError(JobFailedError):
    """A local Processing job failed; the message carries SageMaker's FailureReason."""


def run_processing_job(
    request: dict,
    *,
    store: ObjectStore,
    registry: LocalJobRegistry,
    log: Callable[[str], None],
) -> dict:
    """Execute ``request`` and return its DescribeProcessingJob-shaped description."""
    name = request["ProcessingJobName"]
    job_dir = registry.job_dir(name)
    if job_dir.exists():
        shutil.rmtree(job_dir)
    paths = ContainerPaths(job_dir / "opt" / "ml")
    description = {**request, "ProcessingJobArn": f"local:processing-job/{name}",
                   "ProcessingJobStatus": "InProgress", "CreationTime": now_iso()}
    registry.record(name, description)

    for spec in request.get("ProcessingInputs", []):
        s3_input = spec["S3Input"]
        files = download_prefix(store, s3_input["S3Uri"], paths.path(s3_input["LocalPath"]))
        log(f"input {spec['InputName']}: {len(files)} file(s) from {s3_input['S3Uri']}")
    for spec in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
        paths.path(spec["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    config_dir = paths.path("/opt/ml/config")
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "processingjobconfig.json").write_text(json.dumps(request, indent=2))

    app = request["AppSpecification"]
    argv = local_command([*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])], paths)
    env = {key: paths.remap(value) for key, value in request.get("Environment", {}).items()}
    log(f"running {' '.join(argv)}")
    result = run_container_process(
        argv, env=env, cwd=job_dir, log=log,
        max_runtime_seconds=request["StoppingCondition"]["MaxRuntimeInSeconds"],
    )

    if result.timed_out:
        failure = f"MaxRuntimeExceeded: stopped after {request['StoppingCondition']['MaxRuntimeInSeconds']} s"
    elif result.exit_code != 0:
        failure = program_failure_reason(result)
    else:
        failure = ""
    if failure:
        registry.record(name, {**description, "ProcessingJobStatus": "Failed", "FailureReason": failure,
                               "ProcessingEndTime": now_iso()})
        raise ProcessingJobError(f"processing job {name} failed: {failure}", job_name=name, failure_reason=failure)

    for spec in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
        s3_output = spec["S3Output"]
        uploaded = upload_directory(store, paths.path(s3_output["LocalPath"]), s3_output["S3Uri"])
        log(f"output {spec['OutputName']}: {len(uploaded)} file(s) to {s3_output['S3Uri']}")
    final = {**description, "ProcessingJobStatus": "Completed", "ProcessingEndTime": now_iso(),
             "ExitMessage": "\n".join(result.log_tail[-3:])}
    registry.record(name, final)
    shutil.rmtree(paths.host_root, ignore_errors=True)
    return final
