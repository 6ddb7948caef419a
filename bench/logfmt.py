"""Throughput of errors.logging.JsonFormatter against python-json-logger's formatters.

Run from the repository root::

    python bench/logfmt.py [--records N] [--exc-records M] [--rounds R] [--show]

Every formatter formats the same pre-built LogRecords, in two scenarios:

  a) a record with 4 extras (str, int, float, nested dict) plus the correlation id that
     CorrelationIdFilter would have set;
  b) the same record with exc_info of a real, caught exception. Formatting a traceback costs
     some 30 times more than the rest of the line, so this scenario formats N/10 records per
     round by default (--exc-records) to keep the whole run under a minute.

python-json-logger is configured to emit a comparable field set (time, level, message,
logger, module, function, line, process, thread, extras; renamed to our field names). Both
libraries cache the formatted traceback in `record.exc_text`; it is reset to None before
every format call, for every formatter alike, so scenario b measures the per-record cost of
formatting an exception rather than a cache hit. (errors.JsonFormatter additionally reuses the
rendered text of each traceback *frame* it has seen before, keyed by code location, not by
exception; all records here raise from the same place, which is the case that helps most.)

Rounds are interleaved (each round runs every formatter once, in a rotating order) and the
best round per formatter is reported, which filters out noise from the rest of the machine.
Nothing is asserted: this prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from overhead_stacks.pjl import PJL_FMT, PJL_RENAMES  # noqa: E402  (bench/ is the script's dir)
from pythonjsonlogger.json import JsonFormatter as PjlJsonFormatter  # noqa: E402
from pythonjsonlogger.orjson import OrjsonFormatter as PjlOrjsonFormatter  # noqa: E402

from errors.logging import JsonFormatter  # noqa: E402


def _fail(depth: int) -> None:
    if depth:
        _fail(depth - 1)
    raise ValueError(f"invalid quantity for order {depth}")


def caught_exc_info() -> Any:
    """A real exception with a few frames of traceback, as logger.exception() would see."""
    try:
        _fail(3)
    except ValueError:
        return sys.exc_info()
    raise AssertionError("unreachable")


def make_records(count: int, with_exc: bool) -> list[logging.LogRecord]:
    """Build `count` records the way Logger.makeRecord would, extras included."""
    exc_info = caught_exc_info() if with_exc else None
    level = logging.ERROR if with_exc else logging.INFO
    records = []
    for i in range(count):
        record = logging.LogRecord(
            "shop.orders",
            level,
            __file__,
            120,
            "order %s placed by %s",
            (i, "alice"),
            exc_info,
            func="place_order",
        )
        record.user = "alice"
        record.attempt = 3
        record.duration_ms = 12.75
        record.ctx = {"cart": {"items": 3, "total": "59.90"}, "tags": ["new", "mobile"]}
        record.correlation_id = "6f1c2b9e-3d4a-4e8b-9a7c-1b2c3d4e5f60"
        records.append(record)
    return records


def make_formatters() -> dict[str, logging.Formatter]:
    """The contenders, keyed by the name shown in the table."""
    pjl_json = PjlJsonFormatter(PJL_FMT, rename_fields=dict(PJL_RENAMES))
    pjl_orjson = PjlOrjsonFormatter(PJL_FMT, rename_fields=dict(PJL_RENAMES))
    # UTC like ours, so neither side pays for a local-time conversion the other skips.
    pjl_json.converter = time.gmtime
    pjl_orjson.converter = time.gmtime
    return {
        "errors.JsonFormatter": JsonFormatter(),
        "pjl.json.JsonFormatter": pjl_json,
        "pjl.orjson.OrjsonFormatter": pjl_orjson,
    }


def time_once(fmt: Callable[[logging.LogRecord], str], records: list[logging.LogRecord]) -> float:
    """Seconds to format every record once."""
    start = time.perf_counter()
    for record in records:
        record.exc_text = None
        fmt(record)
    return time.perf_counter() - start


def run(records: int, exc_records: int, rounds: int, show: bool) -> None:
    """Run both scenarios and print the table."""
    formatters = make_formatters()
    names = list(formatters)
    scenarios = {
        "a) 4 extras": make_records(records, with_exc=False),
        "b) 4 extras + exc_info": make_records(exc_records, with_exc=True),
    }
    if show:
        for scenario, recs in scenarios.items():
            print(f"--- sample lines, {scenario}")
            for name, formatter in formatters.items():
                recs[0].exc_text = None
                print(f"{name}: {formatter.format(recs[0])}")
        print()

    results: dict[str, dict[str, float]] = {}
    for scenario, recs in scenarios.items():
        best = dict.fromkeys(names, float("inf"))
        # Warm-up: first-call costs (linecache for the traceback, the timestamp cache).
        for name in names:
            time_once(formatters[name].format, recs[:200])
        for round_no in range(rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                elapsed = time_once(formatters[name].format, recs)
                best[name] = min(best[name], elapsed)
        results[scenario] = {name: len(recs) / best[name] for name in names}

    width = max(len(n) for n in names)
    print(
        f"records per round: a) {records}, b) {exc_records}; rounds: {rounds}; "
        "best round reported, in records/s"
    )
    print(f"Python {sys.version.split()[0]}")
    print()
    header = f"{'scenario':<24} " + " ".join(f"{n:>{width}}" for n in names)
    header += f" {'ours/pjl-orjson':>16}"
    print(header)
    print("-" * len(header))
    for scenario, per_fmt in results.items():
        row = f"{scenario:<24} " + " ".join(f"{per_fmt[n]:>{width},.0f}" for n in names)
        ratio = per_fmt["errors.JsonFormatter"] / per_fmt["pjl.orjson.OrjsonFormatter"]
        row += f" {ratio:>15.2f}x"
        print(row)


def main(argv: list[str] | None = None) -> int:
    """Parse the options and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="records per round")
    parser.add_argument(
        "--exc-records", type=int, default=None, help="records per round in scenario b (N/10)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--show", action="store_true", help="print one line per formatter")
    args = parser.parse_args(argv)
    exc_records = args.exc_records if args.exc_records is not None else max(1, args.records // 10)
    if min(args.records, exc_records, args.rounds) < 1:
        parser.error("--records, --exc-records and --rounds must be at least 1")
    run(args.records, exc_records, args.rounds, args.show)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
