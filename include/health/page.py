"""The model-health page (Jinja2, everything escaped, no script), for the API server and as a static file.

The same page is rendered twice over: live by the project's application on the API server, where links go
to its own pages, and as the static copy in the bucket, where links go to the runtime's object links (the
S3 console) so it works without the application.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jinja2
from markupsafe import Markup

from include.health.snapshot import DriftInterval, HealthSnapshot
from include.intervals import as_utc

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
DECISION_COLOURS = {"none": "#2da44e", "no_traffic": "#8c959f", "alert": "#d4a72c", "retrain": "#cf222e"}
DECISION_LABELS = {"none": "no drift", "no_traffic": "no traffic", "alert": "alert", "retrain": "retrain"}


@dataclass(frozen=True)
class PageLinks:
    """Where the page's links go: stored objects (reports, routing files), evaluations, the review queue."""

    stored_object: Callable[[str], str]
    evaluation: Callable[[str], str] | None
    review_queue: str | None
    live: bool
    """Rendered by the application on the API server (rather than the static copy in the bucket)."""


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1rem; color: #1b1f24; background: #fff; }
h1 { font-size: 1.35rem; margin: 0 0 .3rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.muted { color: #5b6470; font-size: .85rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: .7rem; margin: .8rem 0; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: .6rem .8rem; }
.card h3 { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: #5b6470; margin: 0 0 .3rem; }
.card .big { font-size: 1.4rem; font-weight: 600; } .warn { color: #9a6700; } .bad { color: #cf222e; }
table { border-collapse: collapse; font-size: .85rem; } td, th { border-bottom: 1px solid #d8dee4; padding: .3rem .5rem;
  text-align: left; vertical-align: top; } th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.serving td { background: #dafbe1; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 1rem; color: #fff; font-size: .75rem; }
.bar { display: flex; height: .8rem; width: 160px; border-radius: 3px; overflow: hidden; background: #eaeef2; }
.bar span { display: block; height: 100%; }
.legend span { display: inline-block; width: .7rem; height: .7rem; border-radius: 2px; margin: 0 .2rem 0 .6rem; }
"""

ROUTING_COLOURS = {"nearby": "#2da44e", "distant": "#0969da", "review": "#d4a72c", "failed": "#cf222e"}

PAGE = _ENVIRONMENT.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Model health · Scones</title>
<style>{{ style }}</style></head>
<body>
<h1>Model health</h1>
<p class="muted">Endpoint <strong>{{ endpoint.name }}</strong> · as of {{ when(snapshot.taken_at) }}
  {% if not links.live %}· a static copy, published after each monitor run{% endif %}</p>

<section class="cards">
  <div class="card" id="serving"><h3>Serving</h3>
  {% if endpoint.serving %}
    <div class="big">version {{ endpoint.serving.version }}</div>
    <div>since {{ when(endpoint.serving_since) }}</div>
    <div class="muted">accuracy {{ number(endpoint.serving.accuracy) }} · ECE {{ number(endpoint.serving.ece) }}
      · config {{ endpoint.endpoint_config }}</div>
  {% else %}<div class="bad">{{ endpoint.problem }}</div>{% endif %}
  </div>
  <div class="card" id="champion"><h3>Champion</h3>
  {% if endpoint.serving %}<div class="big">version {{ endpoint.serving.version }}</div>
    <div class="muted">the serving version: a candidate is gated against it</div>
  {% else %}<div class="muted">none yet: the first candidate is gated on its own</div>{% endif %}
  {% if endpoint.newest_approved_not_serving %}<div class="warn">newest approved is version
    {{ endpoint.newest_approved.version }}, which does not serve (a rolled-back or pending deployment)</div>{% endif %}
  </div>
  <div class="card" id="latest-drift"><h3>Latest drift decision</h3>
  {% if snapshot.drift %}{% set latest = snapshot.drift[0] %}
    <div class="big">{{ badge(latest.decision) }}</div>
    <div class="muted">interval from {{ when(latest.start) }}</div>
  {% else %}<div class="muted">no interval monitored yet</div>{% endif %}
  </div>
  <div class="card" id="review-queue"><h3>Review queue</h3>
    <div class="big">{{ snapshot.review.waiting }} waiting</div>
    {% if snapshot.review.oldest_queued_at %}<div>oldest queued {{ hours(snapshot.review.oldest_age_hours) }} ago</div>
      <div class="muted">{{ when(snapshot.review.oldest_queued_at) }}</div>{% endif %}
    {% if links.review_queue %}<div><a href="{{ links.review_queue }}">open the review queue</a></div>{% endif %}
  </div>
</section>

<h2>Drift timeline</h2>
{% if snapshot.drift %}
<svg width="{{ 14 * snapshot.drift | length + 10 }}" height="46" role="img"
     aria-label="decision per interval, oldest left">
  {% for interval in snapshot.drift | reverse %}
  <rect x="{{ 14 * loop.index0 + 4 }}" y="4" width="11" height="24" rx="2" fill="{{ colour(interval.decision) }}">
    <title>{{ when(interval.start) }}: {{ label(interval.decision) }}</title></rect>
  {% if interval.estimated_accuracy is not none %}<circle cx="{{ 14 * loop.index0 + 9.5 }}"
    cy="{{ 44 - 14 * interval.estimated_accuracy }}" r="2" fill="#1b1f24"><title>estimated accuracy {{
    number(interval.estimated_accuracy) }}</title></circle>{% endif %}
  {% endfor %}
</svg>
<p class="legend muted">oldest left, newest right ·{% for name, tone in colours.items() %}<span
  style="background: {{ tone }}"></span>{{ label(name) }}{% endfor %} · dots: estimated accuracy</p>
<table id="drift">
  <tr><th>interval (UTC)</th><th>decision</th><th>records</th><th>largest distance</th><th>smallest KS p</th>
    <th>estimated accuracy</th><th>violations</th><th>report</th></tr>
  {% for interval in snapshot.drift %}
  <tr data-run-key="{{ interval.run_key }}">
    <td>{{ when(interval.start) }}</td><td>{{ badge(interval.decision) }}</td>
    <td class="num">{{ "—" if interval.item_count is none else interval.item_count }}</td>
    <td class="num" title="{{ distances(interval) }}">{{ number(interval.max_distance) }}</td>
    <td class="num">{{ "—" if interval.smallest_p_value is none else "%.2g" | format(interval.smallest_p_value) }}</td>
    <td class="num">{{ number(interval.estimated_accuracy) }}</td>
    <td>{% for violation in interval.violations %}{{ violation }}{% if not loop.last %}, {% endif %}{% else %}{%
      if interval.violated_checks %}<span class="muted">ignored: {{ interval.violated_checks | join(", ") }}</span>{%
      else %}—{% endif %}{% endfor %}</td>
    <td>{% if interval.report_uri %}<a class="report" href="{{ links.stored_object(interval.report_uri) }}">report</a>{%
      endif %}</td>
  </tr>
  {% endfor %}
</table>
{% else %}<p class="muted">No interval monitored yet: scones_monitor reports here after each run.</p>{% endif %}

<h2>Routing per interval</h2>
{% if snapshot.routing %}
<p class="legend muted">{% for name, tone in routing_colours.items() %}<span style="background: {{ tone }}"></span>{{
  name }}{% endfor %}</p>
<table id="routing">
  <tr><th>interval (UTC)</th><th>photos</th><th>nearby</th><th>distant</th><th>review</th><th>failed</th><th></th>
    <th>routing file</th></tr>
  {% for totals in snapshot.routing %}
  <tr data-run-key="{{ totals.run_key }}">
    <td>{{ when(totals.interval_start) if totals.interval_start else totals.run_key }}</td>
    <td class="num">{{ totals.photos }}</td><td class="num">{{ totals.nearby }}</td>
    <td class="num">{{ totals.distant }}</td><td class="num">{{ totals.review }}</td>
    <td class="num{{ ' bad' if totals.failed else '' }}">{{ totals.failed }}</td>
    <td><div class="bar">{% for name, tone in routing_colours.items() %}{% set count = totals[name] %}{% if count
      %}<span style="width: {{ 100 * count / totals.photos }}%; background: {{ tone }}"></span>{% endif %}{%
      endfor %}</div></td>
    <td><a href="{{ links.stored_object(totals.routing_uri) }}">routing.json</a></td>
  </tr>
  {% endfor %}
</table>
{% else %}<p class="muted">No routing file yet: scones_inference writes one per interval.</p>{% endif %}

<h2>Registry history</h2>
{% if snapshot.registry %}
<table id="registry">
  <tr><th>version</th><th>status</th><th>registered</th><th>trained by run</th><th>accuracy</th><th>ECE</th>
    <th>decided by</th><th>note</th><th></th></tr>
  {% for version in snapshot.registry %}
  <tr class="{{ 'serving' if endpoint.serving and endpoint.serving.arn == version.arn else '' }}">
    <td>{{ version.version }}{% if endpoint.serving and endpoint.serving.arn == version.arn %} · serving{% endif %}</td>
    <td>{{ version.status }}</td><td>{{ stamp(version.created) }}</td><td>{{ version.run_key or "—" }}</td>
    <td class="num">{{ number(version.accuracy) }}</td><td class="num">{{ number(version.ece) }}</td>
    <td>{% if version.approved_by %}{{ version.approved_by }}, {{ stamp(version.approved_at) }}{% else %}—{%
      endif %}</td>
    <td>{{ version.description }}</td>
    <td>{% if links.evaluation and version.run_key %}<a href="{{ links.evaluation(version.run_key) }}">evaluation</a>{%
      endif %}</td>
  </tr>
  {% endfor %}
</table>
{% else %}<p class="muted">No model version registered yet.</p>{% endif %}
</body></html>
""")


def _when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{as_utc(moment):%Y-%m-%d %H:%M} UTC"


def _stamp(text: str | None) -> str:
    """An ISO time as the page shows times; other text as it is."""
    if not text:
        return "—"
    try:
        return _when(datetime.fromisoformat(text))
    except ValueError:
        return text


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 60:.0f} min" if value < 1 else f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} days"


def _badge(decision: str) -> Markup:
    colour = DECISION_COLOURS.get(decision, "#57606a")
    return Markup('<span class="badge" style="background: {}">{}</span>').format(
        colour, DECISION_LABELS.get(decision, decision))


def _distances(interval: DriftInterval) -> str:
    top = sorted(interval.distances.items(), key=lambda item: -item[1])[:5]
    return ", ".join(f"{name} {value:.3f}" for name, value in top)


def health_page(snapshot: HealthSnapshot, links: PageLinks) -> str:
    return PAGE.render(style=STYLE, snapshot=snapshot, endpoint=snapshot.endpoint, links=links, when=_when,
                       number=_number, stamp=_stamp, hours=_hours, badge=_badge, distances=_distances,
                       colour=lambda decision: DECISION_COLOURS.get(decision, "#57606a"),
                       label=lambda decision: DECISION_LABELS.get(decision, decision),
                       colours=DECISION_COLOURS, routing_colours=ROUTING_COLOURS)
