"""`python -m bench.read_path [--size 300k] [--scale-check]`: see bench/read_path/__init__.py.

Writes `bench/results/read_path.md` (or `--output`) and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.harness import load_average
from bench.read_path.dataset import SIZES, open_dataset
from bench.read_path.report import Report, render
from bench.read_path.run import Measured, Options, measure
from bench.read_path.systems import HUB, OWNER_LIST, POSTGRAPHILE_DIR, QUERIES, find_node

RESULTS = Path(__file__).resolve().parents[1] / "results" / "read_path.md"


def _postgraphile_version() -> str:
    try:
        package = POSTGRAPHILE_DIR / "node_modules" / "postgraphile" / "package.json"
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.read_path",
        description="The read path side by side: the hub, a raw asyncpg endpoint, PostGraphile 5.",
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="300k")
    parser.add_argument(
        "--scale-check",
        action="store_true",
        help="also run the owner list at 10k and 1m and trace every query there",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per cell")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--no-postgraphile", action="store_true")
    parser.add_argument(
        "--query",
        action="append",
        choices=QUERIES,
        help="measure only this query (repeatable); the report then lacks the others' targets",
    )
    parser.add_argument("--reseed", action="store_true", help="seed the datasets anew")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    node, about_node = (None, "skipped (--no-postgraphile)")
    if not args.no_postgraphile:
        node, about_node = find_node()
        if node is None:
            print(f"PostGraphile column skipped: {about_node}", flush=True)
    postgraphile = (
        f"{_postgraphile_version()} on node {about_node}" if node else f"skipped: {about_node}"
    )
    load_before = load_average()
    options = Options(
        rounds=args.rounds,
        duration=args.duration,
        connections=args.connections,
        timeout=args.timeout,
        node=node,
        queries=tuple(args.query) if args.query else QUERIES,
    )
    with open_dataset(args.size, reseed=args.reseed) as (owner_url, dataset):
        main_result = asyncio.run(measure(owner_url, dataset, options))
    scale: dict[str, Measured] = {}
    if args.scale_check:
        scaled = Options(
            rounds=args.rounds,
            duration=args.duration,
            connections=args.connections,
            timeout=args.timeout,
            node=None,
            queries=(OWNER_LIST,),
            concurrency_check=False,
            trace_systems=(HUB,),
        )
        for size in ("10k", "1m"):
            if size == args.size:
                continue
            with open_dataset(size, reseed=args.reseed) as (owner_url, dataset):
                scale[size] = asyncio.run(measure(owner_url, dataset, scaled))
    report = Report(
        main=main_result,
        scale=scale,
        rounds=args.rounds,
        duration=args.duration,
        connections=args.connections,
        timeout=args.timeout,
        postgraphile=postgraphile,
        load_before=load_before,
        load_after=load_average(),
        python_note=f"Python {platform.python_version()}",
    )
    text = render(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    print(f"\nwritten to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
