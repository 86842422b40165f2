"""A producer process for fault tests: publishes through the background ``Publisher``
(settings from ``EVENTROUTER_*``), writes each returned id to a file as it goes (so a
test that ``kill -9``s it knows what ``publish()`` had accepted), then flushes and
writes a report: per-call times, exceptions, whether the flush finished, stats.

    python tests/chaos/producer.py --count 10000 --ids ids.txt --report report.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import eventrouter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s; 0: a tight loop")
    parser.add_argument("--ids", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--flush-timeout", type=float, default=120.0)
    args = parser.parse_args()
    publisher = eventrouter.publisher()
    durations: list[float] = []
    errors: list[str] = []
    with args.ids.open("a", buffering=1) as ids:
        began = time.perf_counter()
        for i in range(args.count):
            if args.rate:
                delay = began + i / args.rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            start = time.perf_counter()
            try:
                event_id = publisher.publish("producer:event", {"i": i})
            except Exception as exc:  # the test asserts there are none
                errors.append(repr(exc))
                continue
            durations.append(time.perf_counter() - start)
            ids.write(event_id + "\n")
    args.report.with_suffix(".published").write_text(str(len(durations)))
    flushed = publisher.flush(timeout=args.flush_timeout)
    durations.sort()
    stats = publisher.stats()
    args.report.write_text(
        json.dumps(
            {
                "published": len(durations),
                "errors": errors,
                "p99_ms": durations[int(len(durations) * 0.99)] * 1000 if durations else 0,
                "max_ms": durations[-1] * 1000 if durations else 0,
                "flushed": flushed,
                "sent": stats.sent,
                "dropped": stats.dropped,
            }
        )
    )


if __name__ == "__main__":
    main()
