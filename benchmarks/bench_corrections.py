"""Corrections that stick: a learnt sound's events rejected or confirmed, then heard again.

For each DCASE 2016 office class: learn it from its first 5 isolated recordings (as
`soundwatch learn` does, keeping what it learnt from). Stream A holds 5 other recordings
of it and DISTRACTORS recordings of each of the other classes of its set (and speech),
shuffled, 3 s apart, alternately at 0 and +6 dB event-to-background ratio in the noisy
household bed (benchmarks/streams.py); stream B likewise holds its remaining recordings
and other distractors, over another stretch of the bed: audio the corrections never
heard. The learnt sound is detected on A, and then, as a user at the events table would:
- ``reject``: every false event of A is rejected (its audio, 1 s either side, kept as
  the example, as a clip is) and the sound retrained (soundwatch.sounds.retrain);
- ``confirm``: every true event of A is confirmed likewise;
- ``both``: both.
Reported per scenario: recall and false events on A and on B, before and after.

``--tune`` runs the tuning classes (benchmarks/bench_learn_sound.TUNE_CLASSES, their
distractors among themselves) and compares CANDIDATES (how a retrain treats corrected
events); without it, the reported classes at the shipped settings (``--compare-before``:
and as before those settings). The reported figures choose nothing.

Run: OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_corrections [--tune]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import soundfile

from benchmarks.bench_learn_sound import CLASSES, TUNE_CLASSES, active_rms
from benchmarks.machine import emit, require_shared_data
from benchmarks.streams import RATE_HZ, background_audio
from soundwatch.audio.files import load_audio
from soundwatch.detect import DetectorSettings
from soundwatch.model import Classifier, default_model_path
from soundwatch.sounds.apply import WithUserSounds
from soundwatch.sounds.learn import LEARNT_MIN_DURATION_S, learn_sound
from soundwatch.train.event_eval import (
    detect_with_notices,
    match_events,
    place_clips,
    stream_length,
)

EXAMPLES = 5
DISTRACTORS = 2  # recordings of each other class in each stream
GAP_S = 3.0
EBRS_DB = (0.0, 6.0)
CLIP_MARGIN_S = 1.0  # audio kept around a corrected event, as a clip's pre/post-roll
BED_SHIFT_S = 40.0  # stream B's bed starts this much further into the bed recordings
SCENARIOS = ("reject", "confirm", "both")
# --tune's candidates: how a retrain treats corrected events (soundwatch.sounds.retrain's
# settings, patched). "before": as before these settings existed.
BEFORE = {"REJECTED_PLACE_SNRS_DB": (), "ROOM_GUARD": False, "KEEP_POSITIVE_SHARE": 0.5,
          "HARD_NEGATIVE_SHARE": 0.5, "CORRECTED_LOUD_IN_ROOM": False,
          "CORRECTED_ABOVE_ROOM_DB": None}
# the settings shipped until a corrected clip's sound windows were chosen within its room
SHIPPED_BEFORE_IN_ROOM = {**BEFORE, "REJECTED_PLACE_SNRS_DB": (6.0, 12.0)}
# settings that live in soundwatch.sounds.head (the others in soundwatch.sounds.retrain)
HEAD_SETTINGS = ("HARD_NEGATIVE_SHARE",)
CANDIDATES = {
    "before": BEFORE,
    "rejected_copies_6": {**BEFORE, "REJECTED_PLACE_SNRS_DB": (6.0,)},
    "rejected_copies_12": {**BEFORE, "REJECTED_PLACE_SNRS_DB": (12.0,)},
    "rejected_copies_6_12": {**BEFORE, "REJECTED_PLACE_SNRS_DB": (6.0, 12.0)},
    "rejected_copies_0_6": {**BEFORE, "REJECTED_PLACE_SNRS_DB": (0.0, 6.0)},
    "rejected_copies_6_12_room_guard": {**BEFORE, "REJECTED_PLACE_SNRS_DB": (6.0, 12.0),
                                        "ROOM_GUARD": True},
    # how far the threshold may rise over the rejected events (raise_above_rejected):
    # the share of the positive windows it must still pass (1.0: it does not rise)
    "keep_share_0.8": {**BEFORE, "REJECTED_PLACE_SNRS_DB": (6.0, 12.0),
                       "KEEP_POSITIVE_SHARE": 0.8},
    "keep_share_1": {**BEFORE, "REJECTED_PLACE_SNRS_DB": (6.0, 12.0),
                     "KEEP_POSITIVE_SHARE": 1.0},
    # the weight of the rejected events among the negatives in the refit
    "hard_share_0.25": {**BEFORE, "REJECTED_PLACE_SNRS_DB": (6.0, 12.0),
                        "HARD_NEGATIVE_SHARE": 0.25},
    "hard_share_0.1": {**BEFORE, "REJECTED_PLACE_SNRS_DB": (6.0, 12.0),
                       "HARD_NEGATIVE_SHARE": 0.1},
    "shipped_before_in_room": SHIPPED_BEFORE_IN_ROOM,
    # a corrected clip's sound: its windows in the upper half of its levels only
    "loud_in_room": {**SHIPPED_BEFORE_IN_ROOM, "CORRECTED_LOUD_IN_ROOM": True},
    # ... or only those more than 3 / 6 dB over its quietest (its room)
    "above_room_3": {**SHIPPED_BEFORE_IN_ROOM, "CORRECTED_ABOVE_ROOM_DB": 3.0},
    "above_room_6": {**SHIPPED_BEFORE_IN_ROOM, "CORRECTED_ABOVE_ROOM_DB": 6.0},
}


def recordings(name: str) -> list[Path]:
    return sorted((require_shared_data() / "dcase2016_office" / "isolated").glob(f"{name}*.flac"))


def build_stream(label: str, own: list[Path], distractors: list[Path], seed: int,
                 shift_s: float):
    """The class's recordings and the distractors, shuffled, in the household bed."""
    rng = np.random.default_rng(seed)
    items = [(label, p) for p in own] + [(p.stem.rstrip("0123456789"), p) for p in distractors]
    items = [items[i] for i in rng.permutation(len(items))]
    clips = [(lab, p.name, load_audio(p, RATE_HZ)[0]) for lab, p in items]
    n = stream_length(clips, RATE_HZ, GAP_S)
    bed = np.roll(background_audio("noisy", n / RATE_HZ + shift_s)[:n + int(shift_s * RATE_HZ)],
                  -int(shift_s * RATE_HZ))[:n]
    bed_rms = float(np.sqrt(np.mean(np.square(bed, dtype=np.float64))))
    scaled = [(lab, name, (clip * bed_rms * 10 ** (EBRS_DB[i % len(EBRS_DB)] / 20)
                           / active_rms(clip)).astype(np.float32))
              for i, (lab, name, clip) in enumerate(clips)]
    return place_clips(scaled, bed, RATE_HZ, GAP_S)


def heard(sound, classifier, stream) -> tuple[dict, list, list]:
    """(recall and false events, the events that matched, the false events)."""
    signal, truth = stream
    settings = DetectorSettings(warmup_s=0.0, watch=(sound.label,),
                                min_duration_s=LEARNT_MIN_DURATION_S)
    events, notices = detect_with_notices(WithUserSounds(classifier, [sound]), signal, settings)
    own = [t for t in truth if t.label == sound.label]
    matched = match_events(events, notices, own)
    false = matched["false_events"]
    true = [e for e in events if e.label == sound.label and e not in false]
    return ({"recall": round(sum(matched["found"]) / len(own), 3), "false_events": len(false)},
            true, false)


def keep_event_audio(signal: np.ndarray, event, folder: Path, name: str) -> Path:
    start = max(0, int((event.start_s - CLIP_MARGIN_S) * RATE_HZ))
    end = min(len(signal), int((event.end_s + CLIP_MARGIN_S) * RATE_HZ))
    path = folder / f"{name}.flac"
    soundfile.write(str(path), signal[start:end], RATE_HZ)
    return path


def correct_and_retrain(sound, classifier, stream, true, false, scenario: str, folder: Path):
    """Store the scenario's corrections of stream A's events in a real event database,
    then retrain the sound from them."""
    from soundwatch.sounds.retrain import retrain_sound
    from soundwatch.store import EventStore

    store = EventStore(folder / f"{scenario}.sqlite")
    signal = stream[0]
    stamp = "2026-01-01T00:00:00.000Z"
    chosen = ([("reject", e) for e in false] if scenario in ("reject", "both") else []) + \
             ([("confirm", e) for e in true] if scenario in ("confirm", "both") else [])
    for i, (kind, event) in enumerate(chosen):
        example = keep_event_audio(signal, event, folder, f"{scenario}{i}_{kind}")
        store.add_correction(kind, stamp, stamp, event_label=sound.label,
                             label=sound.label if kind == "confirm" else None,
                             example_path=str(example))
    retrained = retrain_sound(sound.label, classifier, store, sound)
    store.close()
    return retrained, len(chosen)


def evaluate(classifier, classes, distractor_classes, settings: dict | None = None) -> dict:
    """Per class and scenario, before and after; ``settings``: retrain settings to patch
    (None: the shipped ones)."""
    from soundwatch.sounds import head, retrain

    settings = {name: getattr(head if name in HEAD_SETTINGS else retrain, name)
                for name in BEFORE} | (settings or {})

    per_class = {}
    for name in classes:
        label = f"own_{name}"
        paths = recordings(name)
        others = [c for c in distractor_classes if c != name]
        a_distract = [p for c in others for p in recordings(c)[EXAMPLES:EXAMPLES + DISTRACTORS]]
        b_distract = [p for c in others
                      for p in recordings(c)[EXAMPLES + DISTRACTORS:EXAMPLES + 2 * DISTRACTORS]]
        stream_a = build_stream(label, paths[EXAMPLES:2 * EXAMPLES], a_distract, 1, 0.0)
        stream_b = build_stream(label, paths[2 * EXAMPLES:], b_distract, 2, BED_SHIFT_S)
        with tempfile.TemporaryDirectory() as folder, \
                mock.patch.dict(os.environ, {"SOUNDWATCH_DATA_DIR": folder}), \
                mock.patch.multiple(retrain, **{k: v for k, v in settings.items()
                                                if k not in HEAD_SETTINGS}), \
                mock.patch.multiple(head, **{k: v for k, v in settings.items()
                                             if k in HEAD_SETTINGS}):
            kept: dict = {}
            sound = learn_sound(label, paths[:EXAMPLES], classifier, kept=kept)
            retrain.save_kept(label, kept, sound.model_version)
            before_a, true, false = heard(sound, classifier, stream_a)
            before_b, _, _ = heard(sound, classifier, stream_b)
            result = {"before": {"A": before_a, "B": before_b}}
            for scenario in SCENARIOS:
                retrained, corrections = correct_and_retrain(
                    sound, classifier, stream_a, true, false, scenario, Path(folder))
                result[scenario] = {"corrections": corrections,
                                    "A": heard(retrained, classifier, stream_a)[0],
                                    "B": heard(retrained, classifier, stream_b)[0]}
        per_class[label] = result
    summary = {}
    for key in ("before", *SCENARIOS):
        summary[key] = {s: {"mean_recall": round(float(np.mean(
                            [r[key][s]["recall"] for r in per_class.values()])), 3),
                            "false_events": int(sum(r[key][s]["false_events"]
                                                    for r in per_class.values()))}
                        for s in ("A", "B")}
    return {"retrain_settings": {k: list(v) if isinstance(v, tuple) else v
                                 for k, v in settings.items()},
            "summary": summary, "classes": per_class}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tune", action="store_true",
                        help="compare CANDIDATE_SNRS_DB on the tuning classes")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--compare-before", action="store_true",
                        help="also report the reported classes with the BEFORE settings")
    args = parser.parse_args()
    classifier = Classifier(default_model_path(), threads=1)
    if args.tune:
        classes = TUNE_CLASSES
        results = {name: evaluate(classifier, classes, (*classes, "speech"), CANDIDATES[name])
                   for name in args.candidates}
    else:
        results = {"shipped": evaluate(classifier, CLASSES, (*CLASSES, "speech"))}
        if args.compare_before:
            results["before"] = evaluate(classifier, CLASSES, (*CLASSES, "speech"), BEFORE)
    emit("corrections", "a learnt sound's recall and false events on a stream whose events "
         "were rejected / confirmed (A) and on a fresh stream (B), before and after the "
         "retrain", {"model_version": classifier.metadata.model_version,
                     "tuning_classes" if args.tune else "reported_classes": results})


if __name__ == "__main__":
    main()
