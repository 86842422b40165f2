"""Deliveries per minute as inline SVG, drawn on the server: the Overview works offline,
without JavaScript, and a screen reader gets a text summary. Pure: counts in, markup out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from html import escape

from eventrouter.router.models.overview import MinuteCount

WIDTH = 720
HEIGHT = 180
LEFT = 36
"""Room for the y-axis labels."""
BOTTOM = 20
"""Room for the x-axis labels."""


def minute_series(
    counts: Sequence[MinuteCount], since: datetime, minutes: int = 60
) -> list[MinuteCount]:
    """One entry per minute from ``since`` (floored to the minute), zeros where nothing
    happened, so the bars sit where their minute is."""
    start = since.replace(second=0, microsecond=0)
    by_minute = {c.minute.replace(second=0, microsecond=0): c for c in counts}
    series = []
    for i in range(minutes):
        minute = start + timedelta(minutes=i + 1)
        found = by_minute.get(minute)
        series.append(found or MinuteCount(minute=minute, succeeded=0, failed=0))
    return series


def nice_ceiling(value: int) -> int:
    """The y-axis top: ``value`` rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 1:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if value <= step * magnitude:
                return step * magnitude
        magnitude *= 10


def delivery_chart(
    series: Sequence[MinuteCount],
    *,
    zone: tzinfo | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """Stacked bars, succeeded under failed, one per minute; each bar has a tooltip. Times
    read in ``zone`` (the person's), else in UTC."""
    suffix = "" if zone else " UTC"
    total = sum(c.succeeded + c.failed for c in series)
    failed = sum(c.failed for c in series)
    summary = (
        f"{total - failed} succeeded and {failed} failed attempts in the last {len(series)} minutes"
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(summary)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(summary)}</title>",
    ]
    plot_w = width - LEFT
    plot_h = height - BOTTOM
    top = nice_ceiling(max((c.succeeded + c.failed for c in series), default=0))
    for fraction in (0, 0.5, 1):
        y = plot_h - fraction * plot_h
        label = f"{top * fraction:g}"
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 4}" y="{max(y, 10):.1f}" '
            f'text-anchor="end">{label}</text>'
        )
    if series:
        slot = plot_w / len(series)
        bar = max(slot - 2, 1)
        for i, count in enumerate(series):
            x = LEFT + i * slot + (slot - bar) / 2
            ok_h = count.succeeded / top * plot_h
            bad_h = count.failed / top * plot_h
            at = count.minute.astimezone(zone) if zone else count.minute
            tip = escape(f"{at:%H:%M}{suffix}: {count.succeeded} succeeded, {count.failed} failed")
            parts.append(f'<g class="bar"><title>{tip}</title>')
            if ok_h:
                parts.append(
                    f'<rect class="ok" x="{x:.1f}" y="{plot_h - ok_h:.1f}" '
                    f'width="{bar:.1f}" height="{ok_h:.1f}"/>'
                )
            if bad_h:
                parts.append(
                    f'<rect class="bad" x="{x:.1f}" y="{plot_h - ok_h - bad_h:.1f}" '
                    f'width="{bar:.1f}" height="{bad_h:.1f}"/>'
                )
            parts.append("</g>")
        last = len(series) - 1
        # The ends are anchored inwards, so neither label is cut at the edge.
        for i, anchor in ((0, "start"), (last // 2, "middle"), (last, "end")):
            minute = series[i].minute
            x = (
                LEFT
                + i * slot
                + (0 if anchor == "start" else slot if anchor == "end" else slot / 2)
            )
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{height - 4}" text-anchor="{anchor}">'
                f"{minute:%H:%M}{suffix}</text>"
            )
    if not total:
        parts.append(
            f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" y="{plot_h / 2:.1f}" '
            'text-anchor="middle">No delivery attempts in the last hour</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
