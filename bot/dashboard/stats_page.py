"""The console's statistics page: the headline table and weekly bars, drawn on the server.

The same de-identified counts as `hotline stats` (bot/stats.py). The chart is SVG
rendered here, so the page needs no chart library and no script, and keeps the
console's strict CSP; small cells are suppressed exactly as in exports.
"""

from __future__ import annotations

from .. import i18n, stats
from . import bp, runtime
from .console import language, page

WEEKS_SHOWN = 12
"""Weeks in the chart: a season of raids (the LA network reported on ten weeks)."""

CHART_W, CHART_H, BAR_GAP, MAX_BAR_W = 600, 160, 4, 48
"""SVG geometry in user units; the SVG scales to the phone's width."""


def bucket_label(name: str) -> str:
    """ "le_5m" → "≤ 5 min", "over_60m" → "> 60 min": a bucket as a coordinator reads it."""
    edge, _, minutes = name.partition("_")
    return f"{'≤' if edge == 'le' else '>'} {minutes.removesuffix('m')} min"


def weekly_bars(rows, weeks: int = WEEKS_SHOWN) -> list[dict]:
    """Bars for the last `weeks` weeks: reports (full height scale) and verified inside them."""
    rows = rows[-weeks:]
    top = max((cell.counts["reports"] for cell in rows), default=0) or 1
    width = min(MAX_BAR_W, (CHART_W - BAR_GAP * max(0, len(rows) - 1)) / max(1, len(rows)))
    bars = []
    for n, cell in enumerate(rows):
        reports, verified = cell.counts["reports"], cell.counts["verified"]
        h, hv = CHART_H * reports / top, CHART_H * min(verified, reports) / top
        bars.append(
            {
                "x": round(n * (width + BAR_GAP), 1),
                "w": round(width, 1),
                "y": round(CHART_H - h, 1),
                "h": round(h, 1),
                "vy": round(CHART_H - hv, 1),
                "vh": round(hv, 1),
                "week": cell.label,
                "reports": reports,
                "verified": verified,
            }
        )
    return bars


@bp.get("/dashboard/stats")
def stats_page():
    rt = runtime()
    lang = language()
    weekly = stats.totals(rt.r, rt.settings, by="week")  # the chart shows the latest WEEKS_SHOWN with counts
    overall = stats.totals(rt.r, rt.settings, by="city")
    min_cell = rt.settings.stats_min_cell
    headline = []
    for key, label in stats.HEADLINE_LABELS.items():
        value = overall[key]
        shown = "—" if value is None else (f"{value:.0%}" if key == "unidentified_share" else f"{value:,}")
        headline.append((i18n.gettext(rt.settings.locales_dir, lang, label), shown))
    cities = [(cell.label, stats.suppress(cell.counts, min_cell)) for cell in overall["rows"]]
    return page(
        "console_stats.html",
        "stats",
        headline=headline,
        bars=weekly_bars(weekly["rows"]),
        chart_w=CHART_W,
        chart_h=CHART_H,
        cities=cities,
        min_cell=min_cell,
        first_accept={bucket_label(name): n for name, n in overall["first_accept"].items()},
    )
