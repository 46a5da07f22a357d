"""A drift baseline and Data Capture hours in SageMaker's layout, written into a local object store."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from include.runtime.local.store import LocalObjectStore
from include.settings import PROJECT_ROOT, Settings
from include.workflows import training
from include.workflows.monitoring import layout
from tests.monitor.traffic import Profile, traffic

ANALYZER = PROJECT_ROOT / "programs" / "monitor" / "analyzer.py"
MODEL_KEY = "train-20260301T0000"


def write_baseline(settings: Settings, store: LocalObjectStore, scratch: Path) -> str:
    """Baseline 600 validation-like records with the analyzer; returns the model's baseline folder URI."""
    source = scratch / "validation"
    source.mkdir(parents=True)
    (source / "validation_capture.jsonl").write_text("\n".join(line for _, line in traffic(600, seed=11)) + "\n")
    subprocess.run([sys.executable, str(ANALYZER), "--mode", "baseline", "--dataset-source", str(source),
                    "--output-path", str(scratch / "baseline")], check=True, capture_output=True,
                   env={"SCONES_MESSAGE_PATH": str(scratch / "message"), "PATH": "/usr/bin:/bin"})
    uri = training.baseline_uri(settings, MODEL_KEY)
    for name in ("statistics.json", "constraints.json"):
        store.upload_file(scratch / "baseline" / name, uri + name)
    return uri


def write_capture_hour(settings: Settings, store: LocalObjectStore, hour: datetime, profile: Profile) -> None:
    """300 capture records from five past ``hour``, in one file of the hour's capture folder."""
    lines = traffic(300, profile, start=hour + timedelta(minutes=5), seed=23)
    uri = f"{layout.capture_prefix(settings)}{hour:%Y/%m/%d/%H}/05-00-000-capture.jsonl"
    store.put_bytes(uri, ("\n".join(line for _, line in lines) + "\n").encode())
