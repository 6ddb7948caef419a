"""Throughput of errors.logging.JsonFormatter against python-json-logger's formatters on the same
records, without (a) and with (b) an exception, whose cached text is reset before every call; best
of interleaved rounds."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from pythonjsonlogger.json import JsonFormatter as PjlJsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter as PjlOrjsonFormatter

from bench.stacks import PJL_FMT, PJL_RENAMES
from errors.logging import JsonFormatter

EXTRA = {  # what each record's `extra=` adds: four fields and the correlation id
    "user": "alice", "attempt": 3, "duration_ms": 12.75,
    "ctx": {"cart": {"items": 3, "total": "59.90"}, "tags": ["new", "mobile"]},
    "correlation_id": "6f1c2b9e-3d4a-4e8b-9a7c-1b2c3d4e5f60",
}  # fmt: skip


def fail(depth: int) -> None:
    """Raise `depth` frames down: a logged exception's traceback has a few."""
    if depth:
        fail(depth - 1)
    raise ValueError(f"invalid quantity for order {depth}")


def make_records(count: int, with_exc: bool) -> list[logging.LogRecord]:
    """`count` records built by Logger.makeRecord, as logger.info/exception(..., extra=) does."""
    try:
        fail(3)
    except ValueError:
        exc_info = sys.exc_info() if with_exc else None
    logger, level = logging.getLogger("shop.orders"), logging.ERROR if with_exc else logging.INFO
    call = (__file__, 120, "order %s placed by %s")  # the logging call's file, line and message
    return [
        logger.makeRecord(logger.name, level, *call, (i, "alice"), exc_info, "place_order", EXTRA)
        for i in range(count)
    ]


def time_once(formatter: logging.Formatter, records: list[logging.LogRecord]) -> float:
    start = time.perf_counter()
    for record in records:
        record.exc_text = None
        formatter.format(record)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000, help="records per round")
    parser.add_argument("--exc-records", type=int, help="records per round in b (N/10)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args()
    exc_records = args.exc_records or max(1, args.records // 10)
    pjl_json = PjlJsonFormatter(PJL_FMT, rename_fields=dict(PJL_RENAMES))
    pjl_orjson = PjlOrjsonFormatter(PJL_FMT, rename_fields=dict(PJL_RENAMES))
    pjl_json.converter = pjl_orjson.converter = time.gmtime  # UTC like ours
    formatters: dict[str, logging.Formatter] = {
        "errors.JsonFormatter": JsonFormatter(),
        "pjl.json.JsonFormatter": pjl_json,
        "pjl.orjson.OrjsonFormatter": pjl_orjson,
    }
    names, width = list(formatters), max(map(len, formatters))
    print(
        f"records per round: a) {args.records}, b) {exc_records}; rounds: {args.rounds}; "
        "best round reported, in records/s"
    )
    print(f"Python {sys.version.split()[0]}\n")
    header = f"{'scenario':<24} " + " ".join(f"{n:>{width}}" for n in names)
    header += f" {'ours/pjl-orjson':>16}"
    print(header + "\n" + "-" * len(header), flush=True)
    for scenario, records in (
        ("a) 4 extras", make_records(args.records, with_exc=False)),
        ("b) 4 extras + exc_info", make_records(exc_records, with_exc=True)),
    ):
        best = dict.fromkeys(names, float("inf"))
        for name in names:  # warm-up: linecache for the traceback
            time_once(formatters[name], records[:200])
        for round_no in range(args.rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                best[name] = min(best[name], time_once(formatters[name], records))
        rate = {name: len(records) / best[name] for name in names}
        ours = rate["errors.JsonFormatter"] / rate["pjl.orjson.OrjsonFormatter"]
        row = " ".join(f"{rate[n]:>{width},.0f}" for n in names)
        print(f"{scenario:<24} {row} {ours:>15.2f}x", flush=True)


if __name__ == "__main__":
    main()
