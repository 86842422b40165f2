"""Render raw benchmark results as bench/RESULTS.md: medians of the runs, with min–max;
and what every results file opens with (``header``, ``command_line``, ``spread``)."""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

Getter = Callable[[dict[str, Any]], float]


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def command_line(prog: str) -> str:
    """The command as typed, for the results file to say how to run it again."""
    return " ".join([prog, *sys.argv[1:]])


def header(command: str, *, shared: bool = False) -> str:
    """The opening of a results file's first paragraph: the command, when it ran, on what,
    and the load at the end (the machine is shared, so figures move with it)."""
    cpus = f"{os.cpu_count()} CPUs ({cpu_model()})" + (" shared with other work" if shared else "")
    return (
        f"`{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {cpus}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at the end"
    )


def spread(runs: Sequence[Mapping[str, float]], key: str) -> tuple[float, float, float]:
    """Median, min and max of ``key`` over the runs."""
    values = [run[key] for run in runs]
    return statistics.median(values), min(values), max(values)


def _values(results: dict[str, Any], case: str, get: Getter) -> list[float]:
    values = []
    for item in results["cases"].get(case, []):
        try:
            value = float(get(item))
        except (KeyError, TypeError, ZeroDivisionError):
            continue
        if not math.isnan(value):
            values.append(value)
    return values


def _ratios(
    results: dict[str, Any], top: str, get_top: Getter, bottom: str, get_bottom: Getter
) -> list[float]:
    """Run i of ``top`` ÷ run i of ``bottom`` (runs interleave, so they share conditions)."""
    tops = results["cases"].get(top, [])
    bottoms = results["cases"].get(bottom, [])
    ratios = []
    for a, b in zip(tops, bottoms, strict=False):
        try:
            denominator = float(get_bottom(b))
            if denominator:
                ratios.append(float(get_top(a)) / denominator)
        except (KeyError, TypeError):
            continue
    return ratios


def _fmt(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "–"
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def summary(values: Sequence[float], digits: int = 0, suffix: str = "") -> str:
    """``median [min–max]``, or the single value."""
    if not values:
        return "–"
    middle = _fmt(statistics.median(values), digits) + suffix
    if len(values) == 1:
        return middle
    return f"{middle} [{_fmt(min(values), digits)}–{_fmt(max(values), digits)}]"


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def render(results: dict[str, Any]) -> str:
    cases = results["cases"]
    sizes = results["sizes"]
    machine = results["machine"]
    lines: list[str] = []
    add = lines.append

    e2e = _values(results, "e2e", lambda r: r["per_second"])
    base_e2e = _values(results, "baseline_e2e", lambda r: r["per_second"])
    e2e_ratio = _ratios(
        results, "e2e", lambda r: r["per_second"], "baseline_e2e", lambda r: r["per_second"]
    )
    e2e_producer = _values(results, "e2e_producer", lambda r: r["per_second"])
    base_e2e_producer = _values(results, "baseline_e2e_producer", lambda r: r["per_second"])
    e2e_producer_ratio = _ratios(
        results,
        "e2e_producer",
        lambda r: r["per_second"],
        "baseline_e2e_producer",
        lambda r: r["per_second"],
    )
    single = _values(results, "publish", lambda r: r["publish"])
    many = _values(results, "publish", lambda r: r["publish_many"])
    delay = _values(results, "baseline_publish", lambda r: r["delay"])
    single_ratio = _ratios(
        results, "publish", lambda r: r["publish"], "baseline_publish", lambda r: r["delay"]
    )
    many_ratio = _ratios(
        results, "publish", lambda r: r["publish_many"], "baseline_publish", lambda r: r["delay"]
    )
    p50 = _values(results, "latency", lambda r: r["p50_ms"])
    p99 = _values(results, "latency", lambda r: r["p99_ms"])
    base_p50 = _values(results, "baseline_latency", lambda r: r["p50_ms"])
    base_p99 = _values(results, "baseline_latency", lambda r: r["p99_ms"])
    p50_ratio = _ratios(
        results, "latency", lambda r: r["p50_ms"], "baseline_latency", lambda r: r["p50_ms"]
    )
    p99_ratio = _ratios(
        results, "latency", lambda r: r["p99_ms"], "baseline_latency", lambda r: r["p99_ms"]
    )
    fan = _values(results, "fanout", lambda r: r["per_second"])
    base_fan = _values(results, "baseline_fanout", lambda r: r["per_second"])
    fan_ratio = _ratios(
        results, "fanout", lambda r: r["per_second"], "baseline_fanout", lambda r: r["per_second"]
    )
    slow_kept = _ratios(
        results, "slow", lambda r: r["fast_per_second"], "fanout", lambda r: r["per_second"]
    )
    base_slow_kept = _ratios(
        results,
        "baseline_slow",
        lambda r: r["fast_per_second"],
        "baseline_fanout",
        lambda r: r["per_second"],
    )
    slow_vs_base = _ratios(
        results,
        "slow",
        lambda r: r["fast_per_second"],
        "baseline_slow",
        lambda r: r["fast_per_second"],
    )
    scale = _ratios(
        results, "scale_2", lambda r: r["per_second"], "scale_1", lambda r: r["per_second"]
    )
    routers = _ratios(
        results, "routers_2", lambda r: r["per_second"], "routers_1", lambda r: r["per_second"]
    )
    backlog = (cases.get("backlog") or [None])[0]
    rate = sizes["latency_rate"]

    add("# Benchmark results")
    add("")
    add(
        f"Written by `make bench` (`{results['command']}`) on {results['started']}, in "
        f"{results['seconds'] / 60:.1f} minutes. Every figure is the **median of "
        f"{results['runs']} runs [min–max]**; eventrouter and the naive-Celery baseline ran "
        "interleaved, case by case, on the same receiver, Redis and Postgres, on one "
        f"{machine['cpus']}-core machine that also runs them all (see *Machine* below)."
    )
    add("")
    add("## Goals")
    add("")
    add("| figure | goal | eventrouter | naive Celery | eventrouter ÷ naive | met |")
    add("| --- | --- | --- | --- | --- | --- |")
    add(
        f"| end-to-end deliveries/s, every attempt recorded ({sizes['e2e']:,} events → 1 "
        f"webhook; naive: {sizes['baseline_e2e']:,}) | ≥ 2,000 and ≥ 10× naive | "
        f"{summary(e2e)} | {summary(base_e2e)} | {summary(e2e_ratio, 1, '×')} | "
        f"{_met(bool(e2e) and _median(e2e) >= 2000 and _median(e2e_ratio) >= 10)} |"
    )
    if e2e_producer:
        add(
            f"| end to end with the producer on the box: one thread calls `publish()` per "
            f"event while the pipeline runs ({sizes['e2e']:,} events → 1 webhook; naive: "
            f"`.delay()` per event, {sizes['baseline_e2e']:,}) | ≥ 2,000 and ≥ 10× naive | "
            f"{summary(e2e_producer)} | {summary(base_e2e_producer)} | "
            f"{summary(e2e_producer_ratio, 1, '×')} | "
            f"{_met(_median(e2e_producer) >= 2000 and _median(e2e_producer_ratio) >= 10)} |"
        )
    add(
        f"| `publish()` events/s, single calls, one thread (naive: `.delay()`) | ≥ 5,000 | "
        f"{summary(single)} | {summary(delay)} | {summary(single_ratio, 1, '×')} | "
        f"{_met(bool(single) and _median(single) >= 5000)} |"
    )
    add(
        f"| `publish_many` events/s, batches of 1,000 (naive: `.delay()`) | ≥ 50,000 | "
        f"{summary(many)} | {summary(delay)} | {summary(many_ratio, 1, '×')} | "
        f"{_met(bool(many) and _median(many) >= 50000)} |"
    )
    add(
        f"| publish → delivered p50 at {rate} events/s, ms | ≤ 20 | {summary(p50, 1)} | "
        f"{summary(base_p50, 1)} | {summary(p50_ratio, 4, '×')} | "
        f"{_met(bool(p50) and _median(p50) <= 20)} |"
    )
    add(
        f"| publish → delivered p99 at {rate} events/s, ms | ≤ 100 | {summary(p99, 1)} | "
        f"{summary(base_p99, 1)} | {summary(p99_ratio, 4, '×')} | "
        f"{_met(bool(p99) and _median(p99) <= 100)} |"
    )
    add(
        f"| fan-out deliveries/s (1 event → 10 webhooks; {sizes['fanout_events']:,} events, "
        f"naive: {sizes['baseline_fanout_events']:,}) | – | {summary(fan)} | "
        f"{summary(base_fan)} | {summary(fan_ratio, 1, '×')} | – |"
    )
    add(
        "| the 10 webhooks' throughput with an 11th answering in 2 s, ÷ without it | ≥ 90% | "
        f"{summary([v * 100 for v in slow_kept], 0, '%')} | "
        f"{summary([v * 100 for v in base_slow_kept], 0, '%')} | "
        f"{summary(slow_vs_base, 1, '×')} | "
        f"{_met(bool(slow_kept) and _median(slow_kept) >= 0.9)} |"
    )
    add(
        "| 2 worker processes ÷ 1 (receiver answering in 5 ms) | ≥ 1.8× | "
        f"{summary(scale, 2, '×')} | – | – | {_met(bool(scale) and _median(scale) >= 1.8)} |"
    )
    if routers:
        add(
            "| 2 routers ÷ 1, routing only (workers idle; "
            f"{sizes.get('routing_events', 0):,} events → 1 webhook) | ≥ 1.6× | "
            f"{summary(routers, 2, '×')} | – | – | {_met(_median(routers) >= 1.6)} |"
        )
    if backlog:
        growth = {k: v["growth_pct"] for k, v in backlog["rss_mb"].items()}
        flat = all(abs(g) <= 10 for g in growth.values())
        text_growth = ", ".join(f"{k} {g:+.1f}%" for k, g in growth.items())
        add(
            f"| RSS growth while a backlog of {backlog['events']:,} events drains (peak vs. at "
            f"10% drained) | ±10% | {text_growth} | – | – | {_met(flat)} |"
        )
    add("")
    add(
        "Latency ratios are eventrouter ÷ naive too, so there smaller is better. The naive "
        f"baseline cannot keep up with {rate} events/s, so its queue (and its latency) grows "
        "for as long as the test runs."
    )
    add("")

    # -- details ------------------------------------------------------------------------
    add("## Where the CPU goes (end to end, ms of CPU per delivery)")
    add("")
    add(
        "Measured from /proc for the processes of each role during the end-to-end runs; "
        "`others` is everything else on the machine in the same interval (other users' "
        "work: the noise)."
    )
    add("")
    groups = sorted(
        {
            g
            for case in ("e2e", "baseline_e2e")
            for r in cases.get(case, [])
            for g in r["cpu_ms_per_delivery"]
        }
    )
    add("| process | eventrouter | naive Celery |")
    add("| --- | --- | --- |")
    for group in groups:
        er = _values(results, "e2e", lambda r, g=group: r["cpu_ms_per_delivery"].get(g, 0.0))
        nv = _values(
            results, "baseline_e2e", lambda r, g=group: r["cpu_ms_per_delivery"].get(g, 0.0)
        )
        add(f"| {group} | {summary(er, 3)} | {summary(nv, 3)} |")
    add("")
    ours = [
        sum(v for k, v in r["cpu_ms_per_delivery"].items() if k not in ("others", "baseline"))
        for r in cases.get("e2e", [])
    ]
    naive = [
        sum(v for k, v in r["cpu_ms_per_delivery"].items() if k != "others")
        for r in cases.get("baseline_e2e", [])
    ]
    if ours and naive:
        cpus = machine["cpus"]
        add(
            f"All of eventrouter's processes together spend {summary(ours, 2)} ms of CPU per "
            f"delivery, so {cpus} cores cap it near {cpus * 1000 / _median(ours):,.0f} "
            "deliveries/s with nothing else running; the naive way spends "
            f"{summary(naive, 2)} ms (Celery's per-task overhead, one ORM transaction and one "
            "httpx request per delivery). The ratio between the two is what the 10× goal "
            "measures, and other work on the machine lowers eventrouter's figure more than "
            "the baseline's, which never uses both cores fully."
        )
        add("")
    add("## Latency")

    add("")
    add(
        f"`publish()` called at {rate} events/s for {sizes['latency_seconds']:g} s; latency "
        "is the receiver's arrival time minus the publish time carried in the payload."
    )
    add("")
    add("| | p50 ms | p95 ms | p99 ms | max ms | rate achieved /s |")
    add("| --- | --- | --- | --- | --- | --- |")
    for label, case in (("eventrouter", "latency"), ("naive Celery", "baseline_latency")):
        cells = [
            summary(_values(results, case, lambda r, k=k: r[k]), 1)
            for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "rate")
        ]
        add(f"| {label} | " + " | ".join(cells) + " |")
    add("")
    add("## A slow destination")
    add("")
    add(
        f"`bench.mix` events go to the same 10 webhooks as the fan-out case plus one that "
        f"answers after 2 s. eventrouter: time until all {sizes['slow_events']:,} × 10 fast "
        f"deliveries arrived; naive: fast deliveries completed within "
        f"{sizes['baseline_slow_seconds']:g} s (it would need minutes)."
    )
    add("")
    add("| | fast deliveries/s with the slow one | without (fan-out case) | kept |")
    add("| --- | --- | --- | --- |")
    add(
        f"| eventrouter | {summary(_values(results, 'slow', lambda r: r['fast_per_second']))} | "
        f"{summary(fan)} | {summary([v * 100 for v in slow_kept], 0, '%')} |"
    )
    add(
        f"| naive Celery | "
        f"{summary(_values(results, 'baseline_slow', lambda r: r['fast_per_second']))} | "
        f"{summary(base_fan)} | {summary([v * 100 for v in base_slow_kept], 0, '%')} |"
    )
    add("")
    add("## Scale-out")
    add("")
    add(
        f"{sizes['scale_events']:,} events to a webhook answering in 5 ms, delivered by one "
        "`eventrouter worker -c 1`, then by two of them."
    )
    add("")
    add("| workers | deliveries/s |")
    add("| --- | --- |")
    add(f"| 1 | {summary(_values(results, 'scale_1', lambda r: r['per_second']))} |")
    add(f"| 2 | {summary(_values(results, 'scale_2', lambda r: r['per_second']))} |")
    add(f"| ratio | {summary(scale, 2, '×')} |")
    add("")
    if routers:
        add("### Routers")
        add("")
        add(
            f"{sizes['routing_events']:,} events published as a backlog and stored with their "
            "deliveries by one `eventrouter router`, then by two in the same consumer group; "
            "their tasks go to a queue no worker reads (workers idle), so this is routing "
            "alone: read, store, acknowledge, dispatch. The clock stops when the last "
            "delivery row is committed. CPU is per event, from /proc."
        )
        add("")
        add("| routers | events/s | router ms CPU per event | Postgres ms CPU per event |")
        add("| --- | --- | --- | --- |")
        for n in (1, 2):
            case = f"routers_{n}"
            add(
                f"| {n} | {summary(_values(results, case, lambda r: r['per_second']))} | "
                f"{summary(_values(results, case, lambda r: r['cpu_ms_per_event']['router']), 3)}"
                f" | "
                f"{summary(_values(results, case, lambda r: r['cpu_ms_per_event']['postgres']), 3)}"
                " |"
            )
        add(f"| ratio | {summary(routers, 2, '×')} | | |")
        add("")
    if backlog:
        add("## Memory over a backlog")
        add("")
        add(
            f"{backlog['events']:,} events published with `publish_many` as fast as possible "
            f"({backlog['publish_seconds']:.1f} s) while the router and worker drain them "
            f"({backlog['drain_per_second']:,.0f} deliveries/s overall). RSS of each process "
            "tree (the worker includes its pool), sampled every 0.5 s."
        )
        add("")
        add("| process | RSS at 10% drained, MB | peak, MB | end, MB | growth |")
        add("| --- | --- | --- | --- | --- |")
        for name, m in backlog["rss_mb"].items():
            add(
                f"| {name} | {m['at_10pct']:.1f} | {m['peak']:.1f} | {m['end']:.1f} | "
                f"{m['growth_pct']:+.1f}% |"
            )
        add("")
    if results.get("clients"):
        add("## HTTP client options")
        add("")
        add(
            "The same webhook POST, sequentially over one keep-alive connection to the "
            "receiver (`python -m bench.clients`). The worker uses the fourth row: `send_bytes`, "
            "the lean transport without httpx's Request and Response objects around it."
        )
        add("")
        add("| client | requests/s | ms CPU per request |")
        add("| --- | --- | --- |")
        for name, figures in results["clients"].items():
            add(f"| {name} | {figures['req_per_s']:,.0f} | {figures['cpu_ms_per_req']:.3f} |")
        add("")
    if results.get("profile"):
        add("## Profile")
        add("")
        add(
            "py-spy (`record --gil --subprocesses`, 250 Hz) on the router and the worker "
            "during one extra end-to-end run: the functions holding the most samples taken "
            "while a thread held the GIL, i.e. where their Python CPU goes (waiting on sockets "
            "and Postgres is not counted)."
        )
        add("")
        for name, top in results["profile"].items():
            add(f"**{name}**")
            add("")
            add("```")
            for share, frame in top:
                add(f"{share:5.1f}%  {frame}")
            add("```")
            add("")
    add("## Machine")
    add("")
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items())
    add(
        f"- {machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gib']} GiB "
        f"memory, Linux {machine['kernel']}, Python {machine['python']}"
    )
    add(f"- {versions}")
    add(
        f"- load average before {_load(machine.get('load_before'))}, after "
        f"{_load(machine.get('load_after'))}"
    )
    busy = _values(
        results,
        "e2e",
        lambda r: r["cpu_ms_per_delivery"].get("others", 0.0) * r["per_second"] / 1000,
    )
    if busy:
        add(
            f"- noise: other work on the machine used {summary(busy, 2)} of its "
            f"{machine['cpus']} cores during the end-to-end runs"
        )
    concurrency = sizes["worker_concurrency"]
    worker = (
        f"-c {concurrency}"
        if concurrency
        else f"(default: CPUs + 1 = {machine['cpus'] + 1} processes)"
    )
    add(
        f"- eventrouter: one `eventrouter router` and one `eventrouter worker` {worker}, default "
        "settings otherwise; naive: `celery worker --pool prefork --concurrency 2`"
    )
    add("")
    add("## Method")
    add("")
    add(
        "- End to end: the clock starts before the first publish and stops when the last "
        "attempt row is committed (polled every 20 ms); publishing is inside the window. "
        "Every run checks that each delivery succeeded with exactly one attempt row."
    )
    add(
        "- The naive baseline (bench/baseline.py): one Celery task per (event, destination) "
        "sent with `.delay()`, a module-level `httpx.Client`, one ORM INSERT per attempt, "
        "`acks_late=True`, `self.retry(countdown=…)`, prefork with concurrency 2."
    )
    add(
        "- Publish rates go to a stream (or queue) nothing reads, so they measure the "
        "producer's call alone."
    )
    add(
        "- The receiver (bench/receiver.py) is one asyncio process answering > 40,000 "
        "requests/s; it counts requests and timestamps arrivals."
    )
    add("")
    return "\n".join(lines) + "\n"


def _load(load: Any) -> str:
    if not load:
        return "?"
    return " ".join(f"{x:.2f}" for x in load)


def main() -> None:
    """``python -m bench.report RESULTS.json [OUT.md]``: render saved results again."""
    import json
    import sys
    from pathlib import Path

    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python -m bench.report bench/logs/results.json [bench/RESULTS.md]")
    text = render(json.loads(Path(sys.argv[1]).read_text()))
    if len(sys.argv) == 3:
        Path(sys.argv[2]).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
