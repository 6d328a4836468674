"""Where the hub's time goes on one read: py-spy samples the hub process under load.

`python -m bench.read_path.profile [--size 300k] [--query "owner list"] [--seconds 15]` starts
the dataset's server and the hub exactly as the benchmark does, sends the query from 32
connections for `--seconds`, samples the hub process with py-spy meanwhile, and writes
`bench/results/read_path_profile.md`: the functions that used the most samples, by their own
time and with what they called (inclusive), grouped by package. py-spy comes from PyPI
(`.venv/bin/pip install py-spy`); it is not a dependency of the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.harness import commit, raw_connection
from bench.read_path.dataset import SIZES, Dataset, data_dir, open_dataset
from bench.read_path.measure import Cell, Probe, run_cell
from bench.read_path.run import _refresh
from bench.read_path.systems import HUB, QUERIES, Callers, requests_for, start_hub, stop_all

RESULTS = Path(__file__).parents[1] / "results" / "read_path_profile.md"
TOP = 25


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=sorted(SIZES), default="300k")
    parser.add_argument("--query", choices=QUERIES, default=QUERIES[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--connections",
        type=int,
        default=32,
        help="1 shows the hub's own work: under contention for two cores a runnable but "
        "descheduled process is sampled where it stopped, often just after a socket write",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--native",
        action="store_true",
        help="also sample C and Cython frames (asyncpg's protocol, uvloop); pauses the process",
    )
    options = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    with open_dataset(options.size) as (owner_url, dataset):
        stacks = asyncio.run(_profile(owner_url, dataset, options, py_spy))
    report = _report(stacks, options)
    options.output.write_text(report)
    print(report)
    return 0


async def _profile(
    owner_url: str, dataset: Dataset, options: argparse.Namespace, py_spy: str
) -> str:
    directory = data_dir(options.size)
    logs = directory / "logs"
    logs.mkdir(exist_ok=True)
    async with raw_connection(owner_url) as connection:
        probe = Probe(connection, directory / "postgres")
        await probe.prepare()
        sample = await connection.fetch(
            "SELECT id FROM opportunities WHERE org_id = $1 LIMIT 200",
            dataset.owner.org_id,
        )
        callers = Callers(dataset, sample_ids=[row["id"] for row in sample])
        hub = start_hub(owner_url, logs)
        try:
            await _refresh(connection, hub, callers)
            requests = requests_for(HUB, options.query, hub.port, callers)
            warm = Cell(HUB, options.query, 32, 0)
            await run_cell(probe, hub, warm, requests, 3.0, 10.0)
            with tempfile.TemporaryDirectory() as scratch:
                output = Path(scratch) / "stacks.txt"
                sampler = await asyncio.create_subprocess_exec(
                    py_spy,
                    "record",
                    "--pid",
                    str(hub.pid),
                    "--duration",
                    str(int(options.seconds)),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(output),
                    "--native" if options.native else "--nonblocking",
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
                cell = Cell(HUB, options.query, options.connections, 1)
                await run_cell(probe, hub, cell, requests, options.seconds, 10.0)
                await sampler.wait()
                print(f"{cell.answered} answered", file=sys.stderr)
                return output.read_text()
        finally:
            stop_all([hub])


def _report(stacks: str, options: argparse.Namespace) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in stacks.splitlines():
        frames_text, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in frames_text.split(";") if frame]
        if not frames:
            continue
        total += count
        own[_name(frames[-1])] += count
        packages[_package(frames[-1])] += count
        for name in {_name(frame) for frame in frames}:
            inclusive[name] += count
    ours = [
        f"| `{name}` | {count / total:.1%} |"
        for name, count in inclusive.most_common()
        if _ours(name)
    ]
    lines = [
        "# Where the hub's time goes",
        "",
        f"`python -m bench.read_path.profile --size {options.size} --query '{options.query}' "
        f"--seconds {options.seconds:g} --connections {options.connections}` at commit "
        f"{commit()}: py-spy at 250 Hz on the hub process while {options.connections} "
        f"connection(s) send the query; {total:,} samples of a busy thread.",
        "",
        "## Own time by package",
        "",
        "| package | share |",
        "| --- | ---: |",
        *(f"| {name} | {count / total:.1%} |" for name, count in packages.most_common(15)),
        "",
        "## Own time by function",
        "",
        "| function | share |",
        "| --- | ---: |",
        *(f"| `{name}` | {count / total:.1%} |" for name, count in own.most_common(TOP)),
        "",
        "## Inclusive time (the hub's own functions and what they called)",
        "",
        "| function | share |",
        "| --- | ---: |",
        *ours[:TOP],
        "",
    ]
    return "\n".join(lines)


def _name(frame: str) -> str:
    """`function (path:line)` as `function (path)`: lines apart, one function."""
    function, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{function} ({path})"


def _package(frame: str) -> str:
    name = _name(frame)
    path = name.partition(" (")[2].rstrip(")")
    return path.split("/", 1)[0] if "/" in path else path


def _ours(name: str) -> bool:
    path = name.partition(" (")[2]
    return path.startswith(("hub/", "schema/", "resolvers/", "auth/"))


if __name__ == "__main__":
    raise SystemExit(main())
