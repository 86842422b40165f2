"""How much one HTTP request costs with each client option, on this machine.

Sends the same webhook-sized POST (≈300 bytes, the adapter's headers) sequentially over
one keep-alive connection to the benchmark receiver and reports requests/s and the
client's CPU per request (``time.process_time``). This is the measurement behind the
choice of ``workers.transport`` (see bench/RESULTS.md)::

    python -m bench.clients --url http://127.0.0.1:PORT/hook -n 5000
"""

from __future__ import annotations

import argparse
import http.client
import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from eventrouter.router.destinations.transport import LeanHTTPTransport, WebhookClient

BODY = json.dumps(
    {
        "id": "0190f3a4-7b8c-7d9e-8f00-112233445566",
        "name": "payment:failed",
        "org": "default",
        "env": "prod",
        "timestamp": "2026-11-23T15:00:00.000000Z",
        "payload": {"invoice": "in_123", "amount": 4200, "currency": "eur", "n": 1},
    },
    separators=(",", ":"),
).encode()
HEADERS = {
    "user-agent": "eventrouter/0.1 (+webhook)",
    "content-type": "application/json",
    "webhook-id": "0190f3a4-7b8c-7d9e-8f00-112233445566",
    "webhook-timestamp": "1795000000",
}


def _httpx(client: httpx.Client, url: str) -> Callable[[], int]:
    def send() -> int:
        return client.request("POST", url, content=BODY, headers=HEADERS, timeout=10).status_code

    return send


def _send_bytes(client: WebhookClient, url: str) -> Callable[[], int]:
    def send() -> int:
        return client.send_bytes("POST", url, content=BODY, headers=HEADERS, timeout=10).status_code

    return send


def _http_client(url: str) -> Callable[[], int]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)

    def send() -> int:
        conn.request("POST", parts.path, body=BODY, headers=HEADERS)
        response = conn.getresponse()
        response.read()
        return response.status

    return send


def measure(send: Callable[[], int], n: int) -> dict[str, float]:
    for _ in range(min(200, n)):  # warm the connection and the code paths
        send()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        if send() != 200:
            raise RuntimeError("receiver did not answer 200")
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"req_per_s": n / wall, "cpu_ms_per_req": cpu / n * 1000}


def run_all(url: str, n: int) -> dict[str, dict[str, float]]:
    """Every option, one after the other; returns name → figures."""
    results: dict[str, dict[str, float]] = {}
    with httpx.Client() as default_client:
        results["httpx (default transport)"] = measure(_httpx(default_client, url), n)
    with httpx.Client(transport=LeanHTTPTransport()) as lean_client:
        results["httpx + LeanHTTPTransport"] = measure(_httpx(lean_client, url), n)
    with WebhookClient(transport=LeanHTTPTransport()) as worker_client:
        results["WebhookClient + Lean"] = measure(_httpx(worker_client, url), n)
        results["WebhookClient.send_bytes (worker)"] = measure(_send_bytes(worker_client, url), n)
    results["http.client alone"] = measure(_http_client(url), n)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("-n", type=int, default=5000)
    args = parser.parse_args()
    for name, figures in run_all(args.url, args.n).items():
        print(
            f"{name:28s} {figures['req_per_s']:8.0f} req/s "
            f"{figures['cpu_ms_per_req']:.3f} ms CPU/req"
        )


if __name__ == "__main__":
    main()
