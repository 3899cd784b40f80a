"""Before/after figures for issue 15: the full-disk and lock runs, and the CLI cases.

    python tests/fault_counts.py                          # this checkout
    python tests/fault_counts.py --pythonpath /tmp/base   # another (e.g. `git archive main`)

Prints one JSON object: for the full-disk and lock runs, the events in the file, printed,
stored, still pending or lost and the exit status; for each hostile CLI case, the exit
status and whether a traceback was printed. Needs root for the tmpfs mount (else the
full-disk run uses RLIMIT_FSIZE).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fault_env import SOUNDWATCH, env_for, full_disk_run, lock_run  # noqa: E402
from model_factory import make_test_model  # noqa: E402

from soundwatch.detect import Event  # noqa: E402
from soundwatch.errors import SoundwatchError  # noqa: E402
from soundwatch.store import EventStore  # noqa: E402


def counts(run: dict) -> dict:
    summary = run["summary"]
    return {"events_in_file": run["truth"], "printed": len(run["printed"]),
            "stored": len(run["stored"]), "pending": summary.get("events_pending"),
            "lost": summary.get("events_lost"), "exit": run["returncode"]}


def cli_cases(folder: Path, model: Path) -> dict[str, list[str]]:
    database = folder / "events.sqlite"
    with EventStore(database) as store:
        session = store.start_session("mic", "m.onnx", 16000)
        for i in range(5):
            store.add_event(Event("dog", i * 16000, i * 16000 + 8000, 0.9, 0.7, 16000, i + 1),
                            session)
    (folder / "latin1.toml").write_bytes('[audio]\ndevice = "caf\xe9"\n'.encode("latin-1"))
    (folder / "deep.toml").write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    (folder / "inf.toml").write_text("[detection]\nmerge_gap_s = inf\n")
    (folder / "nan.toml").write_text("[clips]\nmax_mb = nan\n")
    audio = folder / "a.wav"
    import numpy as np
    import soundfile

    soundfile.write(str(audio), np.zeros(16000, np.float32), 16000)
    listen = ["listen", "--headless", "--file", str(audio), "--model", str(model), "--no-db",
              "--fast"]
    return {
        "export -o a folder": ["events", "export", "--db", str(database), "-o", str(folder)],
        "export -o a missing folder": ["events", "export", "--db", str(database), "-o",
                                       str(folder / "no" / "x.csv")],
        "--limit 10**23": ["events", "list", "--db", str(database), "--limit", str(10**23)],
        "config not UTF-8": ["events", "list", "--config", str(folder / "latin1.toml")],
        "config nested 5000 deep": ["events", "list", "--config", str(folder / "deep.toml")],
        "config path is a folder": ["events", "list", "--config", str(folder)],
        "merge_gap_s = inf": [*listen, "--config", str(folder / "inf.toml")],
        "max_mb = nan": [*listen, "--config", str(folder / "nan.toml")],
        "--min-duration nan": [*listen, "--min-duration", "nan"],
        "--duration -1": [*listen, "--duration", "-1"],
        "--status-interval nan": [*listen, "--status-interval", "nan"],
        "--threads 100000": [*listen, "--threads", "100000"],
        # last: before the fix it destroys the database the cases above read
        "export -o the database": ["events", "export", "--db", str(database), "-o",
                                   str(database)],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pythonpath", help="run this checkout's soundwatch instead")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="fault_counts_"))
    model = make_test_model(folder / "model.onnx")
    result = {"full_disk": counts(full_disk_run(folder / "disk", model,
                                                pythonpath=args.pythonpath)),
              "lock_7s": counts(lock_run(folder / "lock", model, pythonpath=args.pythonpath)),
              "cli": {}}
    env = env_for(folder)
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    for name, argv in cli_cases(folder, model).items():
        try:
            run = subprocess.run([*SOUNDWATCH, *argv], capture_output=True, text=True,
                                 env=env, cwd=args.pythonpath or folder, timeout=60)
        except subprocess.TimeoutExpired:
            result["cli"][name] = {"exit": None, "hung": "killed after 60 s"}
            continue
        result["cli"][name] = {"exit": run.returncode, "traceback": "Traceback" in run.stderr}
    try:
        with EventStore(folder / "events.sqlite", read_only=True) as store:
            intact = len(store.recent_events()) == 5
    except SoundwatchError:
        intact = False
    result["cli"]["export -o the database"]["database_intact"] = intact
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
