"""Make soundwatch/sounds/generic_negatives.npz: the shipped model's embedding of speech,
music and noise windows, the generic negatives `soundwatch learn` fits against.

Sources (../shared/data, read only here; no audio goes into the package, only the
embedding of randomly chosen windows):
- speech/: LibriSpeech (CC BY 4.0, V. Panayotov et al., ICASSP 2015);
- music_speech/: GTZAN music/speech collection (G. Tzanetakis; no licence stated, widely
  used for research);
- background/: Speech Commands background noise (P. Warden 2018, CC BY 4.0).

Only the even-numbered files (in name order) of speech/ and music_speech/ are used: the
odd-numbered ones are held out for benchmarks/bench_learn_sound.py's false-event streams.

Run: .venv/bin/python -m benchmarks.make_generic_negatives   (prints a JSON summary)
Re-run it whenever the shipped model changes (the file records the model version).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from benchmarks.machine import require_shared_data
from soundwatch.model import Classifier, default_model_path
from soundwatch.sounds.learn import embed_recording
from soundwatch.sounds.negatives import FILE_NAME

SEED = 13
# Windows per source: about 1.8 MB at 1024 float16 numbers a window.
PER_SOURCE = {"speech": 220, "music_speech/speech": 120, "music_speech/music": 300,
              "background": 240}
MAX_FILES = 40
OUT = Path(__file__).resolve().parent.parent / "soundwatch" / "sounds" / FILE_NAME


def main() -> None:
    data = require_shared_data()
    classifier = Classifier(default_model_path(), threads=1)
    rng = np.random.default_rng(SEED)
    parts, counts = [], {}
    for source, n_windows in PER_SOURCE.items():
        paths = sorted(p for p in (data / source).rglob("*")
                       if p.suffix in (".ogg", ".flac", ".wav"))
        paths = paths if source == "background" else paths[0::2]
        paths = [paths[i] for i in sorted(rng.choice(len(paths), min(MAX_FILES, len(paths)),
                                                     replace=False))]
        embedding = np.concatenate([embed_recording(p, classifier)[0] for p in paths])
        chosen = rng.choice(len(embedding), min(n_windows, len(embedding)), replace=False)
        parts.append(embedding[np.sort(chosen)])
        counts[source] = {"files": len(paths), "windows": len(chosen)}
    embedding = np.concatenate(parts).astype(np.float16)
    np.savez_compressed(OUT, embedding=embedding,
                        model_version=np.array(classifier.embedding_version))
    print(json.dumps({"file": str(OUT), "bytes": OUT.stat().st_size,
                      "embedding_version": classifier.embedding_version,
                      "shape": list(embedding.shape), "sources": counts}))


if __name__ == "__main__":
    main()
