"""Choose between head recipes (HeadConfig variants) on a validation fold.

Each variant (``--variant NAME:field=value,...`` over :class:`HeadConfig`, e.g. the pooling
over YAMNet's time cells or the noisy copies of each clip) trains the head on folds 3-5
plus speech and music (fold 1 left out entirely, fold 2 the validation fold, as the head
recipe was chosen), then on fold 2:
clip accuracy, and every clip placed 3 s apart in a quiet room and in household noise,
through the app's path at the detector defaults (recall, onset latency, false events),
and each clip's loudest single sound (at most 1 s) in household noise at -6, 0 and +6 dB
(``short``: the shape of the DCASE office check, on ESC-50's held-out fold). A variant
whose run already finished in ``--out`` is measured again without training.
The home labels' calibration figure (proxy window recall at the cut that 0.1 % of
negative training windows reach) is measured on training data, and so is the `speech`
score of near silence (digital zeros and white noise at -90 and -70 dBFS, which a muted or
very quiet microphone gives). Reads ../shared/data.

    python -m benchmarks.recipe_choice --out runs/pooling \
        --variant mean:pooling=mean --variant mean+max:pooling=mean+max \
        > benchmarks/pooling_choice.json
    python -m benchmarks.recipe_choice --out runs/noise \
        --variant shipped: --variant noisy2:noisy_copies=2,snr_db_min=-5 \
        > benchmarks/noise_choice.json

A variant that changes the training windows (noisy copies, SNRs, hop) computes the YAMNet
embeddings of all of them once (about 20 minutes on 2 cores); the others reuse the cache.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from benchmarks.machine import require_shared_data
from benchmarks.streams import RATE_HZ, esc50_path, esc50_rows
from soundwatch.audio.files import load_audio
from soundwatch.class_defaults import read_tuned_settings
from soundwatch.features import FeatureExtractor
from soundwatch.model import Classifier
from soundwatch.scoring import score_stream
from soundwatch.train.event_eval import fold_event_report
from soundwatch.train.false_alarms import background_tail_stream
from soundwatch.train.recipe import DataSources
from soundwatch.train.run import RunOptions
from soundwatch.train.run_pretrained import load_yamnet_dir, run_pretrained_training
from soundwatch.train.settings import HeadConfig, TrainConfig

VALIDATION_FOLD = 2
LEFT_OUT_FOLDS = (1,)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/recipe"))
    parser.add_argument("--variant", action="append", required=True, metavar="NAME:F=V,...",
                        help="a recipe to try: a name, then HeadConfig fields to change "
                             "(none: the shipped recipe); repeat for each")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads and feature processes for training (%(default)s)")
    parser.add_argument("--train-only", action="store_true",
                        help="train the variants and stop (e.g. on a GPU machine); a later "
                             "run without it measures them without training again")
    parser.add_argument("--detector", type=Path, default=None, metavar="JSON",
                        help="measure at the settings of this benchmarks.tune_detector output "
                             "(detector-wide and per class) instead of each model's "
                             "defaults")
    args = parser.parse_args(argv)
    settings = read_tuned_settings(args.detector) if args.detector else None
    variants = dict(parse_variant(text) for text in args.variant)
    data = require_shared_data()
    sources = DataSources(esc50=data / "esc50",
                          folder_per_class=[data / "music_speech"],
                          label_folders=[("speech", data / "speech" / "audio")],
                          backgrounds=[data / "background" / "audio"])
    yamnet, class_names, weights_id = load_yamnet_dir(data / "yamnet")
    clips = [(r["category"], r["filename"], load_audio(esc50_path(r), RATE_HZ)[0])
             for r in esc50_rows(VALIDATION_FOLD)]
    backgrounds = sorted((data / "background" / "audio").glob("*.*"))
    results = {}
    for name, changes in variants.items():
        out_dir = args.out / name.replace("+", "_")
        out_dir.mkdir(parents=True, exist_ok=True)
        options = RunOptions(sources=sources, out_dir=out_dir,
                             config=replace(TrainConfig(), threads=args.threads),
                             test_fold=VALIDATION_FOLD, val_fraction=0.0, progress=False,
                             command=f"benchmarks.recipe_choice --variant {name}:"
                             + ",".join(f"{k}={v}" for k, v in changes.items()))
        config = replace(HeadConfig(), **changes)
        summary = finished_run(out_dir, config) or run_pretrained_training(
            options, yamnet, class_names, weights_id, config, exclude_folds=LEFT_OUT_FOLDS)
        if args.train_only:
            print(f"{name}: trained in {out_dir}, clip accuracy "
                  f"{summary['test_accuracy']:.4f}", flush=True)
            continue
        classifier = Classifier(Path(summary["model_path"]), threads=1)
        noise = background_tail_stream(backgrounds, RATE_HZ,
                                       summary["config"]["background_fraction"])
        events = fold_event_report(classifier, clips, noise, settings)  # the four rooms
        rng = np.random.default_rng(0)
        quiet = {"zeros": np.zeros(5 * RATE_HZ, np.float32)}
        for level_dbfs in (-90, -70):
            quiet[f"white noise {level_dbfs} dBFS"] = (rng.standard_normal(5 * RATE_HZ)
                                                       * 10 ** (level_dbfs / 20))
        speech = classifier.labels.index("speech")
        speech_on_silence = {
            name: round(float(score_stream(signal.astype(np.float32), classifier,
                                           classifier.hop_frames_for(None),
                                           FeatureExtractor(classifier.spec)
                                           ).score_max[speech]), 3)
            for name, signal in quiet.items()}
        results[name] = {
            "changes": changes,
            "clip_accuracy": round(summary["test_accuracy"], 4),
            "home_proxy_window_recall": round(summary["calibration"]["proxy_recall"], 4),
            "home_offset": round(summary["calibration"]["offset"], 3),
            "train_seconds": summary["train_seconds"],
            "speech_score_max_on_near_silence": speech_on_silence,
            "events": {room: without_per_label(figures) for room, figures in events.items()},
            "per_label_recall_noisy": events["noisy"].get("per_label_recall"),
        }
        print(json.dumps({name: results[name]}), flush=True)
    if args.train_only:
        return
    print(json.dumps({"validation_fold": VALIDATION_FOLD, "left_out_folds": LEFT_OUT_FOLDS,
                      "detector": str(args.detector) if args.detector else "each model's "
                      "defaults", "results": results}, indent=1))


def finished_run(out_dir: Path, config: HeadConfig) -> dict | None:
    """The summary of a run already trained in ``out_dir`` with this recipe, else None
    (so a variant is measured again, e.g. on a new stream, without training it again)."""
    path = out_dir / "summary.json"
    if not path.is_file():
        return None
    summary = json.loads(path.read_text())
    recorded = dict(summary["config"])
    recorded["hop_frames"] = recorded.get("training_hop_frames")  # "hop_frames": the live hop
    trained_with = {k: recorded.get(k, getattr(HeadConfig(), k)) for k in config.to_dict()}
    if trained_with != config.to_dict() or not Path(summary["model_path"]).is_file():
        return None
    return summary


def without_per_label(figures: dict) -> dict:
    """A room's figures without the per-label recalls (nested rooms: each ratio too)."""
    return {k: without_per_label(v) if isinstance(v, dict) and "recall" in v else v
            for k, v in figures.items() if k != "per_label_recall"}


def parse_variant(text: str) -> tuple[str, dict]:
    """``"noisy2:noisy_copies=2,snr_db_min=-5"`` -> ("noisy2", {"noisy_copies": 2, ...}),
    each value converted to the field's type. Raises SystemExit naming an unknown field."""
    name, _, assignments = text.partition(":")
    types = {f.name: type(getattr(HeadConfig(), f.name)) for f in fields(HeadConfig)}
    changes = {}
    for assignment in filter(None, assignments.split(",")):
        key, _, value = assignment.partition("=")
        if key not in types:
            raise SystemExit(f"--variant {text!r}: HeadConfig has no field {key!r}; "
                             f"its fields: {', '.join(types)}")
        changes[key] = types[key](value)
    return name, changes


if __name__ == "__main__":
    main()
