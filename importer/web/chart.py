"""The rows-and-failures chart, drawn on the server as SVG: no script, no CDN, works offline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape

WIDTH, HEIGHT, MARGIN = 720, 180, 32


@dataclass(frozen=True)
class Day:
    day: date
    rows: int
    failed_files: int


def daily_chart(days: list[Day]) -> str:
    """Bars of rows loaded per day, a red dot per day with failed files (its count above)."""
    if not days:
        return '<p class="empty">No files in the last 30 days.</p>'
    top = max((d.rows for d in days), default=0) or 1
    step = (WIDTH - 2 * MARGIN) / len(days)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-label="rows loaded and files failed per day, last 30 days">',
        f'<text x="{MARGIN}" y="14" class="axis">rows loaded a day (most: {top:,})</text>',
    ]
    for index, day in enumerate(days):
        height = (HEIGHT - 2 * MARGIN) * day.rows / top
        x = MARGIN + index * step
        y = HEIGHT - MARGIN - height
        label = escape(f"{day.day.isoformat()}: {day.rows:,} rows, {day.failed_files} failed")
        parts.append(
            f'<rect class="rows" x="{x:.1f}" y="{y:.1f}" width="{step * 0.8:.1f}" '
            f'height="{height:.1f}"><title>{label}</title></rect>'
        )
        if day.failed_files:
            parts.append(
                f'<circle class="failed" cx="{x + step * 0.4:.1f}" cy="{y - 8:.1f}" r="4">'
                f"<title>{label}</title></circle>"
            )
        if index % 5 == 0:
            parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 12}">{day.day:%m-%d}</text>')
    parts.append("</svg>")
    return "".join(parts)
