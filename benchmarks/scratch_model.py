"""Figures of the from-scratch model (`--init scratch`), for the card's comparison.

The last model trained from scratch (git commit c5143a7, 200 epochs, bf16) is taken from
git history, so the comparison needs no second copy in the repository, and measured with
the same code as the shipped model: the DCASE 2016 office segments (never trained on by
either) and false events per hour on the held-out speech and music files and the unseen
tail of the background noise. Its ESC-50 5-fold figures come from the card data it was
shipped with (`models/soundwatch_eval.json` at that commit). Reads ../shared/data.

    python -m benchmarks.scratch_model --final-run runs/final > benchmarks/scratch_model.json

(``--final-run``: the shipped model's run, whose held-out files both are measured on; the
scratch model held out the same files: the split is seeded alike.) Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from benchmarks.machine import REPO, require_shared_data

SCRATCH_COMMIT = "c5143a7"


def git_file(commit: str, path: str) -> bytes:
    return subprocess.run(["git", "show", f"{commit}:{path}"], cwd=REPO, check=True,
                          capture_output=True).stdout


def main(argv=None) -> None:
    from soundwatch.model import Classifier
    from soundwatch.train.event_eval import dcase_report
    from soundwatch.train.false_alarms import (
        background_tail_stream,
        concatenated_stream,
        false_alarm_report,
    )

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--final-run", type=Path, required=True)
    args = parser.parse_args(argv)
    data = require_shared_data()
    summary = json.loads((args.final_run / "summary.json").read_text())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scratch.onnx"
        path.write_bytes(git_file(SCRATCH_COMMIT, "models/soundwatch.onnx"))
        classifier = Classifier(path, threads=1)
        rate = classifier.sample_rate_hz
        held = [Path(p) for p in summary["held_out_files"]]
        streams = {
            "background noise (unseen tail)": (background_tail_stream(
                sorted((data / "background" / "audio").glob("*.flac")), rate,
                summary["config"]["background_fraction"]), None),
            "music (held-out files)": (concatenated_stream(
                [p for p in held if p.parent.name == "music"], rate), "music"),
            "speech (held-out files)": (concatenated_stream(
                [p for p in held if p.parent.name != "music"], rate), "speech"),
        }
        false_alarms = false_alarm_report(classifier, streams)
        dcase = dcase_report(classifier, data / "dcase2016_office" / "segments")
    esc50 = json.loads(git_file(SCRATCH_COMMIT, "models/soundwatch_eval.json"))
    cv = esc50["esc50_cross_validation"]
    print(json.dumps({
        "model": f"models/soundwatch.onnx at {SCRATCH_COMMIT} (from scratch)",
        "esc50_mean": cv["mean"], "esc50_std": cv["std"], "esc50_folds": cv["folds"],
        "dcase": dcase,
        "false_events_per_hour": {name: f["false_events_per_hour"]
                                  for name, f in false_alarms.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
