"""Build the folder Amazon MWAA reads: ``dags/`` (with the library), ``plugins.zip``,
``requirements.txt`` and ``startup.sh``.

The library's settings file is replaced by the settings resolved here (``include/settings.toml``, ``.env``
and the environment, with the ``aws`` runtime; see :mod:`deploy.mwaa.resolved_settings`), so what was
tested locally is what MWAA runs; example values (the sample account's ARNs, the default bucket) are refused.

MWAA syncs only its DAG folder to the workers and puts that folder on ``sys.path``, so the
library is copied to ``dags/include/`` (without the ``local`` runtime, which MWAA never runs) and
the container programs to ``dags/scones-programs/`` as data: workers upload them as job code and
run the report program, but no import can reach them. ``dags/.airflowignore`` keeps the scheduler
from parsing either as DAGs. Every file is written deterministically (sorted, fixed zip timestamps), so
an unchanged project yields byte-identical objects and the deploy step uploads nothing.

Usage: ``python -m deploy.mwaa.bundle --out build/mwaa``
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from deploy.mwaa.resolved_settings import UnresolvedSettingsError, mwaa_settings, write_settings_file
from include.code_bundle import BUNDLED_PROGRAMS_FOLDER, PROGRAMS_FOLDER
from include.settings import PROJECT_ROOT, Settings, SettingsError, get_settings

EXCLUDED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "tests"})
EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo"})
# The library below the seam that only a laptop runs: MWAA's workers always run the aws runtime.
LOCAL_ONLY = ("runtime/local",)
AIRFLOWIGNORE_PATTERNS = ("include/", f"{BUNDLED_PROGRAMS_FOLDER}/", "**/__pycache__/")
ZIP_TIMESTAMP = (2026, 1, 1, 0, 0, 0)
CONSTRAINTS_URL = "https://raw.githubusercontent.com/apache/airflow/constraints-{airflow}/constraints-{python}.txt"


class BundleError(RuntimeError):
    """The MWAA bundle could not be built."""


@dataclass(frozen=True)
class Bundle:
    """A built bundle: its root folder and the sha256 of every file in it, by relative path."""

    root: Path
    files: dict[str, str]

    @property
    def size_bytes(self) -> int:
        return sum((self.root / name).stat().st_size for name in self.files)


def shipped_files(source: Path) -> list[Path]:
    """Files under ``source`` worth shipping: no caches, bytecode or tests."""
    return sorted(
        path for path in source.rglob("*")
        if path.is_file()
        and not EXCLUDED_PARTS.intersection(path.relative_to(source).parts)
        and path.suffix not in EXCLUDED_SUFFIXES
    )


def copy_tree(source: Path, target: Path, leave_out: tuple[str, ...] = ()) -> None:
    for path in shipped_files(source):
        if any(path.relative_to(source).as_posix().startswith(part + "/") for part in leave_out):
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def write_plugins_zip(plugins_dir: Path, target: Path) -> None:
    """``plugins/`` contents at the zip's root, with fixed timestamps."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in shipped_files(plugins_dir):
            info = zipfile.ZipInfo(path.relative_to(plugins_dir).as_posix(), date_time=ZIP_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def constraint_line(settings: Settings) -> str:
    url = CONSTRAINTS_URL.format(airflow=settings.mwaa.airflow_version, python=settings.mwaa.python_version)
    return f'--constraint "{url}"'


def mwaa_requirements(settings: Settings, requirements_file: Path) -> str:
    """The project's requirements with Airflow's matching constraint line first."""
    if not requirements_file.is_file():
        raise BundleError(f"{requirements_file} not found: the MWAA bundle needs the project's requirements.txt")
    kept = [
        line for line in requirements_file.read_text().splitlines()
        if not line.strip().startswith(("--constraint", "-c "))
    ]
    return "\n".join([constraint_line(settings), *kept]).rstrip("\n") + "\n"


def startup_script() -> str:
    """A non-interactive bash script (MWAA's startup-script rules) that sets nothing: the settings are in the bundle."""
    lines = [
        "#!/usr/bin/env bash",
        "# Amazon MWAA startup script: runs on every scheduler, worker and web server before Airflow.",
        "# The Scones settings travel in dags/include/settings.toml, resolved when the bundle was built.",
    ]
    return "\n".join(lines) + "\n"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_bundle(out: Path, settings: Settings, project_root: Path = PROJECT_ROOT) -> Bundle:
    """Write the bundle into ``out`` (emptied first) and return its file digests."""
    try:
        resolved = mwaa_settings(settings)
    except UnresolvedSettingsError as exc:
        raise BundleError(str(exc)) from exc
    dags_source, include_source = project_root / "dags", project_root / "include"
    programs_source = project_root / PROGRAMS_FOLDER
    for needed in (dags_source, include_source, programs_source, project_root / "plugins"):
        if not needed.is_dir():
            raise BundleError(f"{needed} is not a folder: run the bundle from the project root")
    if out.exists():
        shutil.rmtree(out)
    dags = out / "dags"
    copy_tree(dags_source, dags)
    copy_tree(include_source, dags / "include", leave_out=LOCAL_ONLY)
    write_settings_file(resolved, dags / "include" / "settings.toml")
    copy_tree(programs_source, dags / BUNDLED_PROGRAMS_FOLDER)
    (dags / ".airflowignore").write_text("\n".join(AIRFLOWIGNORE_PATTERNS) + "\n")
    write_plugins_zip(project_root / "plugins", out / "plugins.zip")
    (out / "requirements.txt").write_text(mwaa_requirements(settings, project_root / "requirements.txt"))
    script = out / "startup.sh"
    script.write_text(startup_script())
    script.chmod(0o755)
    files = {path.relative_to(out).as_posix(): sha256_of(path) for path in sorted(out.rglob("*")) if path.is_file()}
    return Bundle(root=out, files=files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Amazon MWAA bundle (dags/, plugins.zip, ...).")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "build" / "mwaa", help="output folder")
    args = parser.parse_args(argv)
    try:
        bundle = build_bundle(args.out.resolve(), get_settings())
    except (BundleError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"MWAA bundle at {bundle.root}: {len(bundle.files)} files, {bundle.size_bytes / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
