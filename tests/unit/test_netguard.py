"""The SSRF guard's address rules, and that connections go to the address it checked."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from eventrouter.router import netguard
from eventrouter.router.destinations.transport import http_client
from eventrouter.router.netguard import (
    address_problem,
    blocked_reason,
    check_host,
    endpoints_in,
    parse_networks,
)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not globally routable"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("2002:a00:1::", "private"),  # 6to4 wrapping 10.0.0.1
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
        ("1.1.1.1", None),
    ],
)
def test_address_rules(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


def test_allowed_networks_open_a_hole_including_mapped_forms() -> None:
    allowed = parse_networks("127.0.0.0/8, 10.5.0.0/16")
    assert address_problem(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert address_problem(ipaddress.ip_address("::ffff:127.0.0.1"), allowed) is None
    assert address_problem(ipaddress.ip_address("10.5.9.9"), allowed) is None
    assert address_problem(ipaddress.ip_address("10.6.0.1"), allowed) == "private"
    assert address_problem(ipaddress.ip_address("::1"), allowed) == "loopback"


def test_parse_networks_names_the_bad_entry() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33'"):
        parse_networks("127.0.0.0/8,10.0.0.0/33")
    assert parse_networks("") == ()


def test_every_resolved_address_must_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    def two_answers(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", two_answers)
    with pytest.raises(netguard.UnsafeDestination, match=r"10\.0\.0\.7, a private address"):
        check_host("mixed.example", 443)


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_transport_refuses_loopback_unless_allowed(local_server: int) -> None:
    url = f"http://127.0.0.1:{local_server}/"
    with (
        http_client(5.0, allowed=()) as client,
        pytest.raises(httpx.ConnectError) as info,
    ):
        client.get(url)
    assert "loopback" in (blocked_reason(info.value) or "")
    with http_client(5.0, allowed=parse_networks("127.0.0.0/8")) as client:
        assert client.get(url).text == "ok"


def test_connection_is_pinned_to_the_checked_address(
    local_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name is resolved once, checked, and that very address is dialled: a DNS
    answer that changes after the check (rebinding) is never used."""
    answers = iter(["127.0.0.1", "169.254.169.254"])
    calls: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(
        host: str, port: int, *args: object, **kwargs: object
    ) -> list[tuple[object, ...]]:
        if host != "rebind.test":  # the dial itself, to the literal address
            return real_getaddrinfo(host, port, *args, **kwargs)  # type: ignore[arg-type]
        address = next(answers)
        calls.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", rebinding)
    with http_client(5.0, allowed=parse_networks("127.0.0.0/8")) as client:
        assert client.get(f"http://rebind.test:{local_server}/").text == "ok"
    assert calls == ["127.0.0.1"]


@pytest.mark.parametrize(
    "url",
    [
        "HTTP://169.254.169.254/latest/meta-data",
        "Https://169.254.169.254/",
        "hTTp://10.0.0.7:8080/x",
        " http://127.0.0.1/hook",
    ],
)
def test_creation_check_sees_urls_whatever_the_scheme_case(url: str) -> None:
    """Before: endpoints_in matched only lower-case "http://", so these were accepted at
    creation (the connect-time check still refused them)."""
    assert endpoints_in({"url": url}) != []
    with pytest.raises(netguard.UnsafeDestination):
        netguard.check_endpoints({"url": url}, ())


def test_endpoints_in_ignores_what_is_not_an_http_url() -> None:
    config = {"a": "ftp://10.0.0.1/", "b": "http://[::1", "c": "not a url", "d": 5}
    assert endpoints_in(config) == []
    assert endpoints_in({"n": ["HTTPS://example.com:8443/x"]}) == [("example.com", 8443)]
