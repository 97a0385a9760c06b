"""Charts drawn on the server as inline SVG: no script, no chart library, no request to anyone.

Why not a JavaScript chart library: the console's Content-Security-Policy allows
scripts from itself only, staff machines may have no internet, and a few bar
and line charts are about a hundred lines of SVG. Colours come from CSS classes
(``s0``..``s5`` in analytics.css), never from style attributes (the CSP refuses
inline styles). Every bar and point carries a ``<title>`` (its label and value,
shown on hover and read by screen readers); the page also has the same numbers
as a table.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 40
MAX_X_LABELS = 12


def _nice_max(value: float) -> float:
    """A round upper end for the y axis (1, 2, 2.5, 5 x 10^n) at or above ``value``."""
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exp:
            return step * exp
    return 10 * exp


def _fmt(value: Optional[float], percent: bool) -> str:
    if value is None:
        return "no conversations"
    if percent:
        return f"{value * 100:.1f}%"
    return f"{value:g}"


def _frame(title: str, body: List[str], legend: Sequence[str], kind: str) -> Markup:
    parts = [f'<svg class="chart {kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    x = LEFT
    for i, name in enumerate(legend):
        parts.append(f'<rect class="s{i % 6} key" x="{x}" y="8" width="10" height="10"></rect>'
                     f'<text class="legend" x="{x + 14}" y="17">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    parts += body
    parts.append("</svg>")
    return Markup("".join(parts))


def _axes(top_value: float, percent: bool, labels: Sequence[str], slot: float) -> List[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    out = []
    for i in range(5):
        value = top_value * i / 4
        y = TOP + plot_h - plot_h * i / 4
        label = f"{value * 100:.0f}%" if percent else f"{value:g}"
        out.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"></line>'
                   f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    every = max(1, math.ceil(len(labels) / MAX_X_LABELS))
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + slot * (i + 0.5)
        out.append(f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                   f"{escape(label[5:] if len(label) == 10 else label)}</text>")
    return out


def bars(labels: Sequence[str], series: Sequence[Tuple[str, Sequence[float]]], title: str) -> Markup:
    """Grouped bars: one group per label, one bar per series."""
    if not labels:
        return _frame(title, ['<text class="empty" x="50%" y="50%" text-anchor="middle">No data</text>'],
                      [], "bars")
    top_value = _nice_max(max((v for _n, values in series for v in values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    bar_w = max(1.0, slot * 0.8 / len(series))
    body = _axes(top_value, False, labels, slot)
    for s, (name, values) in enumerate(series):
        for i, value in enumerate(values):
            h = plot_h * (value / top_value) if top_value else 0
            x = LEFT + slot * i + slot * 0.1 + bar_w * s
            body.append(f'<rect class="s{s % 6} bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar_w:.1f}" '
                        f'height="{h:.1f}" data-value="{value:g}"><title>{escape(labels[i])}: '
                        f"{escape(name)} {value:g}</title></rect>")
    return _frame(title, body, [n for n, _v in series], "bars")


def lines(labels: Sequence[str], series: Sequence[Tuple[str, Sequence[Optional[float]]]], title: str,
          percent: bool = False) -> Markup:
    """One line per series; a missing value (no conversations that day) breaks the line."""
    if not labels:
        return _frame(title, ['<text class="empty" x="50%" y="50%" text-anchor="middle">No data</text>'],
                      [], "lines")
    values_all = [v for _n, values in series for v in values if v is not None]
    top_value = 1.0 if percent else _nice_max(max(values_all, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    body = _axes(top_value, percent, labels, slot)
    for s, (name, values) in enumerate(series):
        runs: List[List[str]] = [[]]
        points = []
        for i, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            x = LEFT + slot * (i + 0.5)
            y = TOP + plot_h - plot_h * (value / top_value)
            runs[-1].append(f"{x:.1f},{y:.1f}")
            points.append(f'<circle class="s{s % 6} point" cx="{x:.1f}" cy="{y:.1f}" r="3" '
                          f'data-value="{value:.4f}"><title>{escape(labels[i])}: {escape(name)} '
                          f"{_fmt(value, percent)}</title></circle>")
        for run in runs:
            if len(run) > 1:
                body.append(f'<polyline class="s{s % 6} line" points="{" ".join(run)}"></polyline>')
        body += points
    return _frame(title, body, [n for n, _v in series], "lines")


def hbars(items: Sequence[Tuple[str, float]], title: str) -> Markup:
    """Horizontal bars, one per item, largest first as given."""
    if not items:
        return _frame(title, ['<text class="empty" x="50%" y="50%" text-anchor="middle">No data</text>'],
                      [], "hbars")
    row_h = 20
    height = TOP + row_h * len(items) + 8
    top_value = max(v for _l, v in items) or 1
    label_w = 170
    plot_w = WIDTH - label_w - RIGHT - 40
    parts = [f'<svg class="chart hbars" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(items):
        y = TOP + row_h * i
        w = plot_w * value / top_value
        parts.append(f'<text class="tick" x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
                     f'<rect class="s0 bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                     f'data-value="{value:g}"><title>{escape(label)}: {value:g}</title></rect>'
                     f'<text class="tick" x="{label_w + w + 4:.1f}" y="{y + 14}">{value:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
