"""Charts as inline SVG, drawn here in Python: nothing is fetched, no JavaScript runs.

Each function returns `Markup` (safe to put in a template as it is): every text that comes from
the data is escaped here. Shapes that carry a value have a class (`bar`, `cell`, `spark`) and a
`<title>` (the browser shows it as a tooltip), so tests and screen readers can find them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

from feedbackloop.vocabulary import SENTIMENT_LABELS

__all__ = ["LEVELS", "LEVEL_COLORS", "heatmap", "sparkline", "stacked_bars"]

LEVELS = SENTIMENT_LABELS
# A diverging palette (ColorBrewer RdBu) that stays readable for red-green colour blindness.
LEVEL_COLORS = {
    "very_negative": "#b2182b",
    "negative": "#ef8a62",
    "neutral": "#bdbdbd",
    "positive": "#67a9cf",
    "very_positive": "#2166ac",
}
FONT = "font-family:system-ui,sans-serif;font-size:11px"


def _nice_max(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value`."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def stacked_bars(
    days: Sequence[date],
    series: Mapping[str, Sequence[int]],
    *,
    title: str,
    width: int = 1080,
    height: int = 260,
) -> Markup:
    """One bar per day, stacked by sentiment level (bottom: very negative), with a legend."""
    left, right, top, bottom = 36, 10, 24, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(series[level][i] for level in LEVELS) for i in range(len(days))]
    ymax = _nice_max(max(totals, default=0))
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.75, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-stacked" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;{FONT}">',
        f"<title>{escape(title)}</title>",
    ]
    for k in range(5):  # grid lines and y labels
        value = ymax * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{_n(y)}" y2="{_n(y)}" stroke="#e5e5e5"/>'
            f'<text x="{left - 4}" y="{_n(y + 4)}" text-anchor="end" fill="#666">'
            f"{_n(value)}</text>"
        )
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for level in LEVELS:
            count = series[level][i]
            if not count:
                continue
            h = plot_h * count / ymax
            y -= h
            parts.append(
                f'<rect class="bar" data-level="{level}" data-day="{day.isoformat()}" '
                f'x="{_n(x)}" y="{_n(y)}" width="{_n(bar_w)}" height="{_n(h)}" '
                f'fill="{LEVEL_COLORS[level]}"><title>{day:%a %d %b}: {count} '
                f"{level.replace('_', ' ')}</title></rect>"
            )
        if i % 5 == 0 or i == len(days) - 1:
            parts.append(
                f'<text x="{_n(x + bar_w / 2)}" y="{height - bottom + 14}" text-anchor="middle" '
                f'fill="#666">{day:%d %b}</text>'
            )
    x = left
    for level in LEVELS:  # legend
        parts.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{LEVEL_COLORS[level]}"/>'
            f'<text x="{x + 14}" y="15" fill="#333">{level.replace("_", " ")}</text>'
        )
        x += 14 + 7 * len(level) + 18
    if not any(totals):
        parts.append(
            f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" '
            'fill="#999">no scored feedback in this period</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _heat(share: float) -> str:
    """White to dark blue."""
    share = min(max(share, 0.0), 1.0)
    r = round(247 - (247 - 8) * share)
    g = round(251 - (251 - 69) * share)
    b = round(255 - (255 - 148) * share)
    return f"rgb({r},{g},{b})"


def heatmap(
    rows: Sequence[tuple[str, str]],
    columns: Sequence[str],
    values: Mapping[tuple[str, str], tuple[int, float | None]],
    *,
    title: str,
    label_width: int = 230,
    cell: int = 34,
) -> Markup:
    """Rows (key, label) x columns (ISO weeks); `values[(key, column)]` is (items, share
    negative). Darker is more items; the tooltip gives the share negative too."""
    top, bottom = 24, 8
    width = label_width + cell * max(len(columns), 1) + 10
    height = top + cell * max(len(rows), 1) + bottom
    vmax = max((v[0] for v in values.values()), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-heatmap" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;{FONT}">',
        f"<title>{escape(title)}</title>",
    ]
    for j, column in enumerate(columns):
        parts.append(
            f'<text x="{label_width + j * cell + cell / 2}" y="{top - 8}" text-anchor="middle" '
            f'fill="#666">{escape(column.split("-")[-1])}</text>'
        )
    for i, (key, label) in enumerate(rows):
        y = top + i * cell
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{label_width - 6}" y="{y + cell / 2 + 4}" text-anchor="end" fill="#333">'
            f"{escape(short)}</text>"
        )
        for j, column in enumerate(columns):
            items, share = values.get((key, column), (0, None))
            tip = f"{label}, {column}: {items} items" + (
                f", {share:.0%} negative" if share is not None and items else ""
            )
            parts.append(
                f'<rect class="cell{" filled" if items else ""}" data-items="{items}" '
                f'x="{label_width + j * cell + 1}" y="{y + 1}" width="{cell - 2}" '
                f'height="{cell - 2}" fill="{_heat(items / vmax) if items else "#f4f4f4"}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            if items:
                color = "#fff" if items / vmax > 0.55 else "#333"
                parts.append(
                    f'<text x="{label_width + j * cell + cell / 2}" y="{y + cell / 2 + 4}" '
                    f'text-anchor="middle" fill="{color}" pointer-events="none">{items}</text>'
                )
    if not rows:
        parts.append(
            f'<text x="{width / 2}" y="{top + cell / 2}" text-anchor="middle" fill="#999">'
            "no topic clusters yet</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(
    values: Sequence[float | None], *, title: str, width: int = 120, height: int = 28
) -> Markup:
    """A small trend line of weekly values (gaps where a week has no value)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart spark" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{escape(title)}</title>",
    ]
    if points:
        lo = min(v for _, v in points)
        hi = max(v for _, v in points)
        span = (hi - lo) or 1.0
        step = (width - 4) / max(len(values) - 1, 1)
        coords = " ".join(
            f"{_n(2 + i * step)},{_n(height - 3 - (v - lo) / span * (height - 6))}"
            for i, v in points
        )
        parts.append(
            f'<polyline class="spark-line" points="{coords}" fill="none" stroke="#2166ac" '
            'stroke-width="1.5"/>'
        )
        last_x, last_v = points[-1]
        parts.append(
            f'<circle cx="{_n(2 + last_x * step)}" '
            f'cy="{_n(height - 3 - (last_v - lo) / span * (height - 6))}" r="2" fill="#2166ac"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
