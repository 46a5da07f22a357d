"""The MWAA bundle: its layout, and that its DAG folder alone imports every DAG (as MWAA's workers see it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from deploy.mwaa.bundle import Bundle, BundleError, build_bundle, main
from include.settings import ENV_FILE_VARIABLE, PROJECT_ROOT, get_settings, load_settings
from tests.infra import mwaa_python
from tests.support.stack import ACCOUNT, deployable_settings, stack_environment

LOCALLY_TESTED = {"SCONES_DEPLOY__SERVERLESS": "true", "SCONES_CONFIDENCE_THRESHOLD": "0.81",
                  "SCONES_MONITOR__COMPARISON_THRESHOLD": "0.2", "SCONES_TUNING__SCHEDULE": "@weekly"}
SETTINGS = deployable_settings({**LOCALLY_TESTED, "SCONES_RUNTIME": "local"})
DAG_FILES = sorted(p.name for p in (PROJECT_ROOT / "dags").glob("*.py"))
PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
import include
from include.code_bundle import PROGRAM_DIRS
from include.settings import get_settings
bag = DagBag(sys.argv[1])
settings = get_settings()
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sagemaker'))
local = sorted(m for m in sys.modules if m.startswith('include.runtime.local'))
programs = {name: str(path) for name, path in PROGRAM_DIRS.items() if (path / 'Dockerfile').exists()
            or any(path.glob('*.py'))}
print(json.dumps({"errors": {k: str(v)[-800:] for k, v in bag.import_errors.items()}, "dags": sorted(bag.dag_ids),
                  "files": sorted(s.file for s in bag.dagbag_stats), "include": include.__file__, "heavy": heavy,
                  "local_runtime": local, "programs": programs,
                  "settings": {"runtime": settings.runtime, "bucket": settings.bucket}}))
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return build_bundle(tmp_path_factory.mktemp("mwaa") / "bundle", SETTINGS)


def unpacked(bundle: Bundle, target: Path) -> Path:
    """The bundle copied into an empty folder, as MWAA syncs it from S3."""
    shutil.copytree(bundle.root, target)
    return target


def import_dags(python: Path, bundle_root: Path, airflow_home: Path) -> dict:
    """Load a DagBag in a fresh process that sees only the bundle's dags folder (not the repo)."""
    dags = bundle_root / "dags"
    airflow_home.mkdir(parents=True, exist_ok=True)
    environment = {
        "PATH": "/usr/bin:/bin", "HOME": str(airflow_home), "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "PYTHONPATH": str(dags), "AWS_DEFAULT_REGION": SETTINGS.region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run([str(python), "-c", PROBE, str(dags)], env=environment, cwd=airflow_home,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_imports_cleanly(report: dict, bundle_root: Path) -> None:
    assert report["errors"] == {}
    assert report["files"] == DAG_FILES, "the scheduler must parse only the DAG files, never dags/include/"
    assert len(report["dags"]) == len(DAG_FILES)
    assert Path(report["include"]).is_relative_to(bundle_root / "dags" / "include")
    assert report["heavy"] == []
    assert report["local_runtime"] == [], "MWAA runs the aws runtime only"
    assert {name: Path(path) for name, path in report["programs"].items()} == {
        name: bundle_root / "dags" / "scones-programs" / name for name in ("ingest", "model", "monitor")
    }, "workers find the program sources the bundle carries"
    assert report["settings"] == {"runtime": "aws", "bucket": SETTINGS.bucket}, "the bundle alone makes it aws"


def test_layout_is_what_mwaa_reads(bundle):
    root = bundle.root
    assert sorted(p.name for p in root.iterdir()) == ["dags", "plugins.zip", "requirements.txt", "startup.sh"]
    assert sorted(p.name for p in (root / "dags").glob("*.py")) == DAG_FILES
    assert (root / "dags" / "include" / "settings.toml").is_file()
    assert (root / "dags" / "include" / "statemachine" / "inference.asl.json").is_file()
    assert not list(root.rglob("__pycache__")) and not list(root.rglob("*.pyc"))
    assert "include/" in (root / "dags" / ".airflowignore").read_text().splitlines()
    assert "scones-programs/" in (root / "dags" / ".airflowignore").read_text().splitlines()


def test_bundle_carries_programs_as_data_and_leaves_out_what_mwaa_never_runs(bundle):
    dags = bundle.root / "dags"
    assert (dags / "scones-programs" / "model" / "train.py").is_file()
    assert (dags / "scones-programs" / "monitor" / "report.py").is_file()
    assert not "scones-programs".isidentifier(), "no import statement can reach the program sources"
    library = {p.relative_to(dags / "include").as_posix() for p in (dags / "include").rglob("*.py")}
    assert not [name for name in library if name.startswith("runtime/local/")]
    assert "runtime/aws/jobs.py" in library
    assert not (dags / "include" / "model").exists() and not (dags / "devtools").exists()


def test_plugins_zip_has_the_plugins_at_its_root(bundle):
    with zipfile.ZipFile(bundle.root / "plugins.zip") as archive:
        names = archive.namelist()
    assert sorted(names) == sorted(p.name for p in (PROJECT_ROOT / "plugins").glob("*.py"))


def test_requirements_start_with_the_airflow_constraint(bundle):
    lines = (bundle.root / "requirements.txt").read_text().splitlines()
    assert lines[0] == (
        f'--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-{SETTINGS.mwaa.airflow_version}'
        f'/constraints-{SETTINGS.mwaa.python_version}.txt"'
    )
    project = [line for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines()]
    assert lines[1:] == project
    assert not any(line.lower().startswith("torch") for line in lines)


def test_startup_script_is_a_runnable_script_that_sets_no_settings(bundle):
    script = bundle.root / "startup.sh"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert os.access(script, os.X_OK)
    environment = subprocess.run(["bash", "-c", f"source {script} && env"], capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL, timeout=30, check=True, env={"PATH": "/usr/bin:/bin"})
    assert not [line for line in environment.stdout.splitlines() if line.startswith("SCONES_")]


def test_bundle_carries_every_setting_as_resolved_here_with_the_aws_runtime(bundle):
    bundled = load_settings(bundle.root / "dags" / "include" / "settings.toml", environ={})
    assert bundled.runtime == "aws"
    assert bundled.model_dump(exclude={"runtime", "data_root"}) == SETTINGS.model_dump(exclude={"runtime", "data_root"})
    assert (bundled.deploy.serverless, bundled.confidence_threshold, bundled.tuning.schedule) == (True, 0.81, "@weekly")
    assert bundled.sagemaker_role_arn == f"arn:aws:iam::{ACCOUNT}:role/scones-sagemaker-execution"


def test_bundle_carries_what_the_project_env_file_sets(tmp_path, monkeypatch):
    lines = [f"{name}={value}" for name, value in stack_environment().items()] + ["SCONES_GATE__MIN_ACCURACY=0.9"]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(tmp_path / ".env"))
    get_settings.cache_clear()
    try:
        assert main(["--out", str(tmp_path / "from-dotenv")]) == 0
    finally:
        get_settings.cache_clear()
    bundled = load_settings(tmp_path / "from-dotenv" / "dags" / "include" / "settings.toml", environ={})
    assert (bundled.gate.min_accuracy, bundled.bucket) == (0.9, stack_environment()["SCONES_BUCKET"])


@pytest.mark.parametrize(("unfilled", "setting"), [
    ("SCONES_SAGEMAKER_ROLE_ARN", "'sagemaker_role_arn' (SCONES_SAGEMAKER_ROLE_ARN)"),
    ("SCONES_INFERENCE__STATE_MACHINE_ARN", "'inference.state_machine_arn' (SCONES_INFERENCE__STATE_MACHINE_ARN)"),
    ("SCONES_BUCKET", "'bucket' (SCONES_BUCKET)"),
])
def test_bundle_refuses_example_values_naming_the_setting(unfilled, setting, tmp_path):
    environment = {name: value for name, value in stack_environment().items() if name != unfilled}
    with pytest.raises(BundleError, match=re.escape(setting)):
        build_bundle(tmp_path / "bundle", load_settings(environ=environment))
    assert not (tmp_path / "bundle").exists()


def test_bundle_refuses_model_monitor_without_the_analyzer_image(tmp_path):
    environment = {**stack_environment(), "SCONES_IMAGES__MONITOR_URI": "", "SCONES_MONITOR__USE_MODEL_MONITOR": "true"}
    with pytest.raises(BundleError, match=re.escape("'images.monitor_uri' (SCONES_IMAGES__MONITOR_URI) is empty")):
        build_bundle(tmp_path / "bundle", load_settings(environ=environment))


def test_cli_names_every_setting_to_fill(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SCONES_BUCKET", raising=False)
    get_settings.cache_clear()
    try:
        assert main(["--out", str(tmp_path / "cli")]) == 1
    finally:
        get_settings.cache_clear()
    error = capsys.readouterr().err
    for name in ("SCONES_SAGEMAKER_ROLE_ARN", "SCONES_INFERENCE__STATE_MACHINE_ARN", "SCONES_BUCKET"):
        assert name in error


def test_build_is_byte_for_byte_repeatable(bundle, tmp_path):
    again = build_bundle(tmp_path / "again", SETTINGS)
    assert again.files == bundle.files


def test_cli_builds_into_the_given_folder(tmp_path, monkeypatch, capsys):
    for name, value in stack_environment().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert main(["--out", str(tmp_path / "cli")]) == 0
    finally:
        get_settings.cache_clear()
    assert (tmp_path / "cli" / "plugins.zip").is_file()
    assert "MWAA bundle at" in capsys.readouterr().out


def test_bundle_imports_with_only_its_dags_folder(bundle, tmp_path):
    root = unpacked(bundle, tmp_path / "synced")
    started = time.monotonic()
    report = import_dags(Path(sys.executable), root, tmp_path / "airflow-home")
    print(f"bundle-import (Python {sys.version_info.major}.{sys.version_info.minor}): "
          f"{time.monotonic() - started:.1f} s, bundle {bundle.size_bytes / 1e6:.2f} MB")
    assert_imports_cleanly(report, root)


@pytest.mark.e2e
def test_bundle_imports_under_mwaa_python_312_and_pins(bundle, tmp_path):
    python, reason = mwaa_python.find_python312()
    if python is None:
        print(reason)
        pytest.skip(reason)
    version = SETTINGS.mwaa.airflow_version
    constraints = mwaa_python.constraints_file(version)
    requirements = mwaa_python.local_requirements(bundle.root / "requirements.txt", tmp_path / "req.txt", version)

    compiled = mwaa_python.compile_requirements(requirements, constraints)
    assert compiled.returncode == 0, f"bundle requirements conflict with {constraints.name}:\n{compiled.stderr}"
    assert f"apache-airflow=={version}" in compiled.stdout.splitlines()

    started = time.monotonic()
    venv_python = mwaa_python.mwaa_venv(python, requirements, constraints)
    print(f"MWAA Python 3.12 venv ready in {time.monotonic() - started:.1f} s")
    root = unpacked(bundle, tmp_path / "synced")
    started = time.monotonic()
    report = import_dags(venv_python, root, tmp_path / "airflow-home")
    print(f"bundle-import (Python 3.12, MWAA pins): {time.monotonic() - started:.1f} s")
    assert_imports_cleanly(report, root)
    no_torch = subprocess.run([str(venv_python), "-c", "import importlib.util as u; print(u.find_spec('torch'))"],
                              capture_output=True, text=True, timeout=60)
    assert no_torch.stdout.strip() == "None", "the MWAA environment must not need torch"
