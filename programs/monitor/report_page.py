"""The drift report's ``index.html``: the facts, every check with its test and threshold, the violations
(acted on or ignored), the most-shifted photos and the figures."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_ACTION = "alert"
IGNORE = "ignore"

STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse;margin-bottom:1.5em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}img{max-width:100%}"
    "tr.violation td{background:#fde2e2}tr.ignored td{color:#777;background:#f3f3f3}"
    "figure{margin:0 0 1.5em 0}figcaption{color:#444;font-size:90%}"
)


def action_for(actions: Mapping[str, str], check_type: str, feature: str) -> str:
    """The configured action for a violation: per feature first, then per check type, else alert."""
    return actions.get(f"{check_type}:{feature}", actions.get(check_type, DEFAULT_ACTION))


def _action_rule(actions: Mapping[str, str], check_type: str, feature: str) -> str:
    key = f"{check_type}:{feature}" if f"{check_type}:{feature}" in actions else check_type
    return f"{key} = {action_for(actions, check_type, feature)}" if key in actions else "default: alert"


def _escape(value: object) -> str:
    return html.escape(str(value))


def _result(check: Mapping[str, Any]) -> str:
    value = check.get("value")
    if value is None:
        return "-"
    return f"p = {value:.3g}" if check.get("test") == "KS test" else f"{value:.3f}"


def _outcome(violated: bool, actions: Mapping[str, str] | None, check_type: str, feature: str) -> tuple[str, str]:
    """(row class, text): pass, a violation and what it leads to, or an ignored violation and why."""
    if actions is None:
        return ("violation", "violation") if violated else ("", "pass")
    action = action_for(actions, check_type, feature)
    if not violated:
        return "", "pass" if action != IGNORE else (
            f"pass (ignored anyway: {_action_rule(actions, check_type, feature)})")
    if action == IGNORE:
        return "ignored", f"violation, ignored ({_action_rule(actions, check_type, feature)})"
    return "violation", f"violation &rarr; {_escape(action)}"


def checks_table(checks: Sequence[Mapping[str, Any]], violations: Sequence[Mapping[str, str]],
                 actions: Mapping[str, str] | None) -> str:
    """One row per test run: feature, test, result, threshold and rule, outcome."""
    rows = []
    for check in checks:
        css, outcome = _outcome(bool(check.get("violated")), actions, str(check.get("check", "")),
                                str(check.get("feature", "")))
        rows.append(
            f"<tr class='{css}'><td>{_escape(check.get('feature', ''))}</td><td>{_escape(check.get('test', ''))}</td>"
            f"<td>{_result(check)}</td><td>{_escape(check.get('rule', ''))}</td><td>{outcome}</td></tr>"
        )
    for violation in violations:  # checks that are not drift tests: completeness, data type, ...
        if violation.get("constraint_check_type") == "baseline_drift_check":
            continue
        css, outcome = _outcome(True, actions, violation["constraint_check_type"], violation["feature_name"])
        rows.append(
            f"<tr class='{css}'><td>{_escape(violation['feature_name'])}</td>"
            f"<td>{_escape(violation['constraint_check_type'])}</td><td colspan='2'>"
            f"{_escape(violation.get('description', ''))}</td><td>{outcome}</td></tr>"
        )
    if not rows:
        return "<p>No checks ran: no baseline to compare with.</p>"
    return ("<table><tr><th>Feature</th><th>Test</th><th>Result</th><th>Threshold</th><th>Outcome</th></tr>"
            + "".join(rows) + "</table>")


def violations_table(violations: Sequence[Mapping[str, str]], actions: Mapping[str, str] | None) -> str:
    if not violations:
        return "<p>No violations.</p>"
    rows = []
    for violation in violations:
        css, outcome = _outcome(True, actions, violation["constraint_check_type"], violation["feature_name"])
        rows.append(
            f"<tr class='{css}'><td>{_escape(violation.get('feature_name', ''))}</td>"
            f"<td>{_escape(violation.get('constraint_check_type', ''))}</td>"
            f"<td>{_escape(violation.get('description', ''))}</td><td>{outcome}</td></tr>"
        )
    return ("<table><tr><th>Feature</th><th>Check</th><th>Description</th><th>Outcome</th></tr>"
            + "".join(rows) + "</table>")


def counted(violations: Sequence[Mapping[str, str]], actions: Mapping[str, str] | None) -> list[Mapping[str, str]]:
    if actions is None:
        return list(violations)
    return [v for v in violations if action_for(actions, v["constraint_check_type"], v["feature_name"]) != IGNORE]


def _strip(shifted: Mapping[str, Any] | None, strip_file: str | None) -> str:
    if not shifted or not strip_file:
        return ""
    side = "lowest" if shifted.get("side") == "low" else "highest"
    caption = (f"The {side} {_escape(shifted.get('feature'))} of the interval (the feature with the smallest KS "
               f"p-value, {shifted.get('p_value', 1.0):.2g}; its mean moved from "
               f"{shifted.get('baseline_mean', 0.0):.3f} in the baseline to {shifted.get('window_mean', 0.0):.3f}), "
               "as the model sees them (32x32).")
    return (f"<h2>Most-shifted photos</h2><figure><img src='{_escape(strip_file)}' alt='most-shifted photos'>"
            f"<figcaption>{caption}</figcaption></figure>")


def page(current: Mapping[str, Any], violations: Sequence[Mapping[str, str]], summary: Mapping[str, Any],
         actions: Mapping[str, str] | None, images: Sequence[tuple[str, str]], strip_file: str | None) -> str:
    acted_on = counted(violations, actions)
    ignored = len(violations) - len(acted_on)
    estimate = summary.get("estimated_accuracy") or {}
    facts = {
        "Window": f"{summary.get('start_time') or '-'} to {summary.get('end_time') or '-'}",
        "Records": current.get("dataset", {}).get("item_count", 0),
        "Malformed records": summary.get("malformed_records", "-"),
        "Undecodable images": summary.get("decode_failures", "-"),
        "Estimated accuracy": (f"{estimate['value']:.3f} (label-free, {estimate.get('method')}; floor "
                               f"{estimate.get('floor')})" if estimate.get("value") is not None else "-"),
        "Violations": f"{len(acted_on)} acted on, {ignored} ignored",
    }
    fact_rows = "".join(f"<tr><th>{_escape(k)}</th><td>{_escape(v)}</td></tr>" for k, v in facts.items())
    figures = "".join(
        f'<figure><img src="{_escape(name)}" alt="{_escape(caption)}"><figcaption>{_escape(caption)}'
        f"</figcaption></figure>" for name, caption in images
    )
    unchecked = summary.get("unchecked_features") or {}
    unchecked_note = "".join(f"<p>{_escape(name)}: {_escape(reason)}</p>" for name, reason in unchecked.items())
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Scones drift report</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Drift report</h1><table>{fact_rows}</table>"
        f"<h2>Violations ({len(violations)}: {len(acted_on)} acted on, {ignored} ignored)</h2>"
        f"{violations_table(violations, actions)}"
        f"<h2>Checks</h2>{checks_table(summary.get('checks') or [], violations, actions)}{unchecked_note}"
        f"{_strip(summary.get('shifted_photos'), strip_file)}"
        f"<h2>Plots</h2>{figures}</body></html>"
    )
