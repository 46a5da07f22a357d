"""The flat ingest folder runs on its own, as ``python3 /opt/ml/processing/code/ingest.py ARGS``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.synthetic import ARCHIVE_NAME

SOURCE_DIR = Path(__file__).resolve().parents[2] / "programs" / "ingest"


@pytest.fixture
def shipped_code(tmp_path: Path) -> Path:
    """Only the flat folder's .py files, as the Processing job receives them."""
    code = tmp_path / "code"
    code.mkdir()
    for source in SOURCE_DIR.glob("*.py"):
        shutil.copyfile(source, code / source.name)
    return code


def _run(code: Path, archive_dir: Path, md5: str, out: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([sys.executable, str(code / "ingest.py"), "--archive-dir", str(archive_dir),
                           "--archive-md5", md5, "--output-dir", str(out), "--run-key", "manual__x"],
                          cwd=code.parent, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_shipped_folder_builds_the_partition(shipped_code: Path, archive_dir: Path, small_archive,
                                             tmp_path: Path) -> None:
    result = _run(shipped_code, archive_dir, small_archive[1], tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "[ingest] done: run manual__x" in result.stdout
    assert (tmp_path / "out" / "manifest.json").is_file() and (archive_dir / ARCHIVE_NAME).is_file()


def test_shipped_folder_exits_nonzero_with_the_error_name(shipped_code: Path, archive_dir: Path,
                                                          tmp_path: Path) -> None:
    result = _run(shipped_code, archive_dir, "f" * 32, tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr.startswith("ArchiveChecksumError: archive ")
