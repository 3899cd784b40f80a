"""The shipped generic negatives: embeddings of speech, music and noise windows.

``generic_negatives.npz`` (made by ``benchmarks/make_generic_negatives.py`` from the
shipped model) holds ``embedding`` (n, dim) float16, ``calibrate`` (n,) bool (False for
the synthesised tonal sounds: fitted against, but a threshold set as a rate on them would
say nothing about ordinary audio; a file without it calibrates on all) and, under
``model_version``, the model's ``embedding_version``. It only serves models with that
embedding.
"""

from __future__ import annotations

from importlib.resources import files
from typing import NamedTuple

import numpy as np

FILE_NAME = "generic_negatives.npz"


class GenericNegatives(NamedTuple):
    embedding: np.ndarray  # (n, dim) float32
    calibrate: np.ndarray  # (n,) bool: may be held out to calibrate a threshold


def generic_negatives(model_version: str, dim: int) -> GenericNegatives | None:
    """The generic negatives for this model, or None when the shipped set was computed
    with another model (or is missing)."""
    resource = files("soundwatch.sounds") / FILE_NAME
    if not resource.is_file():
        return None
    with resource.open("rb") as handle, np.load(handle) as data:
        embedding = np.asarray(data["embedding"], dtype=np.float32)
        version = str(data["model_version"])
        calibrate = (np.asarray(data["calibrate"], bool) if "calibrate" in data.files
                     else np.ones(len(embedding), bool))
    if (version != model_version or embedding.ndim != 2 or embedding.shape[1] != dim
            or calibrate.shape != (len(embedding),)):
        return None
    return GenericNegatives(embedding, calibrate)
