"""Learnt tonal sounds against other tonal sounds: which probes fire them.

A user teaching a door chime, an appliance's beeps or an alarm from a few recordings, and no
recording of the place, learns against the shipped generic negatives alone. This learns
three synthetic sounds (a two-tone chime, a 2.5 kHz triple beep, a 3.1 kHz alarm) from 5
examples each in quiet noise (-50 dBFS), then places each of 12 probes (other tones, beep
patterns, a sweep, a siren-like warble, a lower chime, white noise, and a fresh copy of each
learnt sound) 3 s into 10 s of that noise and counts the learnt sound's events, through the
app's path (learn_sound, WithUserSounds, the detector at the learnt sound's settings).

Each ``--generic FILE`` (a benchmarks/make_generic_negatives.py output for the shipped
model) is compared; none: the shipped file. Needs only the shipped model.

    python -m benchmarks.tonal_false_alarms --generic runs/tonal/gen/tonal0.npz \
        runs/tonal/gen/tonal60.npz runs/tonal/gen/tonal120.npz

Prints JSON: per file and learnt sound, the events of each probe, and the number of other
probes that fired it.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import soundfile

from benchmarks.bench_learn_sound import learning_against
from benchmarks.machine import emit
from soundwatch.detect import DetectorSettings
from soundwatch.model import Classifier, default_model_path
from soundwatch.sounds.apply import WithUserSounds
from soundwatch.sounds.learn import LEARNT_MIN_DURATION_S, learn_sound
from soundwatch.train.event_eval import detect_with_notices

RATE_HZ = 16000
NOISE_LEVEL = 0.003  # white noise, about -50 dBFS
EXAMPLES = 5


def tone(freq_hz: float, seconds: float, level: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return (level * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def beeps(freq_hz: float, seconds: float, on_s: float = 0.15, off_s: float = 0.15,
          level: float = 0.2) -> np.ndarray:
    signal = tone(freq_hz, seconds, level)
    signal[(np.arange(len(signal)) / RATE_HZ) % (on_s + off_s) >= on_s] = 0.0
    return signal


def chime(rng: np.random.Generator, first_hz: float = 1175.0, second_hz: float = 932.0
          ) -> np.ndarray:
    """Ding-dong: two decaying tones of 0.6 s with a third harmonic; pitch within 1 %,
    level within 3 dB each time."""
    pitch = 1.0 + rng.uniform(-0.01, 0.01)
    level = 0.35 * 10 ** (rng.uniform(-3, 0) / 20)
    t = np.arange(int(0.6 * RATE_HZ)) / RATE_HZ
    parts = [np.exp(-t / 0.25) * (np.sin(2 * np.pi * f * pitch * t)
                                  + 0.3 * np.sin(2 * np.pi * 3 * f * pitch * t))
             for f in (first_hz, second_hz)]
    return (level * np.concatenate(parts)).astype(np.float32)


def sweep(start_hz: float, end_hz: float, seconds: float, level: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    phase = 2 * np.pi * (start_hz * t + (end_hz - start_hz) * t * t / (2 * seconds))
    return (level * np.sin(phase)).astype(np.float32)


def in_noise(sound: np.ndarray, rng: np.random.Generator, before_s: float,
             seconds: float) -> np.ndarray:
    length = max(int(seconds * RATE_HZ), int(before_s * RATE_HZ) + len(sound))
    signal = (NOISE_LEVEL * rng.standard_normal(length)).astype(np.float32)
    start = int(before_s * RATE_HZ)
    signal[start:start + len(sound)] += sound
    return signal


def learnt_sounds(rng: np.random.Generator) -> dict[str, list[np.ndarray]]:
    """Five example recordings (2.5 s or more) of each sound to learn."""
    def jitter() -> float:
        return 1.0 + rng.uniform(-0.01, 0.01)
    return {
        "chime": [in_noise(chime(rng), rng, 0.3, 2.5) for _ in range(EXAMPLES)],
        "beep2500x3": [in_noise(beeps(2500 * jitter(), 0.9, 0.2, 0.1), rng, 0.3, 2.5)
                       for _ in range(EXAMPLES)],
        "alarm3100": [in_noise(beeps(3100 * jitter(), 2.0, 0.5, 0.5, 0.25), rng, 0.3, 2.5)
                      for _ in range(EXAMPLES)],
    }


def probes(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sounds to place in noise; ``*_same`` are fresh copies of a learnt sound."""
    return {
        "tone 500 Hz": tone(500, 3), "tone 1175 Hz": tone(1175, 3), "tone 3 kHz": tone(3000, 3),
        "beeps 2 kHz": beeps(2000, 3), "beeps 1 kHz": beeps(1000, 3),
        "sweep 0.4-4 kHz": sweep(400, 4000, 3),
        "warble 650/900 Hz": np.concatenate([tone(650, 0.5), tone(900, 0.5)] * 3),
        "chime 660/550 Hz": chime(rng, 660.0, 550.0), "white noise": (0.1 * rng.standard_normal(3 * RATE_HZ)).astype(np.float32),
        "chime_same": chime(rng), "beep2500x3_same": beeps(2500, 0.9, 0.2, 0.1),
        "alarm3100_same": beeps(3100, 3, 0.5, 0.5, 0.25),
    }


def measure(classifier, generic: Path | None) -> dict:
    rng = np.random.default_rng(3)
    sounds = learnt_sounds(rng)
    placed = {name: in_noise(sound, rng, 3.0, 10.0) for name, sound in probes(rng).items()}
    results = {}
    with tempfile.TemporaryDirectory() as folder, learning_against(generic):
        for label, examples in sounds.items():
            paths = []
            for i, signal in enumerate(examples):
                paths.append(Path(folder) / f"{label}{i}.wav")
                soundfile.write(str(paths[-1]), signal, RATE_HZ)
            sound = learn_sound(label, paths, classifier, [])
            learnt = WithUserSounds(classifier, [sound])
            settings = DetectorSettings(warmup_s=0.0, watch=(label,),
                                        min_duration_s=LEARNT_MIN_DURATION_S)
            events = {name: sum(e.label == label for e in detect_with_notices(
                learnt, signal, settings)[0]) for name, signal in placed.items()}
            results[label] = {
                "events_per_probe": events,
                "other_probes_firing": sum(bool(n) for name, n in events.items()
                                           if name != f"{label}_same"),
                "own_fresh_copy_found": bool(events[f"{label}_same"]),
            }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generic", type=Path, nargs="+", default=[None],
                        help="generic-negative files to compare (default: the shipped one)")
    args = parser.parse_args()
    classifier = Classifier(default_model_path(), threads=1)
    results = {str(g or "shipped"): measure(classifier, g) for g in args.generic}
    emit("tonal_false_alarms", "learnt synthetic tonal sounds (5 examples, no place "
         "recording): which of 11 other probes fire them, and whether a fresh copy of "
         "each is found", {"model_version": classifier.metadata.model_version,
                           "by_generic_negatives": results})


if __name__ == "__main__":
    main()
