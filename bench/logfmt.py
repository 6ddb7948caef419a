"""Throughput of errors.logging.JsonFormatter against python-json-logger's formatters on the same
records, without (a) and with (b) an exception, whose cached text is reset before every call; best
of interleaved rounds."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from pythonjsonlogger.json import JsonFormatter as PjlJsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter as PjlOrjsonFormatter

from bench.stacks import PJL_FMT, PJL_RENAMES
from errors.logging import JsonFormatter


def _fail(depth: int) -> None:
    if depth:
        _fail(depth - 1)
    raise ValueError(f"invalid quantity for order {depth}")


def caught_exc_info() -> Any:
    try:
        _fail(3)
    except ValueError:
        return sys.exc_info()


def make_records(count: int, with_exc: bool) -> list[logging.LogRecord]:
    """`count` records as Logger.makeRecord builds them, extras included."""
    exc_info = caught_exc_info() if with_exc else None
    level = logging.ERROR if with_exc else logging.INFO
    records = []
    for i in range(count):
        record = logging.LogRecord(
            "shop.orders", level, __file__, 120, "order %s placed by %s", (i, "alice"), exc_info,
            func="place_order",
        )  # fmt: skip
        record.user = "alice"
        record.attempt = 3
        record.duration_ms = 12.75
        record.ctx = {"cart": {"items": 3, "total": "59.90"}, "tags": ["new", "mobile"]}
        record.correlation_id = "6f1c2b9e-3d4a-4e8b-9a7c-1b2c3d4e5f60"
        records.append(record)
    return records


def make_formatters() -> dict[str, logging.Formatter]:
    pjl_json = PjlJsonFormatter(PJL_FMT, rename_fields=dict(PJL_RENAMES))
    pjl_orjson = PjlOrjsonFormatter(PJL_FMT, rename_fields=dict(PJL_RENAMES))
    pjl_json.converter = pjl_orjson.converter = time.gmtime  # UTC like ours
    return {
        "errors.JsonFormatter": JsonFormatter(),
        "pjl.json.JsonFormatter": pjl_json,
        "pjl.orjson.OrjsonFormatter": pjl_orjson,
    }


def time_once(fmt: Callable[[logging.LogRecord], str], records: list[logging.LogRecord]) -> float:
    start = time.perf_counter()
    for record in records:
        record.exc_text = None
        fmt(record)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="records per round")
    parser.add_argument("--exc-records", type=int, help="records per round in b (N/10)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args()
    exc_records = args.exc_records or max(1, args.records // 10)
    formatters = make_formatters()
    names = list(formatters)
    scenarios = {
        "a) 4 extras": make_records(args.records, with_exc=False),
        "b) 4 extras + exc_info": make_records(exc_records, with_exc=True),
    }
    results: dict[str, dict[str, float]] = {}
    for scenario, records in scenarios.items():
        best = dict.fromkeys(names, float("inf"))
        for name in names:  # warm-up: linecache for the traceback, the timestamp cache
            time_once(formatters[name].format, records[:200])
        for round_no in range(args.rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                best[name] = min(best[name], time_once(formatters[name].format, records))
        results[scenario] = {name: len(records) / best[name] for name in names}

    width = max(len(n) for n in names)
    print(
        f"records per round: a) {args.records}, b) {exc_records}; rounds: {args.rounds}; "
        "best round reported, in records/s"
    )
    print(f"Python {sys.version.split()[0]}\n")
    header = f"{'scenario':<24} " + " ".join(f"{n:>{width}}" for n in names)
    header += f" {'ours/pjl-orjson':>16}"
    print(header + "\n" + "-" * len(header))
    for scenario, rate in results.items():
        ours = rate["errors.JsonFormatter"] / rate["pjl.orjson.OrjsonFormatter"]
        row = " ".join(f"{rate[n]:>{width},.0f}" for n in names)
        print(f"{scenario:<24} {row} {ours:>15.2f}x")


if __name__ == "__main__":
    main()
