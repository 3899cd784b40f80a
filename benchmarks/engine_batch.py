"""How much audio the engine worker should wait for before it wakes (engine.MIN_READ_SECONDS).

Reads ../shared/data: ESC-50 clips 3 s apart in household noise (benchmarks/streams.py),
replayed *paced in real time* (:class:`soundwatch.audio.files.FileSource`, 20 ms blocks, as a
microphone delivers them) into a :class:`soundwatch.monitor.Monitor` with the shipped model,
in this process. For each candidate the process's CPU time (all threads, from
/proc/self/stat) is read over ``--measure-s`` seconds after an 8 s warm-up, as a percentage
of one core. Candidates alternate (A B C A B C ...) so that a shared machine's load falls on
all of them alike; the figures to compare are those of one run.

    python -m benchmarks.engine_batch > benchmarks/engine_batch.json

Each candidate adds at most its own length to when a scoring window is scored; 0.0 wakes
for every block the source delivers (20 ms), as the engine did before.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

import soundwatch.engine as engine_module
from benchmarks.machine import emit, require_shared_data
from benchmarks.streams import RATE_HZ, esc50_rows, event_stream
from soundwatch.audio.files import REPLAY_BLOCK_SECONDS, FileSource
from soundwatch.model import Classifier, default_model_path
from soundwatch.monitor import Monitor

CANDIDATES_S = (0.0, 0.05, 0.1)
WARMUP_S = 8.0


def process_cpu_s() -> float:
    fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(classifier: Classifier, stream: Path, min_read_s: float, measure_s: float
            ) -> float:
    engine_module.MIN_READ_SECONDS = min_read_s
    monitor = Monitor(FileSource(stream, RATE_HZ, paced=True), classifier)
    monitor.start()
    try:
        time.sleep(WARMUP_S)
        cpu, wall = process_cpu_s(), time.monotonic()
        time.sleep(measure_s)
        return 100.0 * (process_cpu_s() - cpu) / (time.monotonic() - wall)
    finally:
        monitor.stop()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--measure-s", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    require_shared_data()
    shipped = engine_module.MIN_READ_SECONDS
    classifier = Classifier(default_model_path(), threads=1)
    needed_s = WARMUP_S + args.measure_s + 5
    signal, _ = event_stream(esc50_rows()[::8][: int(needed_s / 8) + 2], "noisy")
    percents: dict[float, list[float]] = {c: [] for c in CANDIDATES_S}
    with tempfile.TemporaryDirectory() as folder:
        stream = Path(folder) / "stream.flac"
        soundfile.write(str(stream), signal, RATE_HZ)
        for _ in range(args.rounds):
            for candidate in CANDIDATES_S:
                percents[candidate].append(round(measure(classifier, stream, candidate,
                                                         args.measure_s), 2))
    engine_module.MIN_READ_SECONDS = shipped
    results = {
        "model_version": classifier.metadata.model_version,
        "measure_s": args.measure_s, "source_block_s": REPLAY_BLOCK_SECONDS,
        "shipped_min_read_s": shipped,
        "cpu_percent_of_one_core": {str(c): {"runs": p, "mean": round(float(np.mean(p)), 2)}
                                    for c, p in percents.items()},
    }
    emit("engine_batch", "CPU of a real-time monitor by how much audio the engine worker "
         "waits for per wake-up", results)


if __name__ == "__main__":
    main()
