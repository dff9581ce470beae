# HTML and CSS lines read better unwrapped than cut at 100 columns.
# ruff: noqa: E501
"""The pages' Jinja2 templates, kept in Python so they ship with the package as code.

Autoescaping is on; `finalize` also replaces anything shaped like an email address or a 64-hex
hash in any value a page prints (texts are masked before storage: this is the second line).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Any

from jinja2 import ChainableUndefined, DictLoader, Environment
from markupsafe import Markup

__all__ = ["EMAIL", "environment", "scrub"]

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
HEX_HASH = re.compile(r"\b[0-9a-fA-F]{64}\b")


def scrub(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Markup):  # built by us (charts), its data texts already escaped
        return value
    if isinstance(value, str):
        return HEX_HASH.sub("[hash]", EMAIL.sub("[email]", value))
    return value


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _minutes(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 60:
        return f"{value:.0f} min"
    if value < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / 1440:.1f} d"


def _kpi(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "share":
        return f"{value:.0%}"
    if unit == "minutes":
        return _minutes(value)
    return f"{value:,.0f}"


def _change(number: Any) -> str:
    change = number.change
    if change is None:
        return "no week to compare with"
    arrow = "▲" if change > 0 else ("▼" if change < 0 else "→")
    if number.unit == "share":
        return f"{arrow} {change * 100:+.1f} pp week over week"
    return f"{arrow} {change:+.0%} week over week"


def _weight(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def _words(value: Any) -> str:
    return "" if value is None else str(value).replace("_", " ")


def _json(value: Any) -> str:
    """Plain text, not Markup: it goes through autoescape and `scrub` like any value."""
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


def _yesno(value: Any) -> str:
    if value is None:
        return "unknown"
    return "yes" if value else "no"


_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · feedbackloop</title>
<style>
body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;color:#222;background:#f6f7f9}
header{display:flex;gap:1.5rem;align-items:center;padding:.6rem 1.5rem;background:#1f2937;color:#fff}
header a{color:#e5e7eb;text-decoration:none}header a:hover{color:#fff;text-decoration:underline}
header .brand{font-weight:700;color:#fff}header nav{display:flex;gap:1.1rem;flex:1}
header .user{color:#9ca3af;font-size:12px}
main{max-width:1180px;margin:0 auto;padding:1rem 1.5rem 3rem}
h1{font-size:1.35rem;margin:.8rem 0}h2{font-size:1.05rem;margin:0 0 .6rem}
section.card{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:1rem;margin:0 0 1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:.8rem}
.two{display:grid;grid-template-columns:1fr 1fr;gap:1rem}@media(max-width:900px){.two{grid-template-columns:1fr}}
.kpi{background:#fff;border:1px solid #e5e7eb;border-radius:6px;padding:.7rem .8rem}
.kpi .name{color:#555;font-size:12px}.kpi .value{font-size:1.5rem;font-weight:600}
.kpi .change{font-size:12px}.good{color:#15803d}.bad{color:#b91c1c}.flat{color:#666}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:.3rem .45rem;border-bottom:1px solid #eee;vertical-align:top}
th{color:#555;font-weight:600;background:#fafafa}
a{color:#1d4ed8}.muted{color:#777}.small{font-size:12px}
.status{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:12px;background:#eef}
.status.failed,.status.skipped{background:#fee2e2}.status.sent{background:#dcfce7}
.status.shadow{background:#f3f4f6}.status.pending{background:#fef9c3}
.flash{padding:.5rem .8rem;border-radius:4px;background:#dcfce7;border:1px solid #86efac}
.flash.error{background:#fee2e2;border-color:#fca5a5}
.error-box{color:#991b1b;background:#fef2f2;border:1px solid #fecaca;padding:.5rem;border-radius:4px}
blockquote{margin:.4rem 0;padding:.4rem .7rem;background:#f9fafb;border-left:3px solid #d1d5db;
white-space:pre-wrap;max-height:12rem;overflow:auto}
form.inline{display:inline-flex;gap:.4rem;align-items:center;flex-wrap:wrap;margin:.3rem 0}
button{font:inherit;padding:.25rem .7rem;border-radius:4px;border:1px solid #9ca3af;background:#fff;cursor:pointer}
button.accept,button.correct{border-color:#16a34a;color:#166534}
button.reject,button.wrong{border-color:#dc2626;color:#991b1b}
input,select{font:inherit;padding:.2rem .35rem}
.pos{color:#1d4ed8}.neg{color:#b91c1c}
pre{white-space:pre-wrap;font-size:12px;margin:0}
table.kv th{width:12rem}h1 .small{margin-left:.4rem}
</style></head>
<body><header><a class="brand" href="/">feedbackloop</a>
<nav><a href="/">Overview</a><a href="/faq">FAQ candidates</a><a href="/reviews">Review queue</a>
<a href="/failures">Failures</a><a href="/governance">Governance</a></nav><span class="user">signed in as {{ user }}</span></header>
<main>
{% if message %}<p class="flash {{ message_kind }}" role="status">{{ message }}</p>{% endif %}
{% block content %}{% endblock %}
</main></body></html>
"""

_MARTS_NOTE = """{% macro unavailable(key) %}{% if errors.get(key) %}
<p class="error-box">{{ errors[key] }}</p>{% endif %}{% endmacro %}"""

_INDEX = """{% extends "base.html" %}{% from "macros.html" import unavailable with context %}
{% block content %}
<h1>Customer feedback{% if kpis and kpis.week %} · week {{ kpis.week }}{% endif %}</h1>
<section class="card" id="key-numbers"><h2>Key numbers
{% if kpis and kpis.previous_week %}<span class="muted small">({{ kpis.week }} against
{{ kpis.previous_week }})</span>{% endif %}</h2>
{{ unavailable("kpis") }}
{% if kpis %}<div class="grid">{% for n in kpis.numbers %}
<div class="kpi" data-kpi="{{ n.name }}"><div class="name">{{ n.name }}</div>
<div class="value">{{ n.value|kpi(n.unit) }}</div>
<div class="change {{ n.judgement }}">{{ n|change }}</div>
{{ sparks[loop.index0] }}</div>{% endfor %}</div>{% endif %}
</section>
<section class="card" id="sentiment"><h2>Sentiment over the last 30 days</h2>
{{ unavailable("sentiment") }}{{ sentiment_chart }}</section>
<section class="card" id="topics"><h2>Topics by ISO week <span class="muted small">(largest
topics of the last 12 weeks; items per week)</span></h2>
{{ unavailable("topics") }}{{ heatmap_chart }}</section>
<div class="two">
<section class="card" id="recent-actions"><h2>Recent actions</h2>
<p class="muted small">Click an action to see why it was taken.</p>
<table><tr><th>#</th><th>when</th><th>action</th><th>rule</th><th>status</th><th>item</th></tr>
{% for a in actions %}<tr>
<td><a class="action-link" href="/actions/{{ a.id }}">#{{ a.id }}</a></td>
<td class="small">{{ a.created_at|when }}</td><td>{{ a.action_type|words }}</td>
<td>{{ a.rule }}</td><td><span class="status {{ a.status }}">{{ a.status }}</span></td>
<td><a href="/items/{{ a.item_type|urlencode }}/{{ a.item_source|urlencode }}/{{ a.item_source_id|urlencode }}">{{ a.item_type }}
{{ a.item_source }}:{{ a.item_source_id }}</a></td></tr>
{% else %}<tr><td colspan="6" class="muted">no actions yet</td></tr>{% endfor %}</table>
</section>
<section class="card" id="recent-failures"><h2>Recent failures
<span class="muted small">(last {{ days }} days)</span></h2>
<table><tr><th>when</th><th>what</th><th>detail</th></tr>
{% for f in recent_failures %}<tr><td class="small">{{ f.when|when }}</td>
<td>{{ f.kind }}: {% if f.link %}<a href="{{ f.link }}">{{ f.what }}</a>{% else %}{{ f.what }}{% endif %}</td>
<td class="small">{{ f.detail|truncate(160) }}</td></tr>
{% else %}<tr><td colspan="3" class="muted">no failures</td></tr>{% endfor %}</table>
<p><a href="/failures">All recent failures ({{ failure_total }})</a></p>
</section></div>
<section class="card" id="survey-funnel"><h2>Survey funnel <span class="muted small">(survey
links in sent replies by send week, last 8 weeks; rates over sends)</span></h2>
{{ unavailable("surveys") }}
<table><tr><th>week</th><th>template</th><th>rule</th><th>segment</th><th>sent</th><th>opened</th>
<th>answered</th><th>open rate</th><th>response rate</th></tr>
{% for s in surveys %}<tr class="survey-row"><td>{{ s.iso_week }}</td><td>{{ s.template }}</td>
<td>{{ s.rule }}</td><td>{{ s.segment }}</td><td class="sends">{{ s.survey_sends }}</td>
<td class="opens">{{ s.survey_opens }}</td><td class="answers">{{ s.survey_answers }}</td>
<td class="open-rate">{{ s.open_rate|kpi('share') }}</td><td class="response-rate">{{ s.response_rate|kpi('share') }}</td></tr>
{% else %}<tr><td colspan="9" class="muted">no survey sent in these weeks</td></tr>{% endfor %}</table>
</section>
<section class="card" id="learn"><h2>Learn</h2>
<p><a href="/faq">FAQ candidates</a>{% if faq_count is not none %} ({{ faq_count }} in the last
marts build){% endif %}: questions that deserve an article, accept or reject them.</p>
<p><a href="/reviews">Review queue</a> ({{ review_count }} queued): rate automated actions as correct
or wrong.</p></section>
{% endblock %}"""

_SIGNALS = """{% macro signal_table(signals, reason) %}{% if signals %}
<table class="signals"><tr><th>token or rule</th><th>weight</th><th>notes</th></tr>
{% for s in signals %}<tr><td>{{ s.what }}</td>
<td class="{{ 'neg' if (s.weight or 0) < 0 else 'pos' }}">{{ s.weight|weight }}</td>
<td class="small">{{ s.notes|join('; ') }}</td></tr>{% endfor %}</table>
{% else %}<p class="muted">{{ reason|words if reason else 'no word carried sentiment' }}</p>{% endif %}
{% endmacro %}"""

_ACTION = """{% extends "base.html" %}{% from "signals.html" import signal_table %}
{% block content %}{% set a = d.action %}{% set e = d.explanation %}
<h1>Why action #{{ a.id }}: {{ a.action_type|words }}{% if d.payload.get("ref") %}
<span class="muted small">({{ d.payload.get("ref") }})</span>{% endif %}</h1>
<section class="card" id="what"><h2>What</h2><table class="kv">
<tr><th>action</th><td>{{ a.action_type|words }} → {{ a.target or 'no target' }}</td></tr>
<tr><th>status</th><td><span class="status {{ a.status }}">{{ a.status }}</span>
after {{ a.attempts }} attempt(s){% if a.sent_at %}, sent {{ a.sent_at|when }}{% endif %}
{% if a.last_error %}<br><span class="small">{{ a.last_error }}</span>{% endif %}</td></tr>
<tr><th>item</th><td><a href="/items/{{ a.item_type|urlencode }}/{{ a.item_source|urlencode }}/{{ a.item_source_id|urlencode }}">
{{ a.item_type }} {{ a.item_source }}:{{ a.item_source_id }}</a>{% if d.item.channel %},
channel {{ d.item.channel }}{% endif %}{% if d.item.topic %}, topic {{ d.item.topic }}{% endif %}
{% if d.item.language %}, language {{ d.item.language }}{% endif %}
{% if d.item.ticket_status %}, ticket {{ d.item.ticket_status }}{% endif %}</td></tr>
{% for k, v in d.payload.items() if k != 'ref' %}<tr><th>{{ k|words }}</th>
<td>{{ v|yesno if v is boolean else (v|join(', ') if v is sequence and v is not string else v) }}</td></tr>{% endfor %}
{% if e.skipped %}<tr><th>not sent because</th><td>{{ e.skipped }}</td></tr>{% endif %}
</table></section>
<section class="card" id="rule"><h2>Rule “{{ a.rule }}”</h2>
{% if e.rule_description %}<p>{{ e.rule_description }}</p>{% endif %}
<p class="small muted">match: {{ e.match or 'all' }}{% if e.match == 'first' %} (stopped the
evaluation of later rules){% endif %}{% if e.shadow %}; shadow mode: recorded, not sent{% endif %};
rules version {{ e.rules_version }} ({{ e.rules_source }}); decided {{ e.decided_at }} by
{{ e.decided_by }}</p>
<table id="conditions"><tr><th>condition</th><th>value seen</th><th>the rule asks for</th></tr>
{% for c in d.conditions %}<tr><td>{{ c.field|words }}</td><td>{{ c.value }}</td>
<td>{{ c.expected }}</td></tr>
{% else %}<tr><td colspan="3" class="muted">no conditions: the rule matches every recent
scored item</td></tr>{% endfor %}</table></section>
{% if d.milestone %}<section class="card" id="milestone"><h2>Usage milestone
“{{ d.milestone.name }}”</h2><p>{{ d.milestone_words }}</p>
<p class="small muted">{{ d.milestone.definition.description or '' }}</p></section>{% endif %}
{% if d.sentiment %}<section class="card" id="sentiment"><h2>How the text was read</h2>
<p>Model <strong class="model-version">{{ d.sentiment.model_version or a.model_version }}</strong>:
{{ d.sentiment.label|words }}{% if d.sentiment.score is not none %}, score
{{ d.sentiment.score|weight }}{% endif %}{{ ', frustrated' if d.sentiment.frustrated else
', not frustrated' }}{% if d.sentiment.language %}, language {{ d.sentiment.language }}{% endif %}.</p>
{{ signal_table(d.signals, d.sentiment_reason) }}</section>{% else %}
<section class="card" id="sentiment"><h2>How the text was read</h2><p class="muted">No text was
read: this item carries none (a usage milestone), so no sentiment rule can match it.</p>
</section>{% endif %}
<section class="card" id="customer"><h2>Customer safeguards</h2><table class="kv">
<tr><th>known customer</th><td>{{ d.known_customer|yesno }}</td></tr>
{% for k, v in d.customer.items() %}<tr><th>{{ k|words }}</th>
<td>{{ v|yesno if v is boolean or v is none else v }}</td></tr>{% endfor %}</table>
{% if d.offer %}<p>Offer: {{ d.offer.kind }} {{ d.offer.name }}{% if d.offer.variant %},
variant {{ d.offer.variant }} (segment {{ d.offer.segment }}){% else %} withheld (cap
reached){% endif %}.</p>{% endif %}</section>
<section class="card" id="attempts"><h2>Delivery attempts</h2>
<table><tr><th>#</th><th>started</th><th>finished</th><th>outcome</th><th>HTTP</th><th>error</th></tr>
{% for t in d.attempts %}<tr><td>{{ t.attempt_no }}</td><td>{{ t.started_at|when }}</td>
<td>{{ t.finished_at|when }}</td><td>{{ t.outcome or 'no outcome recorded' }}</td>
<td>{{ t.http_status or '' }}</td><td class="small">{{ t.error or '' }}</td></tr>
{% else %}<tr><td colspan="6" class="muted">no delivery attempt</td></tr>{% endfor %}</table></section>
<section class="card" id="reviews"><h2>Human reviews</h2>
<table><tr><th>batch</th><th>verdict</th><th>label given</th><th>reviewer</th><th>when</th></tr>
{% for r in d.reviews %}<tr><td>{{ r.batch }}</td><td>{{ r.verdict or 'queued' }}</td>
<td>{{ r.sentiment_label|words }}</td><td>{{ r.reviewer }}</td><td>{{ r.reviewed_at|when }}</td></tr>
{% else %}<tr><td colspan="5" class="muted">not reviewed</td></tr>{% endfor %}</table></section>
<section class="card" id="audit"><h2>Audit rows</h2>
<table><tr><th>when</th><th>actor</th><th>action</th><th>entity</th><th>details</th></tr>
{% for r in d.audit %}<tr><td class="small">{{ r.occurred_at|when }}</td><td>{{ r.actor }}</td>
<td>{{ r.action }}</td><td>{{ r.entity_type }} {{ r.entity_id }}</td>
<td class="small"><pre>{{ r.details|json }}</pre>{{ r.reason }}</td></tr>
{% else %}<tr><td colspan="5" class="muted">no audit rows</td></tr>{% endfor %}</table></section>
{% endblock %}"""

_ITEM = """{% extends "base.html" %}{% from "signals.html" import signal_table %}
{% block content %}
<h1>{{ d.item_type|words }} {{ d.source }}:{{ d.source_id }}</h1>
<section class="card" id="text"><h2>Text (masked)</h2>
{% if d.text %}<blockquote>{{ d.text }}{% if d.text_cut %} […]{% endif %}</blockquote>
{% else %}<p class="muted">no text stored</p>{% endif %}
{% if d.topic %}<p>Topic: {{ d.topic.label or d.topic.topic_key or 'none' }}
{% if d.topic.cluster_id is not none and d.topic.cluster_id >= 0 %}(cluster {{ d.topic.cluster_id }})
{% else %}(outlier){% endif %}</p>{% endif %}</section>
<section class="card" id="actions"><h2>Actions on this item</h2>
<table><tr><th>#</th><th>action</th><th>rule</th><th>why</th><th>status</th></tr>
{% for a in d.actions %}<tr><td><a class="action-link" href="/actions/{{ a.id }}">#{{ a.id }}</a></td>
<td>{{ a.action_type|words }}</td><td>{{ a.rule }}</td>
<td class="small">{% for c in a.conditions %}{{ c.field|words }} = {{ c.value }}{{ '; ' if not loop.last }}{% endfor %}
{% if a.skipped %}<br>not sent: {{ a.skipped }}{% endif %}</td>
<td><span class="status {{ a.status }}">{{ a.status }}</span></td></tr>
{% else %}<tr><td colspan="5" class="muted">no rule acted on this item</td></tr>{% endfor %}</table>
</section>
<section class="card" id="scores"><h2>Sentiment scores</h2>
<table><tr><th>model</th><th>label</th><th>score</th><th>frustrated</th><th>language</th><th>scored</th></tr>
{% for s in d.scores %}<tr><td class="model-version">{{ s.model_version }}</td><td>{{ s.label|words }}</td>
<td>{{ s.sentiment|weight }}</td><td>{{ s.frustrated|yesno }}</td><td>{{ s.language or '' }}</td>
<td>{{ s.scored_at|when }}</td></tr>
{% else %}<tr><td colspan="6" class="muted">not scored</td></tr>{% endfor %}</table>
{% if d.scores %}<h2 style="margin-top:.8rem">Tokens and weights (newest score)</h2>
{{ signal_table(d.signals, d.scores[0].explanation.get('reason')) }}{% endif %}</section>
<section class="card" id="reviews"><h2>Human reviews</h2>
<table><tr><th>batch</th><th>action</th><th>verdict</th><th>label given</th><th>reviewer</th></tr>
{% for r in d.reviews %}<tr><td>{{ r.batch }}</td><td>{% if r.action_id %}
<a href="/actions/{{ r.action_id }}">#{{ r.action_id }}</a>{% endif %}</td>
<td>{{ r.verdict or 'queued' }}</td><td>{{ r.sentiment_label|words }}</td><td>{{ r.reviewer }}</td></tr>
{% else %}<tr><td colspan="5" class="muted">not reviewed</td></tr>{% endfor %}</table></section>
{% endblock %}"""

_FAQ = """{% extends "base.html" %}{% from "macros.html" import unavailable with context %}
{% block content %}<h1>FAQ candidates</h1>
<p class="muted">Questions asked often enough to deserve a help-center article (from the last
marts build). Accepting one marks it as being written; a rejected one comes back only when it
has grown by half again.</p>
{{ unavailable("faq") }}
{% for c in candidates %}<section class="card faq-candidate" id="cluster-{{ c.cluster_id }}"
data-cluster="{{ c.cluster_id }}" data-decision="{{ c.decision or '' }}">
<h2>{{ c.cluster_label or c.topic_key or ('cluster ' ~ c.cluster_id) }}
<span class="muted small">cluster {{ c.cluster_id }}</span></h2>
{% if c.key_phrases %}<p class="muted key-phrases">Key phrases: {{ c.key_phrases }}</p>{% endif %}
<p>{{ c.items_in_window }} items in {{ c.window_days }} days ({{ c.trend }}){% if
c.share_negative is not none %}, {{ '%.0f'|format(c.share_negative * 100) }}% negative{% endif %};
{{ c.cluster_size }} in the cluster.{% if c.previous_decision %} Back after a rejection.{% endif %}</p>
{% for ex in c.examples %}<blockquote>{{ ex|truncate(500) }}</blockquote>{% endfor %}
<p class="state">State: <strong>{{ c.decision or 'undecided' }}</strong>{% if c.decided_by %}
by {{ c.decided_by }} {{ c.decided_at|when }}{% endif %}</p>
{% if c.buttons %}<form class="inline" method="post" action="/faq/{{ c.cluster_id }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<label>Reviewer <input name="reviewer" value="{{ user }}" size="12" maxlength="128"></label>
<label>Note <input name="note" size="24" maxlength="500"></label>
{% for b in c.buttons %}<button type="submit" name="decision" value="{{ b }}"
class="{{ 'accept' if b == 'accepted' else 'reject' }}">{{ 'Accept' if b == 'accepted' else 'Reject' }}</button>
{% endfor %}</form>{% endif %}</section>
{% else %}{% if not errors.get("faq") %}<section class="card"><p class="muted">No candidates in the
last marts build.</p></section>{% endif %}{% endfor %}
{% endblock %}"""

_REVIEWS = """{% extends "base.html" %}{% block content %}<h1>Review queue</h1>
<p class="muted">A weekly sample of automated actions. Was the action right? When the sentiment
was read wrong, pick the right label: it becomes a training example.</p>
<form class="inline" method="post" action="/reviews/sample">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<button type="submit">Queue this week's sample</button></form>
{% for q in queue %}<section class="card review-item" id="review-{{ q.id }}" data-review="{{ q.id }}">
<h2>{{ q.action_type|words }} by rule {{ q.rule }} <span class="muted small">batch {{ q.batch }},
{% if q.action_id %}<a href="/actions/{{ q.action_id }}">action #{{ q.action_id }}</a>{% endif %}
</span></h2>
<p>Model {{ q.model_version }} read it as <strong>{{ q.model_label|words }}</strong>.</p>
<blockquote>{{ q.text|truncate(1500) }}</blockquote>
<form class="inline" method="post" action="/reviews/{{ q.id }}">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<label>Reviewer <input name="reviewer" value="{{ user }}" size="12" maxlength="128"></label>
<label>Right label <select name="sentiment_label"><option value="">(as read)</option>
{% for l in labels %}<option value="{{ l }}">{{ l|words }}</option>{% endfor %}</select></label>
<button type="submit" name="verdict" value="correct" class="correct">Correct</button>
<button type="submit" name="verdict" value="wrong" class="wrong">Wrong</button></form>
</section>{% else %}<section class="card"><p class="muted">Nothing to review. Queue this week's
sample above.</p></section>{% endfor %}
{% if reviewed %}<section class="card" id="recently-rated"><h2>Recently rated</h2>
<table><tr><th>#</th><th>action</th><th>verdict</th><th>label given</th><th>reviewer</th></tr>
{% for r in reviewed %}<tr><td>{{ r.id }}</td><td>{% if r.action_id %}<a href="/actions/{{ r.action_id }}">
#{{ r.action_id }}</a>{% endif %}</td><td>{{ r.verdict }}</td><td>{{ r.sentiment_label|words }}</td>
<td>{{ r.reviewer }}</td></tr>{% endfor %}</table></section>{% endif %}
{% endblock %}"""

_FAILURES = """{% extends "base.html" %}{% from "macros.html" import unavailable with context %}
{% block content %}<h1>Failures in the last {{ days }} days</h1>
<section class="card" id="flow-runs"><h2>Failed or crashed flow runs</h2>
<table><tr><th>ended</th><th>flow</th><th>deployment</th><th>state</th><th>error (masked)</th></tr>
{% for r in f.flow_runs %}<tr><td class="small">{{ r.ended_at|when }}</td><td>{{ r.flow_name }}</td>
<td>{{ r.deployment or '' }}</td><td>{{ r.state }}</td><td class="small">{{ r.error or '' }}</td></tr>
{% else %}<tr><td colspan="5" class="muted">none</td></tr>{% endfor %}</table></section>
<section class="card" id="failed-actions"><h2>Actions that failed for good</h2>
<table><tr><th>#</th><th>decided</th><th>action</th><th>rule</th><th>attempts</th><th>last error</th></tr>
{% for r in f.actions %}<tr><td><a href="/actions/{{ r.id }}">#{{ r.id }}</a></td>
<td class="small">{{ r.created_at|when }}</td><td>{{ r.action_type|words }} → {{ r.target or '' }}</td>
<td>{{ r.rule }}</td><td>{{ r.attempts }}</td><td class="small">{{ r.last_error or '' }}</td></tr>
{% else %}<tr><td colspan="6" class="muted">none</td></tr>{% endfor %}</table></section>
<section class="card" id="failed-pings"><h2>Failed health checks</h2>
<table><tr><th>checked</th><th>check</th><th>latency</th><th>detail</th></tr>
{% for r in f.pings %}<tr><td class="small">{{ r.checked_at|when }}</td><td>{{ r.check_name }}</td>
<td>{% if r.latency_ms is not none %}{{ '%.0f'|format(r.latency_ms) }} ms{% endif %}</td>
<td class="small">{{ r.detail|json }}</td></tr>
{% else %}<tr><td colspan="4" class="muted">none</td></tr>{% endfor %}</table></section>
<section class="card" id="failed-logins"><h2>Failed dashboard logins <span class="muted
small">(addresses as networks, names as keyed hashes)</span></h2>
<table><tr><th>when</th><th>client</th><th>user</th><th>reason</th><th>locked out</th></tr>
{% for r in f.logins %}<tr><td class="small">{{ r.occurred_at|when }}</td>
<td>{{ r.client_network }} <span class="muted small">#{{ r.client_key[:8] }}</span></td>
<td>{% if r.known_user %}the dashboard user{% elif r.user_key %}other name <span class="muted
small">#{{ r.user_key[:8] }}</span>{% else %}none{% endif %}</td><td>{{ r.reason }}</td>
<td>{% if r.locked_seconds %}{{ r.locked_seconds }} s{% endif %}</td></tr>
{% else %}<tr><td colspan="5" class="muted">none</td></tr>{% endfor %}</table></section>
<section class="card" id="ops-health"><h2>Failures per day and component <span class="muted
small">(mart_ops_health)</span></h2>{{ unavailable("ops_health") }}
<table><tr><th>day</th><th>component</th><th>failures</th><th>of</th></tr>
{% for r in ops_health %}<tr><td>{{ r.health_date|when }}</td>
<td>{{ r.component_type|words }}: {{ r.component }}</td><td>{{ r.failures }}</td><td>{{ r.events }}</td></tr>
{% else %}<tr><td colspan="4" class="muted">none</td></tr>{% endfor %}</table></section>
{% endblock %}"""

_GOVERNANCE = """{% extends "base.html" %}{% block content %}<h1>Governance: data checks</h1>
<p class="muted">The latest run of each Great Expectations checkpoint (from
<code>ops.validation_runs</code>), every expectation with its result, and the
<a href="/governance/docs/index.html">Data Docs</a> GX rendered for it.</p>
{% for c in runs %}<section class="card checkpoint" id="checkpoint-{{ c.checkpoint }}"
data-checkpoint="{{ c.checkpoint }}" data-run="{{ c.run_id }}" data-success="{{ 'true' if c.success else 'false' }}">
<h2>{{ c.checkpoint }} <span class="status {{ 'sent' if c.success else 'failed' }}">{{ 'passed' if c.success else 'failed' }}</span>
<span class="muted small">run #{{ c.run_id }} at {{ c.run_at|when }}{% if c.batch %}, batch {{ c.batch }}{% endif %}</span></h2>
<p class="small">{{ c.failed_expectations }} of {{ c.expectations|length }} expectations failed{% if c.evaluated %};
{{ '{:,}'.format(c.evaluated) }} rows evaluated{% endif %}{% if c.failed %}, {{ '{:,}'.format(c.failed) }} failed{% endif %}.
{{ c.runs }} run(s) recorded, {{ c.failed_runs }} failed.
{% for suite, link in c.docs.items() %}{% if link %}<a class="docs-link" data-suite="{{ suite }}" href="{{ link }}">Data Docs: {{ suite }}</a>
{% else %}<span class="muted">{{ suite }}: no Data Docs page rendered</span>{% endif %}{{ ' · ' if not loop.last }}{% endfor %}</p>
{% for e in c.errors %}<p class="error-box">{{ e }}</p>{% endfor %}
<table class="expectations"><tr><th>suite</th><th>expectation</th><th>column</th><th>result</th>
<th>failing</th><th>observed</th></tr>
{% for e in c.expectations %}<tr class="expectation {{ 'passed' if e.success else 'failed' }}">
<td>{{ e.suite }}</td><td>{{ e.expectation|words }}</td><td>{{ e.column }}</td>
<td><span class="status {{ 'sent' if e.success else 'failed' }}">{{ 'passed' if e.success else 'failed' }}</span></td>
<td class="failing">{% if e.unexpected_count is not none %}{{ '{:,}'.format(e.unexpected_count) }}{% if e.element_count %} of {{ '{:,}'.format(e.element_count) }}{% endif %}{% elif not e.success %}check failed{% endif %}</td>
<td>{{ e.observed_value if e.observed_value is not none else '' }}</td></tr>
{% else %}<tr><td colspan="6" class="muted">no expectation results stored</td></tr>{% endfor %}</table>
</section>{% else %}<section class="card"><p class="muted">No validation runs yet: run
<code>feedbackloop demo</code> or a collect flow.</p></section>{% endfor %}
{% endblock %}"""

_ERROR = """{% extends "base.html" %}{% block content %}<h1>{{ title }}</h1>
<section class="card"><p>{{ detail }}</p><p><a href="/">Back to the overview</a></p></section>
{% endblock %}"""

TEMPLATES = {
    "base.html": _BASE,
    "macros.html": _MARTS_NOTE,
    "signals.html": _SIGNALS,
    "index.html": _INDEX,
    "action.html": _ACTION,
    "item.html": _ITEM,
    "faq.html": _FAQ,
    "reviews.html": _REVIEWS,
    "failures.html": _FAILURES,
    "governance.html": _GOVERNANCE,
    "error.html": _ERROR,
}


def environment() -> Environment:
    env = Environment(
        loader=DictLoader(TEMPLATES),
        autoescape=True,
        finalize=scrub,
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=_when,
        minutes=_minutes,
        kpi=_kpi,
        change=_change,
        weight=_weight,
        words=_words,
        yesno=_yesno,
        json=_json,
    )
    return env
