"""Charts for the Report tab, drawn here as inline SVG: no script, nothing fetched.

Each function takes plain numbers and returns escaped SVG markup. Colours come from CSS
classes (`chart-bar`, `chart-bar-alt`, `chart-line`, `chart-text`, `chart-axis` in
preview.css), never from inline styles, so the page's CSP (`style-src 'self'`) holds and
a `prefers-color-scheme: dark` rule recolours the charts with the page. Every chart has
a `<title>` and a text label on each bar or point, so it reads without the colours too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Bar", "bar_chart", "line_chart"]

WIDTH = 760
ROW = 26
LABEL_WIDTH = 270


@dataclass(frozen=True)
class Bar:
    """One row: its label, one or two lengths (0-1 of the longest) and the text shown."""

    label: str
    value: float  # 0..1
    text: str
    second: float | None = None  # a second, thinner bar under it (e.g. share of the issue)
    second_text: str = ""


def _cut(label: str, limit: int = 32) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(title: str, bars: Sequence[Bar], *, legend: tuple[str, str] | None = None) -> Markup:
    """Horizontal bars, one row per label; with `legend`, a second bar per row."""
    row = ROW * (2 if legend else 1) + 6
    top = 24 if legend else 4
    height = top + row * len(bars) + 4
    span = WIDTH - LABEL_WIDTH - 170  # room for the text after the longest bar
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    if legend:
        parts.append(f'<rect class="chart-bar" x="{LABEL_WIDTH}" y="4" width="12" height="12"/>'
                     f'<text class="chart-text" x="{LABEL_WIDTH + 18}" y="14">{escape(legend[0])}</text>'
                     f'<rect class="chart-bar-alt" x="{LABEL_WIDTH + 200}" y="4" width="12" height="12"/>'
                     f'<text class="chart-text" x="{LABEL_WIDTH + 218}" y="14">{escape(legend[1])}</text>')
    for i, bar in enumerate(bars):
        y = top + i * row
        length = max(0.0, min(1.0, bar.value)) * span
        parts.append(f'<g class="chart-row"><title>{escape(bar.label)}: {escape(bar.text)}</title>'
                     f'<text class="chart-text" x="0" y="{y + 17}">{escape(_cut(bar.label))}</text>'
                     f'<rect class="chart-bar" x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{ROW - 8}"/>'
                     f'<text class="chart-text" x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 17}">{escape(bar.text)}</text>')
        if bar.second is not None:
            second = max(0.0, min(1.0, bar.second)) * span
            y2 = y + ROW
            parts.append(f'<rect class="chart-bar-alt" x="{LABEL_WIDTH}" y="{y2}" width="{second:.1f}" '
                         f'height="{ROW - 12}"/><text class="chart-text" x="{LABEL_WIDTH + second + 6:.1f}" '
                         f'y="{y2 + 12}">{escape(bar.second_text)}</text>')
        parts.append("</g>")
    parts.append(f'<line class="chart-axis" x1="{LABEL_WIDTH}" y1="{top}" x2="{LABEL_WIDTH}" y2="{height - 4}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(title: str, points: Sequence[tuple[str, int]]) -> Markup:
    """A line over the points (label, value) left to right, each value written at its point."""
    height, left, right, top, bottom = 220, 40, 20, 24, 36
    top_value = max((v for _, v in points), default=0) or 1
    span_x = WIDTH - left - right
    span_y = height - top - bottom
    step = span_x / max(1, len(points) - 1)

    def xy(i: int, value: int) -> tuple[float, float]:
        x = left + (i * step if len(points) > 1 else span_x / 2)
        return x, top + span_y * (1 - value / top_value)

    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<line class="chart-axis" x1="{left}" y1="{top + span_y}" x2="{WIDTH - right}" y2="{top + span_y}"/>']
    coords = [xy(i, v) for i, (_, v) in enumerate(points)]
    if len(coords) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline class="chart-line" fill="none" points="{path}"/>')
    for (label, value), (x, y) in zip(points, coords, strict=True):
        parts.append(f'<g class="chart-point"><title>{escape(label)}: {value}</title>'
                     f'<circle class="chart-dot" cx="{x:.1f}" cy="{y:.1f}" r="4"/>'
                     f'<text class="chart-text" x="{x:.1f}" y="{y - 9:.1f}" text-anchor="middle">{value}</text>'
                     f'<text class="chart-text" x="{x:.1f}" y="{height - 12}" text-anchor="middle">'
                     f'{escape(label)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))
