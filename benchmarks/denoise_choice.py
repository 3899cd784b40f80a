"""Would subtracting the room's noise before the log help short sounds in noise? (reads
../shared/data; measured, not adopted)

The idea (session 20's note): a short sound at 0 dB in household noise scores near 0
while the same sound in a quiet room scores 0.8, so take the room out of the log-mel
first. A causal tracker follows each mel band's noise floor (a 20th-percentile quantile
tracker in the log domain: it rises ``step * q`` and falls ``step * (1 - q)`` nats a
10 ms frame), and each band keeps ``max(mel - over * floor, floor_share * mel)`` (or
``floor_share * floor`` with ``to_noise``) before ``ln(mel + 0.001)``, YAMNet's log.

Measured by ``benchmarks/short_sound_fit.py``'s ``held_out_peaks``: each held-out clip's
loudest single sound (``short_excerpt``) placed 3 s apart in household noise at -6, 0
and +6 dB event-to-background ratio, and in a quiet room; per excerpt, the highest score
of its own label over the windows that overlap it; the median, and the shares at 0.5
and 0.8 or more. The model must not have trained on the fold (``--model``: a fold's model from
``soundwatch evaluate --folds N``).

    python -m benchmarks.denoise_choice --model runs/cv_s21/fold2/model.onnx --fold 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.machine import emit, require_shared_data
from benchmarks.short_sound_fit import QUIET_EBR_DB, held_out_peaks
from benchmarks.streams import RATE_HZ, esc50_path, esc50_rows
from soundwatch.audio.files import load_audio
from soundwatch.features import FeatureExtractor, FeatureSpec
from soundwatch.model import Classifier
from soundwatch.train.event_eval import SHORT_EBRS_DB
from soundwatch.train.false_alarms import background_tail_stream
from soundwatch.train.settings import HeadConfig

VARIANTS = {  # name: Denoiser settings (None: the model's own features)
    "plain": None,
    "over_2_floor_0.1": {"over": 2.0, "floor_share": 0.1},
    "over_1_floor_0.5": {"over": 1.0, "floor_share": 0.5},
    "over_1_floor_0.3": {"over": 1.0, "floor_share": 0.3},
    "over_1_to_noise_0.3": {"over": 1.0, "floor_share": 0.3, "to_noise": True},
}


class Denoiser(FeatureExtractor):
    """YAMNet's log-mel with a tracked noise floor subtracted from each mel band first.
    Stateful: one per stream, fed in order."""

    def __init__(self, spec: FeatureSpec, q: float = 0.2, step: float = 0.02,
                 over: float = 2.0, floor_share: float = 0.1, to_noise: bool = False):
        super().__init__(spec)
        self.q, self.step, self.over = q, step, over
        self.floor_share, self.to_noise = floor_share, to_noise
        self.log_floor: np.ndarray | None = None

    def frames_to_features(self, frames: np.ndarray) -> np.ndarray:
        mel = self.mel_power(frames).astype(np.float64)
        out = np.empty_like(mel)
        for i, frame in enumerate(mel):
            log_frame = np.log(frame + 1e-6)
            if self.log_floor is None:
                self.log_floor = log_frame.copy()
            self.log_floor += self.step * (self.q - (log_frame < self.log_floor))
            floor = np.exp(self.log_floor)
            out[i] = np.maximum(frame - self.over * floor,
                                self.floor_share * (floor if self.to_noise else frame))
        return np.log(out + self.spec.log_offset).astype(np.float32)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True,
                        help="a model that never trained on --fold")
    parser.add_argument("--fold", type=int, default=2)
    args = parser.parse_args(argv)
    data = require_shared_data()
    classifier = Classifier(args.model, threads=1)
    clips = [(r["category"], r["filename"], load_audio(esc50_path(r), RATE_HZ)[0])
             for r in esc50_rows(args.fold)]
    noise = background_tail_stream(sorted((data / "background" / "audio").glob("*.*")),
                                   RATE_HZ, HeadConfig().background_fraction)
    results = {"model": str(args.model), "fold": args.fold}
    for name, settings in VARIANTS.items():

        def extractor(settings=settings):
            return (FeatureExtractor(classifier.spec) if settings is None
                    else Denoiser(classifier.spec, **settings))

        rooms = {f"ebr_{ebr:+g}_db": held_out_peaks(classifier, clips, noise, ebr, extractor())
                 for ebr in SHORT_EBRS_DB}
        rooms["quiet_room"] = held_out_peaks(classifier, clips, None, QUIET_EBR_DB,
                                             extractor())
        results[name] = {"settings": settings, **rooms}
    emit("denoise_choice", "own-label peak score of each held-out clip's loudest short "
         "sound in household noise at -6/0/+6 dB EBR and in a quiet room, with the room's "
         "tracked noise floor subtracted from the log-mel (variants) or not (plain)",
         results)


if __name__ == "__main__":
    main()
