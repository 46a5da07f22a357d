"""The HTML of the review queue and of a model's evaluation report (Jinja2, everything escaped)."""

from __future__ import annotations

from typing import Any

import jinja2

from include.review import LABELS
from include.review_queue import QueuePage

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1rem; color: #1b1f24; }
header { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap; }
h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
.muted { color: #5b6470; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: .8rem; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: .6rem; background: #fff; }
.card img { width: 100%; max-height: 240px; object-fit: contain; background: #f3f4f6; border-radius: 4px; }
.card dl { display: grid; grid-template-columns: auto 1fr; gap: .15rem .5rem; font-size: .85rem; margin: .4rem 0; }
.card dt { color: #5b6470; } .card dd { margin: 0; overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; gap: .3rem; }
.actions button { flex: 1; padding: .35rem; border-radius: 4px; border: 1px solid #8c959f; background: #f6f8fa;
  cursor: pointer; }
.actions button:disabled { cursor: not-allowed; opacity: .5; }
.card.done { opacity: .55; } .status { font-size: .85rem; min-height: 1.1rem; margin: .3rem 0 0; }
.error { color: #b42318; } .ok { color: #1a7f37; }
nav { margin: 1rem 0; display: flex; gap: 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; } td, th { border: 1px solid #d0d7de; padding: .3rem .6rem; }
th { background: #f6f8fa; text-align: left; }
"""

REVIEW_PAGE = _ENVIRONMENT.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Review queue · Scones</title>
<style>{{ style }}</style></head>
<body>
<header>
  <h1>Review queue</h1>
  <span class="muted">{{ page.total }} photo{{ "" if page.total == 1 else "s" }} waiting,
    {{ page.order_description }} · page {{ page.number }} of {{ page.pages }}
    · signed in as {{ reviewer }}</span>
</header>
{% if not can_label %}<p class="error">You may look at the queue; labelling needs edit access to the
  scones_inference DAG.</p>{% endif %}
<p class="muted">Bicycle and motorcycle teach the next model; "not a vehicle" keeps the photo out of training;
  skip leaves it for someone else. Your name and the time are recorded with every label.</p>
<main class="grid">
{% for photo in page.photos %}
  <article class="card" data-photo="{{ photo.key }}">
    <a href="{{ base }}/review/photo?key={{ photo.key | urlencode }}" target="_blank" rel="noopener">
      <img loading="lazy" src="{{ base }}/review/thumbnail?key={{ photo.key | urlencode }}"
           alt="courier photo {{ photo.path }}"></a>
    <dl>
      <dt>Interval</dt><dd>{% if photo.interval_start %}{{ photo.interval_start.strftime("%Y-%m-%d %H:%M") }} to {{
        photo.interval_end.strftime("%H:%M") }} UTC{% else %}unknown{% endif %}</dd>
      <dt>Run</dt><dd>{{ photo.run_key }}</dd>
      <dt>Queued</dt><dd>{{ photo.queued_at.strftime("%Y-%m-%d %H:%M:%S") }} UTC</dd>
      <dt>Model</dt><dd>{% for name, probability in photo.probabilities.items() %}{{ name }} {{
        "%.1f" | format(probability * 100) }}%{% if not loop.last %} · {% endif %}{% else %}no
        probabilities{% endfor %}</dd>
      <dt>Why</dt><dd>{{ photo.note.get("reason") or "unsure" }}</dd>
      <dt>Photo</dt><dd>{{ photo.path }}</dd>
    </dl>
    <div class="actions">
      {% for label in labels %}<button type="button" data-label="{{ label }}" {{ "" if can_label else "disabled" }}>{{
        label | replace("-", " ") | capitalize }}</button>{% endfor %}
      <button type="button" data-skip>Skip</button>
    </div>
    <p class="status" role="status"></p>
  </article>
{% else %}
  <p>Nothing to review. Photos the model is unsure about appear here after each inference run.</p>
{% endfor %}
</main>
<nav>
  {% if page.number > 1 %}<a href="{{ base }}/review/?page={{ page.number - 1 }}">« previous</a>{% endif %}
  {% if page.number < page.pages %}<a href="{{ base }}/review/?page={{ page.number + 1 }}">next »</a>{% endif %}
</nav>
<script>
const labelsUrl = {{ labels_url | tojson }};
for (const card of document.querySelectorAll(".card")) {
  const status = card.querySelector(".status");
  const finish = (text, kind) => {
    status.textContent = text; status.className = "status " + kind;
    if (kind === "error") return;
    card.classList.add("done");
    card.querySelectorAll("button").forEach(b => { b.disabled = true; });
  };
  card.querySelector("[data-skip]").addEventListener("click", () => finish("skipped: left for someone else", "ok"));
  for (const button of card.querySelectorAll("[data-label]")) {
    button.addEventListener("click", async () => {
      status.textContent = "saving…";
      try {
        const response = await fetch(labelsUrl, {method: "POST", credentials: "same-origin",
          headers: {"Content-Type": "application/json"},
          body: JSON.stringify({photo: card.dataset.photo, label: button.dataset.label})});
        const answer = await response.json().catch(() => ({}));
        if (response.ok) finish(`labelled ${answer.label} by ${answer.reviewer}`, "ok");
        else if (response.status === 409) finish(answer.detail || "already labelled by someone else", "ok");
        else finish(answer.detail || `failed (${response.status})`, "error");
      } catch (error) { finish(`failed: ${error}`, "error"); }
    });
  }
}
</script>
</body></html>
""")

EVALUATION_PAGE = _ENVIRONMENT.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Evaluation of {{ model_key }} · Scones</title>
<style>{{ style }}</style></head>
<body>
<h1>Evaluation of {{ model_key }}</h1>
{% if record %}<p>Model version <strong>{{ record["ModelPackageVersion"] }}</strong>:
  <strong>{{ record["ModelApprovalStatus"] }}</strong>{% if approval_by %} by {{ approval_by }} at {{ approval_at
  }}{% endif %}{% if record.get("ApprovalDescription") %} — “{{ record["ApprovalDescription"] }}”{% endif %}</p>
{% else %}<p class="muted">Not registered (the quality gate may have refused it).</p>{% endif %}
<table>
  <tr><th>metric</th><th>candidate</th><th>serving model (re-scored on this test split)</th></tr>
  {% for name, mine, theirs in rows %}<tr><td>{{ name }}</td><td>{{ mine }}</td><td>{{ theirs }}</td></tr>{% endfor %}
</table>
<h2>Confusion matrix (rows: true class, columns: predicted)</h2>
<table>
  <tr><th></th>{% for label in matrix["labels"] %}<th>{{ label }}</th>{% endfor %}</tr>
  {% for label in matrix["labels"] %}<tr><th>{{ label }}</th>{% for count in matrix["matrix"][loop.index0]
    %}<td>{{ count }}</td>{% endfor %}</tr>{% endfor %}
</table>
<p class="muted">{{ evaluation_uri }}</p>
</body></html>
""")


def review_page(page: QueuePage, *, base: str, reviewer: str, can_label: bool) -> str:
    return REVIEW_PAGE.render(style=STYLE, page=page, base=base, reviewer=reviewer, can_label=can_label,
                              labels=LABELS, labels_url=f"{base}/review/labels")


def _metric(value: Any) -> str:
    return "—" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def evaluation_page(model_key: str, evaluation: dict, evaluation_uri: str, record: dict | None,
                    approval_by: str | None, approval_at: str | None) -> str:
    candidate, champion = evaluation["metrics"], evaluation.get("champion") or {}
    rows = [("accuracy", candidate.get("accuracy"), champion.get("accuracy")),
            ("ECE", candidate.get("ece"), champion.get("ece")),
            ("log loss", candidate.get("log_loss"), champion.get("log_loss"))]
    for kind in ("precision", "recall", "f1"):
        rows += [(f"{kind} {name}", value, (champion.get(kind) or {}).get(name))
                 for name, value in (candidate.get(kind) or {}).items()]
    rows.append(("test images", candidate.get("n"), champion.get("n")))
    matrix = evaluation.get("confusion_matrix") or {"labels": [], "matrix": []}
    return EVALUATION_PAGE.render(style=STYLE, model_key=model_key, record=record, approval_by=approval_by,
                                  approval_at=approval_at, evaluation_uri=evaluation_uri, matrix=matrix,
                                  rows=[(name, _metric(mine), _metric(theirs)) for name, mine, theirs in rows])
