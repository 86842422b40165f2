"""Fixtures for integration tests: the CLI and the HTTP API run in-process on the test
services."""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from eventrouter.router.api.app import create_app
from eventrouter.router.cli import main
from eventrouter.router.control import Caller, Control, Role
from eventrouter.router.models.people import TokenIn, UserIn
from eventrouter.router.settings import Settings


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def run(
    settings: Settings,
    clean_db: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    """``eventrouter …`` through ``router.cli.main`` (what the console script calls), with
    the test settings in the environment; a traceback fails the test instead of printing."""
    for key, value in settings.model_dump().items():
        if value is not None:
            monkeypatch.setenv(f"EVENTROUTER_{key.upper()}", str(value))

    def invoke(*args: str) -> Result:
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


# -- the HTTP API, served from a thread ---------------------------------------------------
@dataclass
class ApiClient:
    """An httpx client on a real uvicorn server of ``create_app`` (loopback, own thread), and
    a way to mint tokens of any role and org."""

    http: httpx.Client
    engine: Engine
    settings: Settings
    app: FastAPI

    def token(self, role: str = "admin", *, org: str = "default", email: str | None = None) -> str:
        """A fresh token for a new user of ``role`` in ``org``."""
        control = Control(self.engine, self.settings, Caller(org=org, role=Role.ADMIN))
        email = email or f"{role}-{secrets.token_hex(4)}@example.com"
        control.users.add(UserIn(email=email, role=role))
        return control.tokens.create(TokenIn(user=email)).token

    def headers(self, role: str = "admin", *, org: str = "default") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, org=org)}"}


@pytest.fixture
def api(settings: Settings, clean_db: Engine) -> Iterator[ApiClient]:
    """The API on the test database and Redis, served by uvicorn on a loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(settings, engine=clean_db)
    config = uvicorn.Config(app, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the API server did not start within 10 s"
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield ApiClient(http, clean_db, settings, app)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# -- the dashboard, as a browser-like client ------------------------------------------
DASHBOARD_ROLES = ("admin", "developer", "viewer")


@pytest.fixture
def app_client(api: ApiClient) -> httpx.Client:
    """A browser-like client of a real ``create_app`` server: cookies kept, redirects
    followed unless a test says otherwise."""
    api.http.follow_redirects = True
    return api.http


@pytest.fixture
def tokens(api: ApiClient) -> dict[str, str]:
    """A token per role in org ``acme``, and an admin's of org ``globex``."""
    minted = {role: api.token(role, org="acme") for role in DASHBOARD_ROLES}
    return {**minted, "globex": api.token("admin", org="globex")}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: httpx.Client, token: str) -> str:
    """Signs in; the CSRF token of the new session."""
    page = client.get("/signin")
    answer = client.post(
        "/signin",
        data={"token": token, "next": "/", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)
