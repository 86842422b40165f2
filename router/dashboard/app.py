"""The dashboard as an ASGI app, mounted by the HTTP API at ``/``.

Its own app (not routes on the API's) so its errors are pages and its requests carry a
session cookie and a CSRF check, while the API keeps JSON problems and bearer tokens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, RedirectResponse, Response

from eventrouter.router.dashboard import pages
from eventrouter.router.dashboard.session import COOKIE, TTL_SECONDS, SessionCodec, session_key
from eventrouter.router.dashboard.web import (
    Authenticate,
    CsrfRefused,
    Deps,
    SignInRequired,
    check_csrf,
    render,
    sign_in_url,
)
from eventrouter.router.errors import (
    ConfigError,
    EventRouterError,
    Forbidden,
    NotFound,
    ServiceUnavailable,
)
from eventrouter.router.settings import Settings

STATIC = Path(__file__).parent / "static"
ASSETS = {path.name: path for path in STATIC.iterdir() if path.is_file()}


def create_dashboard(engine: Engine, settings: Settings, authenticate: Authenticate) -> FastAPI:
    app = FastAPI(
        docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(check_csrf)]
    )
    app.state.deps = Deps(engine, settings, authenticate)
    codec = SessionCodec(session_key(settings.secret_keys))

    @app.middleware("http")
    async def session_cookie(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        session = request.state.session = codec.load(request.cookies.get(COOKIE))
        response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
        )
        if session.changed:
            response.set_cookie(
                COOKIE,
                codec.dump(session),
                max_age=TTL_SECONDS,
                httponly=True,
                secure=_over_tls(request),
                samesite="lax",
            )
        return response

    @app.get("/static/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        path = ASSETS.get(name)
        if path is None:
            raise HTTPException(404)
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    for router in pages.ROUTERS:
        app.include_router(router)
    _error_pages(app)
    return app


def _over_tls(request: Request) -> bool:
    """Served over TLS, directly or behind a proxy that ends it: the cookie is then sent
    over TLS only. (A forged header can only make a client's own cookie stricter.)"""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip()
    return request.url.scheme == "https" or forwarded == "https"


def _error_pages(app: FastAPI) -> None:
    """Every error a person can meet, as a page in plain words."""

    def page(status: int, title: str) -> Callable[[Request, Exception], Response]:
        def handler(request: Request, exc: Exception) -> Response:
            return render(request, "error.html", status_code=status, title=title, message=str(exc))

        return handler

    app.add_exception_handler(Forbidden, page(403, "Not allowed"))
    app.add_exception_handler(NotFound, page(404, "Not found"))
    app.add_exception_handler(ConfigError, page(400, "That did not work"))
    app.add_exception_handler(ServiceUnavailable, page(503, "A service is unreachable"))
    app.add_exception_handler(EventRouterError, page(500, "That did not work"))

    def sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        if exc.message:
            request.state.session.changed = True
        url = sign_in_url(request) if request.method == "GET" else "/signin"
        return RedirectResponse(url, status_code=303)

    def csrf(request: Request, exc: Exception) -> Response:
        return render(
            request,
            "error.html",
            status_code=403,
            title="Form expired",
            message="This form is from an old page or another site, so nothing was changed. "
            "Go back, reload the page and try again.",
        )

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return render(
                request,
                "error.html",
                status_code=404,
                title="Not found",
                message=f"There is no page at {request.url.path}.",
            )
        return render(
            request, "error.html", status_code=exc.status_code, title="Error", message=exc.detail
        )

    def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'][1:])}: {error['msg']}"
            for error in exc.errors()
        )
        return render(request, "error.html", status_code=400, title="Bad request", message=problems)

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(CsrfRefused, csrf)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_request)
