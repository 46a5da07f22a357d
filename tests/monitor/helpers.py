"""Running the analyzer in-process and reading its outputs."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import analyzer
import jsonschema

SCHEMAS = Path(__file__).parent / "schemas"


def validate(document: dict, schema_name: str) -> None:
    """Raise when ``document`` does not follow the Model Monitor schema fixture."""
    schema = json.loads((SCHEMAS / f"{schema_name}.schema.json").read_text())
    jsonschema.validate(document, schema)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(tmp_path: Path, *args: str) -> int:
    """Run the analyzer with CLI args and a message file under ``tmp_path``."""
    return analyzer.main(list(args), {"SCONES_MESSAGE_PATH": str(tmp_path / "message")})


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def violations(output: Path) -> list[dict]:
    return read(output / "constraint_violations.json")["violations"]


def checks_by_feature(output: Path, check: str) -> set[str]:
    return {v["feature_name"] for v in violations(output) if v["constraint_check_type"] == check}
