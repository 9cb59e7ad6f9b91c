"""Charts drawn on the server as SVG: horizontal bars and lines, with axes, ticks and labels in
the reader's language. No script, no font or style from elsewhere: the page makes no request
outside the site, and the chart prints and reads without JavaScript.

Every text is escaped (a product name is the merchant's words); the numbers only place shapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

COLOURS = ("#c2410c", "#1d4ed8", "#047857", "#7c3aed", "#b91c1c", "#0f766e")
FONT = 'font-family="Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif" font-size="12"'


def nice_max(value: float) -> float:
    """The axis' top: 1, 2 or 5 times a power of ten, at least ``value``, and at least 5 so that
    five ticks of a chart of small counts fall on whole numbers."""
    if value <= 5:
        return 5.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    value_label: Callable[[float], str] = _fmt,
    chart_id: str = "",
    width: int = 640,
) -> Markup:
    """One horizontal bar per item (label, value), the value written at the bar's end, a value
    axis with five ticks along the bottom."""
    left, right, top, row = 180, 70, 30, 26
    plot = width - left - right
    height = top + row * max(1, len(items)) + 34
    top_value = nice_max(max((v for _, v in items), default=0))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}"'
        f' width="100%" aria-label="{escape(title)}"{_id(chart_id)} {FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="14">{escape(title)}</text>',
    ]
    axis_y = top + row * max(1, len(items))
    for tick in range(6):
        x = left + plot * tick / 5
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}" stroke="#e3e6ec"/>')
        parts.append(
            f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#5b6475">'
            f"{escape(value_label(top_value * tick / 5))}</text>"
        )
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}" stroke="#1d2430"/>')
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot}" y2="{axis_y}" stroke="#1d2430"/>')
    for index, (name, value) in enumerate(items):
        y = top + row * index
        length = plot * max(0.0, value) / top_value
        shown = name if len(name) <= 14 else name[:13] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 17}" text-anchor="end"><title>{escape(name)}</title>{escape(shown)}</text>'
        )
        parts.append(
            f'<rect class="bar" x="{left}" y="{y + 5}" width="{length:.1f}" height="{row - 10}"'
            f' fill="{COLOURS[0]}" data-value="{escape(_fmt(value))}"/>'
        )
        parts.append(f'<text x="{left + length + 6:.1f}" y="{y + 17}">{escape(value_label(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    chart_id: str = "",
    width: int = 640,
    height: int = 260,
) -> Markup:
    """One line per series over ``x_labels`` (dates), a legend on top, a value axis on the left,
    at most eight labels along the bottom."""
    left, right, top, bottom = 44, 16, 46, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = nice_max(max((v for _, values in series for v in values), default=0))
    count = len(x_labels)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}"'
        f' width="100%" aria-label="{escape(title)}"{_id(chart_id)} {FONT}>',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-weight="bold" font-size="14">{escape(title)}</text>',
    ]
    legend_x = 0.0
    for index, (name, _) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        parts.append(f'<rect x="{legend_x:.1f}" y="26" width="12" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 16:.1f}" y="32">{escape(name)}</text>')
        legend_x += 24 + 8 * len(name) + (6 * sum(1 for c in name if ord(c) > 0x2E80))

    def x_of(i: int) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return top + plot_h - plot_h * max(0.0, v) / top_value

    for tick in range(6):
        value = top_value * tick / 5
        y = y_of(value)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e3e6ec"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#5b6475">{_fmt(value)}</text>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#1d2430"/>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#1d2430"/>')
    step = max(1, math.ceil(count / 8))
    for i in range(0, count, step):
        parts.append(
            f'<text x="{x_of(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="#5b6475">'
            f"{escape(x_labels[i])}</text>"
        )
    for index, (name, values) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = " ".join(f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline class="line" data-series="{escape(name)}" fill="none" stroke="{colour}" stroke-width="2"'
            f' points="{points}"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _id(chart_id: str) -> str:
    return f' id="{escape(chart_id)}"' if chart_id else ""
