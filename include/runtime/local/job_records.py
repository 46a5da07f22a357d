"""The local runtime's record of jobs, shaped like SageMaker's Describe* responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path


class LocalJobRegistry:
    """Job descriptions under ``<work_root>/<kind>/<job name>/description.json``."""

    def __init__(self, work_root: Path, kind: str) -> None:
        self.root = Path(work_root) / kind

    def job_dir(self, name: str) -> Path:
        return self.root / name

    def describe(self, name: str) -> dict | None:
        path = self.job_dir(name) / "description.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def record(self, name: str, description: dict) -> None:
        path = self.job_dir(name) / "description.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(description, indent=2, sort_keys=True, default=str))
        tmp.replace(path)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
