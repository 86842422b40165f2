"""Overview: the last hour's attempts as a chart, the backlog, each destination's health."""

from __future__ import annotations

from fastapi import APIRouter
from markupsafe import Markup
from starlette.responses import Response

from eventrouter.router.dashboard.chart import delivery_chart, minute_series
from eventrouter.router.dashboard.web import SignedIn, zone_named

router = APIRouter()


@router.get("/")
def overview(page: SignedIn) -> Response:
    data = page.control.overview.get()
    # delivery_chart escapes every text it writes, so its markup is safe as it is.
    series = minute_series(data.minutes, data.since)
    chart = Markup(delivery_chart(series, zone=zone_named(page.session.timezone)))
    return page.render("overview.html", overview=data, chart=chart)
