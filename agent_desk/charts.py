"""Server-rendered SVG charts for the reports: a ranking (horizontal bars) and a trend (lines).

Small on purpose: no chart library and no script, so a chart prints, works with the page's
strict Content-Security-Policy (presentation attributes, no inline styles) and reads the same
in the export preview. Labels are Chinese-first; the font stack names Noto Sans CJK, which the
server's Debian package provides for the browser on the same machine and which Chinese
desktops replace with their own CJK font. Every mark carries a <title>, shown on hover.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

FONT = "Noto Sans CJK SC, Noto Sans SC, PingFang SC, Microsoft YaHei, sans-serif"
#: Colour-blind-safe (Okabe-Ito), in series order.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
INK, MUTED, GRID = "#1d2733", "#5d6b7a", "#d7dde4"


def _text(x: float, y: float, text: str, *, size: int = 13, anchor: str = "start", fill: str = INK, weight: str = "normal") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" font-weight="{weight}">{escape(text)}</text>'


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="{FONT}">'
    return Markup(head + f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _nice_max(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^n at or above `value` (an axis that ends on a round number)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(float(step * power) for step in (1, 2, 5, 10) if step * power >= value)


def ranking(title: str, rows: Sequence[tuple[str, float | None, str]], *, unit: str = "%", maximum: float | None = 100.0, width: int = 760) -> Markup:
    """Horizontal bars, best first: `rows` are (label, value or None for "no figure", hover
    text such as "911 / 972 = 93.72 %")."""
    ordered = sorted(rows, key=lambda r: (r[1] is None, -(r[1] or 0.0), r[0]))
    label_w, value_w, row_h, top = 190, 90, 26, 34
    height = top + row_h * max(1, len(ordered)) + 10
    scale_max = maximum if maximum is not None else _nice_max(max((v for _, v, _ in ordered if v is not None), default=0.0))
    bar_w = width - label_w - value_w
    body = [_text(0, 20, title, size=15, weight="bold")]
    if not ordered:
        body.append(_text(label_w, top + 18, "—", fill=MUTED))
    for i, (label, value, hover) in enumerate(ordered):
        y = top + i * row_h
        shown = label if len(label) <= 14 else label[:13] + "…"
        body.append(f"<g><title>{escape(label)}: {escape(hover)}</title>")
        body.append(_text(label_w - 8, y + 17, shown, anchor="end"))
        body.append(f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="{row_h - 8}" fill="#eef2f6"/>')
        if value is not None:
            w = bar_w * min(1.0, max(0.0, value / scale_max))
            body.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" fill="{COLOURS[0]}"/>')
        body.append(_text(label_w + bar_w + 8, y + 17, "—" if value is None else f"{value:.2f} {unit}".strip()))
        body.append("</g>")
    return _svg(width, height, title, body)


def trend(title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, unit: str = "%", maximum: float | None = 100.0, width: int = 760, height: int = 300) -> Markup:
    """Lines over the buckets `labels`, one per series (name, values; None is a gap), with a
    y axis from 0 to `maximum` (None: a round number above the largest value) and a legend."""
    left, right, top, bottom = 52, 16, 56, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs in series for v in vs if v is not None]
    y_max = maximum if maximum is not None else _nice_max(max(values, default=0.0))
    n = max(1, len(labels))
    step = plot_w / max(1, n - 1) if n > 1 else 0.0

    def x(i: int) -> float:
        return left + (i * step if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h * (1 - min(1.0, max(0.0, v / y_max)))

    body = [_text(0, 20, title, size=15, weight="bold")]
    for k, (name, _) in enumerate(series):
        lx = left + k * 150
        body.append(f'<rect x="{lx}" y="30" width="14" height="4" fill="{COLOURS[k % len(COLOURS)]}"/>')
        body.append(_text(lx + 20, 37, name, size=12))
    for t in range(5):
        tick = y_max * t / 4
        body.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(left - 6, y(tick) + 4, f"{tick:g}{unit if unit == '%' else ''}", size=11, anchor="end", fill=MUTED))
    every = max(1, math.ceil(n / 12))
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            body.append(_text(x(i), top + plot_h + 18, label[5:] if len(label) == 10 else label, size=11, anchor="middle", fill=MUTED))
    for k, (name, vs) in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        run: list[str] = []
        for i, v in enumerate(vs):
            if v is None:
                if len(run) > 1:
                    body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
                run = []
                continue
            run.append(f"{x(i):.1f},{y(v):.1f}")
        if len(run) > 1:
            body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
        for i, v in enumerate(vs):
            if v is not None:
                shown = f"{v:.2f} %" if unit == "%" else f"{v:g}{unit}"
                body.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"><title>{escape(labels[i])} {escape(name)}: {escape(shown)}</title></circle>')
    return _svg(width, height, title, body)
