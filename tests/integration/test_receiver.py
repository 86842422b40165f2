"""The test receiver itself: behaviours, per-webhook-id counts, keep-alive, threads."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.receiver import (
    Receiver,
    Request,
    Response,
    fail_first,
    gone,
    not_found,
    ok,
    rate_limited,
    slow,
    wait_for,
)


def test_records_requests_and_parses_json() -> None:
    with Receiver(ok()) as rx, httpx.Client() as client:
        reply = client.post(rx.url_for("/hook?x=1"), json={"a": 1}, headers={"webhook-id": "e1"})
        assert (reply.status_code, reply.text) == (200, "ok")
        (request,) = rx.requests()
        assert (request.method, request.path, request.json) == ("POST", "/hook?x=1", {"a": 1})
        assert request.webhook_id == "e1"
        assert request.headers["content-type"] == "application/json"
        assert abs(request.received_at - time.time()) < 5


def test_non_json_and_chunked_bodies() -> None:
    with Receiver() as rx, httpx.Client() as client:
        client.post(rx.url, content=b"plain text")
        client.post(rx.url, content=iter([b'{"chunked":', b" true}"]))  # no length: chunked
        plain, chunked = rx.requests()
        assert (plain.body, plain.json) == (b"plain text", None)
        assert chunked.headers.get("transfer-encoding") == "chunked"
        assert chunked.json == {"chunked": True}


def test_fail_first_counts_tries_per_webhook_id() -> None:
    with Receiver(fail_first(2, status=503)) as rx, httpx.Client() as client:
        statuses = [
            client.post(rx.url, headers={"webhook-id": key}).status_code
            for key in ["a", "a", "b", "a", "b", "b"]
        ]
        assert statuses == [503, 503, 503, 200, 503, 200]
        assert {k: len(v) for k, v in rx.by_webhook_id().items()} == {"a": 3, "b": 3}


@pytest.mark.parametrize(
    ("behaviour", "status", "header"),
    [(not_found(), 404, None), (gone(), 410, None), (rate_limited(7), 429, ("retry-after", "7"))],
)
def test_ready_made_statuses(
    behaviour: object, status: int, header: tuple[str, str] | None
) -> None:
    with Receiver(behaviour) as rx, httpx.Client() as client:  # type: ignore[arg-type]
        reply = client.post(rx.url)
        assert reply.status_code == status
        if header:
            assert reply.headers[header[0]] == header[1]


def test_json_bodies_and_custom_behaviour() -> None:
    def echo(request: Request, n: int) -> Response:
        return Response(201, {"path": request.path, "n": n}, {"X-Seen": str(n)})

    with Receiver(echo) as rx, httpx.Client() as client:
        reply = client.get(rx.url_for("p"))
        assert reply.status_code == 201
        assert reply.json() == {"path": "/p", "n": 1}
        assert reply.headers["x-seen"] == "1"


def test_a_raising_behaviour_answers_500_and_is_recorded() -> None:
    def broken(_request: Request, _n: int) -> Response:
        raise RuntimeError("boom")

    with Receiver(broken) as rx, httpx.Client() as client:
        assert client.post(rx.url).status_code == 500
        assert [str(e) for e in rx.errors] == ["boom"]


def test_keep_alive_serves_many_requests_on_one_connection() -> None:
    with Receiver() as rx:
        with httpx.Client() as client:
            for _ in range(5):
                client.post(rx.url, content=b"{}")
        with httpx.Client() as other:
            other.post(rx.url, content=b"{}")
        clients = [r.client for r in rx.requests()]
    assert len(set(clients[:5])) == 1
    assert clients[5] != clients[0]
    assert clients[0][0] == "127.0.0.1" and clients[0][1] > 0


@pytest.mark.timeout(20)
def test_slow_answers_time_out_clients_and_stop_promptly() -> None:
    rx = Receiver(slow(30)).start()
    with httpx.Client() as client, pytest.raises(httpx.ReadTimeout):
        client.post(rx.url, timeout=0.2)
    started = time.monotonic()
    rx.stop()
    assert time.monotonic() - started < 3


def test_concurrent_requests_are_all_recorded() -> None:
    with Receiver(fail_first(1)) as rx:

        def send(i: int) -> None:
            with httpx.Client() as client:
                for _ in range(2):
                    client.post(rx.url, headers={"webhook-id": f"id-{i}"})

        threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        rx.wait_for_count(32)
        groups = rx.by_webhook_id()
        assert len(groups) == 16
        assert all(len(requests) == 2 for requests in groups.values())


def test_reset_and_set_behaviour() -> None:
    with Receiver(not_found()) as rx, httpx.Client() as client:
        client.post(rx.url, headers={"webhook-id": "a"})
        rx.reset()
        rx.set_behaviour(fail_first(1))
        assert client.post(rx.url, headers={"webhook-id": "a"}).status_code == 503  # count reset
        assert rx.count() == 1


def test_wait_for_returns_the_value_or_raises_with_the_message() -> None:
    calls = iter([0, 0, 7])
    assert wait_for(lambda: next(calls), timeout=2) == 7
    with pytest.raises(AssertionError, match="the moon"):
        wait_for(lambda: False, timeout=0.05, message="the moon")
