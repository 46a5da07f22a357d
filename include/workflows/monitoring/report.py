"""The interval's picture report: the report program run over the result, the baseline and earlier intervals.

The program is also given the monitor's configured actions (so violations the settings ignore are
shown as ignored) and the analyzer's strip of the interval's most-shifted photos.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from include.builders.monitoring import STATISTICS_FILE
from include.code_bundle import PROGRAM_DIRS
from include.intervals import as_utc
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore, upload_directory
from include.workflows.monitoring.layout import (
    SUMMARY_FILE,
    VIOLATIONS_FILE,
    history_prefix,
    report_prefix,
)

REPORT_SCRIPT = PROGRAM_DIRS["monitor"] / "report.py"
REPORT_HISTORY = 24
SHIFTED_PHOTOS_FILE = "shifted_photos.png"


class ReportError(RuntimeError):
    """The report program failed."""


def _interval_key(start: datetime) -> str:
    return f"{as_utc(start):%Y%m%dT%H%M}"


def _download_if_present(store: ObjectStore, uri: str, path: Path) -> Path | None:
    try:
        store.download_file(uri, path)
    except ObjectNotFoundError:
        return None
    return path if path.is_file() else None


def _previous_statistics(settings: Settings, store: ObjectStore, interval_start: datetime,
                         directory: Path) -> list[Path]:
    """Up to ``REPORT_HISTORY`` earlier intervals' statistics, oldest first, downloaded under ``directory``."""
    prefix = history_prefix(settings)
    current = _interval_key(interval_start)
    keys = sorted({info.uri[len(prefix):].split("/", 1)[0] for info in store.list(prefix)
                   if info.uri.endswith("/" + STATISTICS_FILE)})
    paths = []
    for key in [k for k in keys if k < current][-REPORT_HISTORY:]:
        path = directory / key / STATISTICS_FILE
        store.download_file(f"{prefix}{key}/{STATISTICS_FILE}", path)
        _download_if_present(store, f"{prefix}{key}/{SUMMARY_FILE}", path.with_name(SUMMARY_FILE))
        paths.append(path)
    return paths


def _no_traffic_page(interval_start: datetime) -> str:
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Scones drift report</title></head><body>"
            f"<h1>Drift report</h1><p>No traffic: the endpoint captured no records in the hour from "
            f"{as_utc(interval_start).isoformat()}. Nothing was compared with the baseline.</p></body></html>")


def _run_report_program(arguments: list[str]) -> None:
    result = subprocess.run([sys.executable, str(REPORT_SCRIPT), *arguments], capture_output=True, text=True,
                            timeout=600, check=False)
    if result.returncode != 0:
        raise ReportError(f"{REPORT_SCRIPT.name} exited {result.returncode}: {result.stderr.strip()[-1500:]}")


def write_report(settings: Settings, store: ObjectStore, *, run_key: str, result_uri: str | None,
                 baseline_uri: str, interval_start: datetime) -> str:
    """Plot the interval against the baseline and its predecessors; publish to ``.../<run key>/report/``.

    Returns the URI of the report's ``index.html``. A result-less (no traffic) interval gets a page
    that says so. The interval's statistics join the history the next reports plot.
    """
    prefix = report_prefix(settings, run_key)
    with tempfile.TemporaryDirectory(prefix="scones-report-") as scratch:
        work = Path(scratch)
        output = work / "report"
        if result_uri is None:
            output.mkdir()
            (output / "index.html").write_text(_no_traffic_page(interval_start))
        else:
            result = result_uri.rstrip("/") + "/"
            statistics = work / "current" / STATISTICS_FILE
            store.download_file(result + STATISTICS_FILE, statistics)
            summary = _download_if_present(store, result + SUMMARY_FILE, statistics.with_name(SUMMARY_FILE))
            arguments = ["--statistics", str(statistics), "--output-dir", str(output),
                         "--actions", json.dumps(dict(settings.monitor.actions))]
            violations = _download_if_present(store, result + VIOLATIONS_FILE, work / "current" / VIOLATIONS_FILE)
            if violations:
                arguments += ["--violations", str(violations)]
            baseline = _download_if_present(store, baseline_uri.rstrip("/") + "/" + STATISTICS_FILE,
                                            work / "baseline" / STATISTICS_FILE)
            if baseline:
                arguments += ["--baseline-statistics", str(baseline)]
            strip = _download_if_present(store, result + SHIFTED_PHOTOS_FILE, work / "current" / SHIFTED_PHOTOS_FILE)
            if strip:
                arguments += ["--shifted-photos", str(strip)]
            history = _previous_statistics(settings, store, interval_start, work / "history")
            if history:
                arguments += ["--history", *map(str, history)]
            _run_report_program(arguments)
            archive = f"{history_prefix(settings)}{_interval_key(interval_start)}/"
            store.upload_file(statistics, archive + STATISTICS_FILE)
            if summary:
                store.upload_file(summary, archive + SUMMARY_FILE)
        published = set(upload_directory(store, output, prefix))
    for info in store.list(prefix):
        if info.uri not in published:
            store.delete(info.uri)
    return prefix + "index.html"
