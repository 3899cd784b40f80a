"""The shipped generic negatives: embeddings of speech, music and noise windows.

``generic_negatives.npz`` (made by ``benchmarks/make_generic_negatives.py`` from the
shipped model) holds ``embedding`` (n, dim) float16 and, under ``model_version``, the
model's ``embedding_version``. It only serves models with that embedding.
"""

from __future__ import annotations

from importlib.resources import files

import numpy as np

FILE_NAME = "generic_negatives.npz"


def generic_negatives(model_version: str, dim: int) -> np.ndarray | None:
    """(n, dim) float32 generic negative embeddings for this model, or None when the
    shipped set was computed with another model (or is missing)."""
    resource = files("soundwatch.sounds") / FILE_NAME
    if not resource.is_file():
        return None
    with resource.open("rb") as handle, np.load(handle) as data:
        embedding = np.asarray(data["embedding"], dtype=np.float32)
        version = str(data["model_version"])
    if version != model_version or embedding.ndim != 2 or embedding.shape[1] != dim:
        return None
    return embedding
