"""Requests/s through Django's whole request path: bare DRF vs `errors` vs the usual alternative
(bench/stacks/settings.py), each stack in a worker of its own, paths measured in interleaved
rounds, rotating which stack goes first; best round per path, trace propagation's cost a round."""

from __future__ import annotations

import argparse
import statistics

from bench.harness import BenchFailed, Child
from bench.overhead_worker import PATHS

STACKS = ("bare", "errors", "errors+metrics", "alternative", "errors+trace")
LABELS = {"200": "200 ok", "404": "404 NotFound", "400": "400 invalid", "500": "500 crash"}
Table = dict[str, dict[str, list[float]]]


def print_report(
    history: Table, log_lines: dict[str, dict[str, int]], rounds: int, seconds: float
) -> None:
    best = {stack: {path: max(history[stack][path]) for path in PATHS} for stack in STACKS}
    print(f"\nBest of {rounds} rounds, {seconds:g} s per measurement; requests/s, higher is better")
    header = f"{'path':<14}" + "".join(f"{s:>15}" for s in STACKS)
    header += f"{'errors/bare':>13}{'errors/alt':>12}"
    print(header + "\n" + "-" * len(header))
    for path in PATHS:
        print(
            f"{LABELS[path]:<14}" + "".join(f"{best[s][path]:>15,.0f}" for s in STACKS)
            + f"{best['errors'][path] / best['bare'][path]:>12.2f}x"
            + f"{best['errors'][path] / best['alternative'][path]:>11.2f}x"
        )  # fmt: skip
    print("\nLog lines written per request (sanity pass)")
    print(f"{'path':<14}" + "".join(f"{stack:>15}" for stack in STACKS))
    for path in PATHS:
        print(f"{LABELS[path]:<14}" + "".join(f"{log_lines[s][path]:>15}" for s in STACKS))
    every = all(best["errors"][p] >= best["alternative"][p] for p in PATHS)
    for stack, label, target in (
        ("errors", "\n200 path", 0.95),
        ("errors+metrics", "200 path, metrics on", 0.90),
    ):
        ratio = best[stack]["200"] / best["bare"]["200"]
        print(f"{label}: {stack}/bare = {ratio:.2f}x (target >= {target:.2f})")
    print(f"every path errors/alternative >= 1.00: {'yes' if every else 'no'}")


def print_trace_cost(history: Table) -> None:
    print("\nTrace propagation (errors+trace vs errors): extra microseconds per request")
    print(f"{'path':<14}{'median':>10}{'per round, min..max':>26}{'best vs best':>14}{'ratio':>8}")
    for path in PATHS:
        plain, traced = history["errors"][path], history["errors+trace"][path]
        costs = [1e6 / t - 1e6 / p for p, t in zip(plain, traced, strict=True)]
        print(
            f"{LABELS[path]:<14}{f'{statistics.median(costs):+.1f} us':>10}"
            f"{f'{min(costs):+.1f} .. {max(costs):+.1f} us':>26}"
            f"{f'{1e6 / max(traced) - 1e6 / max(plain):+.1f} us':>14}"
            f"{max(traced) / max(plain):>7.2f}x"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--warmup", type=float, default=0.3, help="warm-up seconds per path")
    parser.add_argument("--stacks", default=",".join(STACKS), help="comma-separated stacks")
    args = parser.parse_args()
    if unknown := set(stacks := tuple(args.stacks.split(","))) - set(STACKS):
        parser.error(f"unknown stacks {sorted(unknown)}")
    # Workers start together: their setup and warm-up are not measured.
    workers = {stack: Child("bench.overhead_worker", stack, str(args.warmup)) for stack in stacks}
    history: Table = {stack: {path: [] for path in PATHS} for stack in stacks}
    try:
        log_lines = {stack: workers[stack].reply()["log_lines"] for stack in stacks}
        print("req/s per round, " + "/".join(stacks) + " for each path:")
        for round_index in range(args.rounds):
            parts = []
            for path_index, path in enumerate(PATHS):
                shift = (round_index + path_index) % len(stacks)
                for stack in stacks[shift:] + stacks[:shift]:
                    rate = workers[stack].call("measure", path=path, seconds=args.seconds)["rate"]
                    history[stack][path].append(rate)
                parts.append(f"{path} " + "/".join(f"{history[s][path][-1]:,.0f}" for s in stacks))
            print(f"round {round_index + 1}/{args.rounds}: " + "  ".join(parts), flush=True)
    except BenchFailed as exc:
        print(f"overhead: {exc}")
        return 1
    finally:
        for worker in workers.values():
            worker.close()
    if set(stacks) == set(STACKS):
        print_report(history, log_lines, args.rounds, args.seconds)
    if {"errors", "errors+trace"} <= set(stacks):
        print_trace_cost(history)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
