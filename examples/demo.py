"""The five-minute tour, automated: `make demo`.

Starts a local receiver, a router and a worker; configures a channel, two webhook
destinations and a subscription in the org ``demo``; publishes events; shows what
happened. Every step prints the CLI command that does the same by hand.

The receiver answers 503 to the first two tries of each event and then 200, so you
see retries; a second destination always answers 404, so you see a permanent failure
and a manual retry.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from eventrouter import Settings, publish, publish_many
from eventrouter.router.db.engine import safe_url
from eventrouter.router.devstack import READY_LINE

ORG = "demo"
BIN = Path(sys.executable).parent
LOGS = Path(".demo")


class Receiver(BaseHTTPRequestHandler):
    """/ok fails twice per event then accepts; /gone always answers 404 until fixed."""

    protocol_version = "HTTP/1.1"
    seen: Counter[str] = Counter()
    gone_fixed = False

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        event_id = self.headers.get("webhook-id", "")
        Receiver.seen[self.path + event_id] += 1
        if self.path == "/gone":
            status = 200 if Receiver.gone_fixed else 404
        else:
            status = 503 if Receiver.seen[self.path + event_id] <= 2 else 200
        body = b'{"ok":true}' if status == 200 else b'{"error":"try later"}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def cli(*args: str, check: bool = True) -> str:
    command = ["eventrouter", "--org", ORG, *args]
    print(f"\n$ {shlex.join(command)}")
    result = subprocess.run(
        [str(BIN / "eventrouter"), "--org", ORG, *args], capture_output=True, text=True
    )
    output = (result.stdout + result.stderr).rstrip()
    if output:
        print(output)
    if check and result.returncode != 0:
        raise SystemExit(f"demo step failed: {shlex.join(command)}")
    return result.stdout


def start_dev() -> subprocess.Popen[bytes]:
    """`eventrouter dev`: Postgres and Redis (private ones if nothing answers), a router and
    a worker, with one log; returns once it says everything is up."""
    LOGS.mkdir(exist_ok=True)
    log_path = LOGS / "dev.log"
    print(f"starting: eventrouter dev --concurrency 2 --no-api  (log: {log_path})")
    with log_path.open("wb") as log:
        dev = subprocess.Popen(
            [str(BIN / "eventrouter"), "dev", "--concurrency", "2", "--no-api"],
            stdout=log,
            stderr=log,
        )
    deadline = time.monotonic() + 180
    while READY_LINE not in log_path.read_text(errors="replace"):
        if dev.poll() is not None or time.monotonic() > deadline:
            dev.kill()
            print(log_path.read_text(errors="replace")[-3000:])
            raise SystemExit("demo step failed: eventrouter dev did not start (log above)")
        time.sleep(0.2)
    return dev


def stop_dev(dev: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a person would: everything stops cleanly, the data stays."""
    dev.send_signal(signal.SIGINT)
    try:
        code = dev.wait(timeout=90)
    except subprocess.TimeoutExpired:
        dev.kill()
        raise SystemExit("eventrouter dev did not stop within 90 s after Ctrl-C") from None
    if code != 0:
        raise SystemExit(f"eventrouter dev exited with {code} (see {LOGS / 'dev.log'})")
    print("eventrouter dev stopped cleanly")


def wait_until_settled(settings: Settings, timeout: float = 60) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(settings.database_url)
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            open_count = conn.execute(
                sa.text(
                    "SELECT count(*) FROM deliveries d JOIN events e ON e.id = d.event_id "
                    "WHERE e.org = :org AND d.status IN ('pending', 'delivering')"
                ),
                {"org": ORG},
            ).scalar_one()
            conn.rollback()
            if open_count == 0:
                break
            time.sleep(0.5)
    engine.dispose()


def main() -> None:
    # The receiver is on loopback, which the SSRF guard refuses unless allowed.
    os.environ.setdefault("EVENTROUTER_ALLOWED_NETWORKS", "127.0.0.0/8")
    settings = Settings()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    print(f"receiver listening on {base} (/ok: 503, 503, then 200 per event; /gone: 404)")

    os.environ["EVENTROUTER_ORG"] = ORG
    dev = start_dev()
    try:
        run_demo(settings, base)
    finally:
        stop_dev(dev)
        server.shutdown()


def run_demo(settings: Settings, base: str) -> None:
    for command in (
        ("subscriptions", "remove", "payments-to-ops"),
        ("destinations", "remove", "ops-webhook"),
        ("destinations", "remove", "legacy-webhook"),
        ("channels", "remove", "payments"),
    ):
        subprocess.run([str(BIN / "eventrouter"), "--org", ORG, *command], capture_output=True)
    cli(
        "channels",
        "add",
        "payments",
        "--pattern",
        "payment:.*",
        "--description",
        "everything about payments",
    )
    cli(
        "destinations",
        "add",
        "ops-webhook",
        "--type",
        "webhook",
        "--url",
        f"{base}/ok",
        "--header",
        "Authorization: Bearer demo-token-1234",
        "--retry-schedule",
        "1s,2s,5s",
    )
    cli(
        "destinations",
        "add",
        "legacy-webhook",
        "--type",
        "webhook",
        "--url",
        f"{base}/gone",
        "--retry-schedule",
        "1s",
    )
    cli(
        "subscriptions",
        "add",
        "payments-to-ops",
        "--channel",
        "payments",
        "--destination",
        "ops-webhook",
        "--destination",
        "legacy-webhook",
    )

    print("\n>>> from eventrouter import publish, publish_many")
    event_id = publish(
        "payment:failed", {"invoice": "in_1001", "amount": 4200}, env="production", org=ORG
    )
    print(f">>> publish('payment:failed', {{...}}, env='production')  ->  {event_id!r}")
    ids = publish_many([("payment:failed", {"invoice": f"in_{i}"}) for i in range(2, 6)], org=ORG)
    print(f">>> publish_many([...4 events...])  ->  {len(ids)} ids")
    publish("user:signed_up", {"user": "u_1"}, org=ORG)
    print(">>> publish('user:signed_up', ...)   # matches no channel: recorded, not delivered")

    print("\nwaiting for deliveries (each ops-webhook delivery needs 3 tries)…")
    wait_until_settled(settings)
    cli("history", "--limit", "10")
    cli("show", event_id)
    cli("deliveries", "--status", "failed")

    print("\n# the legacy endpoint is fixed; send its failed deliveries again")
    Receiver.gone_fixed = True
    cli("retry", "--failed", "--destination", "legacy-webhook")
    time.sleep(1.5)
    wait_until_settled(settings)
    cli("history", "--limit", "10")
    print(f"\nDone. Explore with: eventrouter --org {ORG} history | show ID | deliveries")
    print(
        "or SQL: SELECT * FROM event_delivery_summary ORDER BY received_at DESC LIMIT 10;"
        f"  (database: {safe_url(settings.database_url)})"
    )


if __name__ == "__main__":
    main()
