"""The soak's table (one column per simulated day) and its JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from include.settings import PROJECT_ROOT

REPORT_PATH = PROJECT_ROOT / "build" / "soak" / "report.json"


def table(report: dict[str, Any]) -> str:
    """Invariant | day 1 | day 2 | ... | expected (at the end) | ok."""
    days = report["days"]
    if not days:
        return "no simulated day finished"
    names = [i["name"] for i in days[-1]["invariants"]]
    width = max(len(name) for name in names)
    header = f"{'invariant':<{width}}  " + " ".join(f"d{d['day']:<3}" for d in days) + "  expected      ok"
    lines = [header, "-" * len(header)]
    for name in names:
        cells = []
        for day in days:
            found = next((i for i in day["invariants"] if i["name"] == name), None)
            cells.append(f"{'' if found is None else found['value']:<4}" + ("!" if found and not found["ok"] else " "))
        last = next(i for i in days[-1]["invariants"] if i["name"] == name)
        lines.append(f"{name:<{width}}  " + "".join(cells) + f" {last['expected']!s:<13} "
                     + ("yes" if last["ok"] else "NO"))
    return "\n".join(lines)


def failures(report: dict[str, Any]) -> list[str]:
    """``day N: invariant (value, expected; detail)`` for every invariant that failed on some day."""
    return [f"day {day['day']}: {i['name']} = {i['value']} (expected {i['expected']})"
            + (f"; {i['detail']}" if i["detail"] else "")
            for day in report["days"] for i in day["invariants"] if not i["ok"]]


def write_report(report: dict[str, Any], path: Path = REPORT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(path)
    return path
