"""A cached Python 3.12 virtualenv with MWAA's pins (Airflow + the bundle's requirements, no torch).

Lives in ``<repo>/.cache/mwaa-py312/`` and is rebuilt only when the constraints, the bundle's
requirements or the Airflow version change (a hash in its marker file says which it was built for).
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from include.settings import PROJECT_ROOT

CACHE_DIR = PROJECT_ROOT / ".cache"
VENV_DIR = CACHE_DIR / "mwaa-py312"
MARKER = VENV_DIR / "scones-mwaa.sha256"
UV = Path(sys.executable).with_name("uv")


def constraints_file(airflow_version: str) -> Path:
    return PROJECT_ROOT / "requirements" / f"airflow-constraints-{airflow_version}-python3.12.txt"


def find_python312() -> tuple[Path | None, str]:
    """A working Python 3.12 interpreter, or None and where it was looked for."""
    candidates = [os.environ.get("SCONES_PY312", ""), shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    for candidate in filter(None, candidates):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            result = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                    capture_output=True, text=True, timeout=30)
            if result.returncode == 0 and result.stdout.strip() == "(3, 12)":
                return Path(candidate), ""
    return None, "no Python 3.12 found (set SCONES_PY312, put python3.12 on PATH or install ~/.pyenv/versions/3.12*)"


def local_requirements(bundle_requirements: Path, target: Path, airflow_version: str) -> Path:
    """The bundle's requirements with MWAA's preinstalled Airflow pinned and the remote constraint line dropped
    (the local copy of the same constraints file is passed with ``-c``)."""
    lines = [line for line in bundle_requirements.read_text().splitlines() if not line.startswith("--constraint")]
    target.write_text("\n".join([f"apache-airflow=={airflow_version}", *lines]) + "\n")
    return target


def _fingerprint(requirements: Path, constraints: Path, python: Path) -> str:
    digest = hashlib.sha256()
    for part in (requirements.read_bytes(), constraints.read_bytes(), str(python).encode()):
        digest.update(part + b"\0")
    return digest.hexdigest()


@contextlib.contextmanager
def _cache_lock() -> Iterator[None]:
    CACHE_DIR.mkdir(exist_ok=True)
    (CACHE_DIR / ".gitignore").write_text("*\n")
    with open(CACHE_DIR / "mwaa-py312.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({' '.join(command)}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")


def mwaa_venv(python: Path, requirements: Path, constraints: Path) -> Path:
    """The venv's interpreter, (re)built when its marker does not match the inputs."""
    fingerprint = _fingerprint(requirements, constraints, python)
    with _cache_lock():
        if MARKER.is_file() and MARKER.read_text().strip() == fingerprint:
            return VENV_DIR / "bin" / "python"
        shutil.rmtree(VENV_DIR, ignore_errors=True)
        _run([str(UV), "venv", "--quiet", "--python", str(python), str(VENV_DIR)], "creating the MWAA venv")
        _run([str(UV), "pip", "install", "--quiet", "--python", str(VENV_DIR / "bin" / "python"),
              "-r", str(requirements), "-c", str(constraints)], "installing MWAA's pins")
        MARKER.write_text(fingerprint + "\n")
    return VENV_DIR / "bin" / "python"


def compile_requirements(requirements: Path, constraints: Path) -> subprocess.CompletedProcess[str]:
    """``uv pip compile`` of the requirements under the constraints, for Python 3.12."""
    return subprocess.run(
        [str(UV), "pip", "compile", "--quiet", "--no-header", "--python-version", "3.12",
         str(requirements), "-c", str(constraints)],
        capture_output=True, text=True, timeout=600,
    )
