"""Data Docs that open anywhere: HTML without anything fetched from outside.

GX 1.24's pages load jQuery, Bootstrap, bootstrap-table, Vega and Font Awesome from six CDN
hosts and a logo from S3 that carries the data context id; its index builds its lists with
bootstrap-table from inline data, so offline it is blank. `make_offline` rewrites a page GX
rendered into one that needs nothing but itself: scripts and remote styles dropped, the
tracking image replaced by text, remote `url(...)` in CSS removed, a small stylesheet of our
own inlined and a Content-Security-Policy that refuses any other request. `render_index`
draws the index as plain HTML from the links GX's index builder collects.

No GX import here: the dashboard serves the site with this module and the paths below.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

__all__ = [
    "CSP",
    "SITE_NAME",
    "make_offline",
    "page_path",
    "render_index",
    "site_dir",
]

SITE_NAME = "local_site"
# GX's default base directory of the local site, relative to the file context's root.
SITE_BASE = "uncommitted/data_docs/local_site/"
# The policy the pages carry (and the dashboard sends): own files and inline styles, no
# script, nothing remote.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
    "base-uri 'none'; form-action 'none'"
)

_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", re.IGNORECASE | re.DOTALL)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.IGNORECASE)
# Elements dropped with their content: code, embedded documents, GX's newsletter footer.
_DROP = {"script", "iframe", "object", "embed", "frame", "frameset", "applet", "base", "footer"}
_VOID = {"area", "br", "col", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Attributes that make the browser fetch something by themselves.
_FETCHING = {"src", "srcset", "poster", "data", "background", "action", "formaction", "ping"}


def site_dir(state_path: Path) -> Path:
    """Where the site lives: the file context under `STATE_DIR/gx` (see checkpoints)."""
    return state_path / "gx" / "gx" / SITE_BASE


def page_path(key: Sequence[str]) -> str:
    """Site-relative path of a validation result's page, from `ValidationResultIdentifier
    .to_tuple()` (suite name parts, run name, run time, batch id), as GX's HTML store names it."""
    return "validations/" + "/".join(key) + ".html"


def _remote(url: str | None) -> bool:
    """A URL the browser would fetch from somewhere other than the site itself."""
    if not url:
        return False
    value = url.strip()
    if value.startswith("//") or value.startswith("\\\\"):
        return True
    scheme = _SCHEME.match(value)
    return bool(scheme) and scheme.group(1).lower() != "data"


def _clean_css(css: str) -> str:
    css = _CSS_IMPORT.sub("", css)
    return _CSS_URL.sub(lambda m: "none" if _remote(m.group(2)) else m.group(0), css)


STYLESHEET = """
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;
background:#f6f7f9}
a{color:#1d4ed8}code,pre{white-space:pre-wrap;font-size:12px}
nav.navbar.sticky-top,nav.top{display:flex;align-items:center;gap:1rem;padding:.5rem 1.5rem;
background:#1f2937;color:#e5e7eb;height:auto!important}nav.sticky-top a{color:#e5e7eb}
.gx-brand{font-weight:700;color:#fff}
.breadcrumb{display:flex;gap:.6rem;list-style:none;margin:0;padding:0}
.container-fluid{padding:1rem 1.5rem}.row{display:flex;flex-wrap:wrap}
.col-12{flex:0 0 100%;min-width:0}.col-6{flex:0 0 50%;min-width:0}
.col-lg-2,.col-md-2{flex:0 0 16%;min-width:12rem;padding-right:1rem}
.col-md-10,.col-lg-10{flex:1 1 0;min-width:0}
@media(max-width:900px){.col-6,.col-md-2,.col-lg-2,.col-md-10,.col-lg-10{flex:0 0 100%}}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{text-align:left;padding:.3rem .45rem;border-bottom:1px solid #eee;vertical-align:top}
th{color:#555;font-weight:600;background:#fafafa}
.alert,.card{border:1px solid #e5e7eb;border-radius:6px;background:#fff;margin:.5rem 0;
padding:.6rem .8rem}
.card-header{font-weight:600}.nav{list-style:none;padding:0;margin:0}
.text-danger,td.failed{color:#b91c1c}.text-success,td.passed{color:#15803d}.text-warning{color:#a16207}
.fas,.far,.fa{font-style:normal}
.fa-check-circle::before{content:"\\2714"}.fa-times::before{content:"\\2716"}
.fa-exclamation-triangle::before{content:"\\26A0"}.fa-question-circle::before{content:"?"}
.card:has(.btn-group-toggle){display:none}
.muted{color:#666}.small{font-size:12px}
"""


class _Offline(HTMLParser):
    """Re-emits a page token by token, leaving out whatever would load from outside."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self._skip: str | None = None
        self._depth = 0
        self._in_style = False

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _attrs(attrs: Iterable[tuple[str, str | None]]) -> str:
        parts = []
        for name, value in attrs:
            parts.append(f" {name}" if value is None else f' {name}="{html.escape(value)}"')
        return "".join(parts)

    def _keep(self, tag: str, attrs: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
        kept: list[tuple[str, str | None]] = []
        for name, value in attrs:
            if name.startswith("on"):
                continue  # inline handlers: no script runs here
            if name in _FETCHING and _remote(value):
                continue
            if name in ("href", "xlink:href") and tag != "a" and _remote(value):
                continue  # SVG <image>/<use> and the like load their href
            if name == "href" and value and value.strip().lower().startswith("javascript:"):
                continue
            if name == "style" and value:
                value = _clean_css(value)
            kept.append((name, value))
        if tag == "a" and any(n == "href" and _remote(v) for n, v in kept):
            kept.append(("rel", "noopener noreferrer"))
        return kept

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], closed: bool) -> None:
        if self._skip is not None:
            if tag == self._skip and not closed:
                self._depth += 1
            return
        values = dict(attrs)
        if tag in _DROP:
            if tag not in _VOID and not closed:
                self._skip, self._depth = tag, 1
            return
        rel = (values.get("rel") or "").lower()
        # Icons too: GX points validation pages at a favicon one level off (a 404 each time).
        if tag == "link" and (
            _remote(values.get("href"))
            or rel in ("preconnect", "dns-prefetch", "prefetch", "icon", "shortcut icon")
        ):
            return
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            return
        if tag == "img" and (_remote(values.get("src")) or _remote(values.get("srcset"))):
            # GX's logo from S3 with the context id in its query: a tracking image.
            self.out.append(f'<span class="gx-brand">{html.escape(values.get("alt") or "")}</span>')
            return
        self.out.append(f"<{tag}{self._attrs(self._keep(tag, attrs))}{' /' if closed else ''}>")
        if tag == "head":
            self.out.append(
                f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
                '<meta name="referrer" content="no-referrer">'
            )
        self._in_style = tag == "style"

    # ------------------------------------------------------------ parser hooks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def handle_endtag(self, tag: str) -> None:
        if self._skip is not None:
            if tag == self._skip:
                self._depth -= 1
                if self._depth == 0:
                    self._skip = None
            return
        if tag in _DROP:
            return
        if tag == "head":
            self.out.append(f"<style>{STYLESHEET}</style>")
        self._in_style = False
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self._skip is None:
            self.out.append(_clean_css(data) if self._in_style else data)

    def handle_entityref(self, name: str) -> None:
        if self._skip is None:
            self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        if self._skip is None:
            self.out.append(f"&#{name};")

    def handle_decl(self, decl: str) -> None:
        self.out.append(f"<!{decl}>")

    def handle_comment(self, data: str) -> None:
        pass  # conditional comments could load things; nothing in them is needed

    def handle_pi(self, data: str) -> None:
        pass


def make_offline(page: str) -> str:
    """`page` with every script and outside resource removed (see the module docstring)."""
    parser = _Offline()
    parser.feed(page)
    parser.close()
    return "".join(parser.out)


# ------------------------------------------------------------------------------ index


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return "" if value is None else str(value)


def _link(path: str) -> str:
    """GX url-encodes the index's links; decoded first so they are not encoded twice."""
    return quote(unquote(path))


def render_index(links: Mapping[str, Any], site_name: str = SITE_NAME) -> str:
    """The site's index as plain HTML: validation results (newest first) and suites."""
    esc = html.escape
    validations = list(links.get("validations_links") or [])
    suites = list(links.get("expectations_links") or [])
    rows = []
    for v in validations:
        success = v.get("validation_success")
        status = "passed" if success else "failed"
        run_name = v.get("run_name")
        rows.append(
            f'<tr class="validation {status}" data-suite="{esc(str(v["expectation_suite_name"]))}">'
            f'<td class="{status}">{"✔ passed" if success else "✖ failed"}</td>'
            f"<td>{esc(_when(v.get('run_time')))}</td>"
            f'<td><a class="validation-link" href="{esc(_link(v["filepath"]))}">'
            f"{esc(str(v['expectation_suite_name']))}</a></td>"
            f"<td>{esc(str(v.get('asset_name') or ''))}</td>"
            f"<td>{esc(str(v.get('batch_identifier') or ''))}</td>"
            f"<td>{esc('' if run_name in (None, '__none__') else str(run_name))}</td></tr>"
        )
    suite_rows = [
        f'<li><a class="suite-link" href="{esc(_link(s["filepath"]))}">'
        f"{esc(str(s['expectation_suite_name']))}</a></li>"
        for s in suites
    ]
    failed = sum(1 for v in validations if not v.get("validation_success"))
    empty = '<tr><td colspan="6" class="muted">no validation results yet</td></tr>'
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Data Docs · {esc(site_name)}</title>
<style>{STYLESHEET}</style></head>
<body><nav class="top"><span class="gx-brand">Data Docs</span>
<span>{esc(site_name)} · Great Expectations validation results</span></nav>
<div class="container-fluid">
<section class="card" id="validations"><h2>Validation results</h2>
<p class="muted small">{len(validations)} results, {failed} failed; newest first.</p>
<table><thead><tr><th>status</th><th>run time</th><th>expectation suite</th><th>asset</th>
<th>batch</th><th>run name</th></tr></thead>
<tbody>{"".join(rows) or empty}</tbody></table></section>
<section class="card" id="suites"><h2>Expectation suites</h2>
<ul>{"".join(suite_rows) or '<li class="muted">none</li>'}</ul></section>
</div></body></html>
"""
