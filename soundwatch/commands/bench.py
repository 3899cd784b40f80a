"""`soundwatch bench`: run every benchmarks/bench_*.py and collect their JSON.

Each benchmark is a script that prints one JSON object as its last line. They run one at a
time (they measure CPU), from the repository root, and the collected objects are written
to benchmarks/results.json. Some read ../shared/data (ESC-50 etc.) and say so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="run the benchmarks, write benchmarks/results.json")
    parser.add_argument("names", nargs="*",
                        help="benchmarks to run (e.g. features capture); default: all")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results.json"),
                        help="where to write the collected results")


def available_benchmarks() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in (REPO / "benchmarks").glob("bench_*.py"))


def run(args) -> int:
    from soundwatch.errors import SoundwatchError

    if not available_benchmarks():
        raise SoundwatchError(
            f"no benchmarks beside this soundwatch ({REPO / 'benchmarks'} has none): they "
            "are not installed with the package. Run them from a clone of the source, "
            "with its own set-up: scripts/run.sh bench")
    names = args.names or available_benchmarks()
    unknown = sorted(set(names) - set(available_benchmarks()))
    if unknown:
        raise SoundwatchError(f"unknown benchmarks {unknown}; available: {available_benchmarks()}")
    out_path = Path(args.out)
    collected = json.loads(out_path.read_text()) if out_path.exists() else {}
    failures = 0
    for name in names:
        print(f"bench {name} ...", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", f"benchmarks.bench_{name}"], cwd=REPO,
                                capture_output=True, text=True)
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        try:
            record = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            record = {"error": (result.stderr or result.stdout)[-2000:]}
        record["wall_s"] = round(time.monotonic() - started, 1)
        if result.returncode != 0 or "error" in record:
            failures += 1
            print(f"  failed: {str(record.get('error', ''))[-500:]}", flush=True)
        else:
            print(f"  {json.dumps(record['results'])[:400]}", flush=True)
        collected[name] = record
        out_path.write_text(json.dumps(collected, indent=2) + "\n")
    print(f"wrote {out_path}")
    return 1 if failures else 0
