"""What this place normally sounds like: a bounded memory of window embeddings.

Why k nearest neighbours: the place's normal sounds form several separate clusters in the
embedding (the fridge, speech, the street, silence at night) of very different sizes and
spreads. A kNN distance needs no assumption on their number or shape (a Gaussian or a
single centroid would call everything between two normal sounds normal), adapts by simply
adding windows, and is robust to a few odd windows already in the profile (k > 1: a sound
heard once is still unusual the second time). Its cost is one matrix product with the
profile per window (8192 x 1024 multiply-adds: well under a millisecond).

Distances are cosine distances (1 - cosine similarity) between L2-normalised embeddings.
A window's *ratio* is its mean distance to its k nearest profile windows divided by the
profile's *typical distance*: the median of that same distance for profile windows
(each against the others), which makes the threshold mean the same in a quiet flat and
a busy kitchen. The typical distance is floored at ``MIN_TYPICAL_DISTANCE`` so that a
profile of perfectly steady noise does not call every tiny change unusual.

File: ``unusual_profile.npz`` in the user data folder (``embedding`` float16 (n, dim),
``meta`` a JSON string: format, version, model_version, profile_id, windows_added,
created_utc). Written to a temporary file that replaces the old one.
"""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from soundwatch.command import command_name
from soundwatch.errors import SoundwatchError
from soundwatch.jsonout import to_json

FORMAT = "soundwatch-unusual-profile"
VERSION = 1
FILE_NAME = "unusual_profile.npz"
MIN_TYPICAL_DISTANCE = 0.02
# The typical distance is measured on at most this many profile windows (random ones).
TYPICAL_SAMPLE = 512
# ... and measured again once this share of the profile has changed.
TYPICAL_REFRESH_SHARE = 0.05


def default_profile_path() -> Path:
    """``unusual_profile.npz`` in the user data folder (``$SOUNDWATCH_DATA_DIR`` overrides)."""
    from soundwatch.config import user_data_dir

    return user_data_dir() / FILE_NAME


def _normalise(embedding: np.ndarray) -> np.ndarray:
    embedding = np.asarray(embedding, dtype=np.float32)
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    return embedding / np.maximum(norms, 1e-12)


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Profile:
    """A bounded set of normal windows' embeddings.

    Args:
        dim: the embedding's size.
        model_version: the ``embedding_version`` of the model whose embedding it holds.
        max_windows: capacity; once full, an added window replaces a random one.
        neighbours: k of the kNN distance.
        seed: of the random replacement (tests pass one; None: fresh entropy).
    """

    def __init__(self, dim: int, model_version: str, max_windows: int, neighbours: int,
                 seed: int | None = None):
        self.dim = int(dim)
        self.model_version = str(model_version)
        self.max_windows = int(max_windows)
        self.neighbours = int(neighbours)
        self._buffer = np.zeros((0, self.dim), np.float32)  # grows by doubling
        self._size = 0
        self.windows_added = 0  # ever, including those replaced since
        self.profile_id = uuid.uuid4().hex
        self.created_utc = _utc_now()
        self._rng = np.random.default_rng(seed)
        self._typical: float | None = None
        self._changed_since_typical = 0
        self._member_cache = np.full(0, np.nan, np.float32)

    @property
    def size(self) -> int:
        """Windows held now."""
        return self._size

    @property
    def embedding(self) -> np.ndarray:
        """(size, dim) float32 L2-normalised embedding of the windows held (a view)."""
        return self._buffer[:self._size]

    def _set(self, rows: np.ndarray) -> None:
        self._buffer = np.array(rows[-self.max_windows:], dtype=np.float32)
        self._size = len(self._buffer)

    def add(self, embedding: np.ndarray) -> None:
        """Add (n, dim) raw embedding rows (normalised here); beyond capacity each replaces
        a random held window."""
        rows = _normalise(embedding)
        for row in rows:
            if self._size < self.max_windows:
                if self._size == len(self._buffer):
                    grown = np.zeros((min(max(2 * self._size, 64), self.max_windows),
                                      self.dim), np.float32)
                    grown[:self._size] = self.embedding
                    self._buffer = grown
                slot = self._size
                self._size += 1
            else:
                slot = int(self._rng.integers(self.max_windows))
            self._buffer[slot] = row
            if slot < len(self._member_cache):
                self._member_cache[slot] = np.nan
        self.windows_added += len(rows)
        self._changed_since_typical += len(rows)

    def knn_distance(self, embedding: np.ndarray) -> np.ndarray:
        """(n, dim) raw embedding -> (n,) float32 mean cosine distance to the k nearest
        profile windows (k = min(neighbours, size)); +inf when the profile is empty."""
        return self._nearest(_normalise(embedding))[0]

    def _nearest(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n,) mean distance to the k nearest profile windows and (n, k) their indices."""
        k = min(self.neighbours, self.size)
        if k < 1:
            return np.full(len(rows), np.inf, np.float32), np.zeros((len(rows), 0), int)
        distance = 1.0 - rows @ self.embedding.T
        index = np.argpartition(distance, k - 1, axis=1)[:, :k]
        nearest = np.take_along_axis(distance, index, axis=1)
        return np.maximum(nearest, 0.0).mean(axis=1).astype(np.float32), index

    def _member_knn(self, members: np.ndarray) -> np.ndarray:
        """(n,) kNN distance of the profile windows ``members`` (indices) to the others;
        an exact duplicate of a window still counts as a neighbour (distance 0)."""
        k = min(self.neighbours, self.size - 1)
        if k < 1:
            return np.full(len(members), np.inf, np.float32)
        distance = 1.0 - self.embedding[members] @ self.embedding.T
        distance[np.arange(len(members)), members] = np.inf  # not its own neighbour
        nearest = np.partition(distance, k - 1, axis=1)[:, :k]
        return np.maximum(nearest, 0.0).mean(axis=1).astype(np.float32)

    def typical_distance(self) -> float:
        """The median kNN distance of profile windows to the other profile windows
        (at least MIN_TYPICAL_DISTANCE); measured again after the profile has changed by
        TYPICAL_REFRESH_SHARE."""
        stale = self._changed_since_typical > TYPICAL_REFRESH_SHARE * max(self.size, 1)
        if self._typical is None or stale:
            if self.size < 2:
                return MIN_TYPICAL_DISTANCE
            pick = self._rng.choice(self.size, min(self.size, TYPICAL_SAMPLE), replace=False)
            distance = self._member_knn(pick)
            finite = distance[np.isfinite(distance)]
            median = float(np.median(finite)) if len(finite) else 0.0
            self._typical = max(median, MIN_TYPICAL_DISTANCE)
            self._changed_since_typical = 0
            self._member_cache = np.full(self.max_windows, np.nan, np.float32)
        return self._typical

    def ratio(self, embedding: np.ndarray) -> np.ndarray:
        """(n, dim) raw embedding -> (n,) float32 kNN distance over the larger of the
        profile's typical distance and the local one: the mean kNN distance of the
        window's own nearest profile windows (each against the rest of the profile)."""
        distance, index = self._nearest(_normalise(embedding))
        if index.shape[1] == 0:
            return np.full(len(distance), np.inf, np.float32)
        local = self._member_distance(index).mean(axis=1)
        return (distance / np.maximum(local, self.typical_distance())).astype(np.float32)

    def _member_distance(self, index: np.ndarray) -> np.ndarray:
        """The kNN distance of the profile windows ``index`` (any shape) to the others,
        cached until the profile has changed by TYPICAL_REFRESH_SHARE."""
        self.typical_distance()  # refreshes (and so clears) the cache when it is stale
        if len(self._member_cache) < self.max_windows:
            self._member_cache = np.full(self.max_windows, np.nan, np.float32)
        wanted = np.unique(index)
        missing = wanted[np.isnan(self._member_cache[wanted])]
        if len(missing):
            self._member_cache[missing] = self._member_knn(missing)
        return self._member_cache[index]

    def reset(self) -> None:
        """Forget every window (a new profile id)."""
        self._set(np.zeros((0, self.dim), np.float32))
        self.windows_added = 0
        self.profile_id = uuid.uuid4().hex
        self.created_utc = _utc_now()
        self._typical = None
        self._changed_since_typical = 0

    # -- file ----------------------------------------------------------------------------

    def meta(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "model_version": self.model_version,
                "embedding_dim": self.dim, "profile_id": self.profile_id,
                "windows_added": self.windows_added, "created_utc": self.created_utc,
                "saved_utc": _utc_now()}

    def save(self, path: str | Path) -> Path:
        """Write the profile to ``path`` atomically (float16: 2 bytes per value).

        Raises:
            SoundwatchError: the folder or file cannot be written.
        """
        path = Path(path)
        temporary = path.with_name(path.name + ".tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                np.savez(handle, embedding=self.embedding.astype(np.float16),
                         meta=np.array(to_json(self.meta())))
            os.replace(temporary, path)
        except OSError as exc:
            raise SoundwatchError(f"cannot write the unusual-sound profile {path}: {exc}. "
                                  "Check the folder's permissions and free space.") from exc
        return path

    @classmethod
    def load(cls, path: str | Path, max_windows: int, neighbours: int,
             seed: int | None = None) -> Profile:
        """Read a profile written by :meth:`save`; the newest ``max_windows`` are kept
        when it holds more.

        Raises:
            SoundwatchError: unreadable, not a profile, a newer version, or malformed
                (names the file and the fix).
        """
        path = Path(path)
        fix = (f"Reset it with `{command_name()} unusual reset` (a new profile is then learnt "
               "from what the microphone hears)")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                embedding = np.asarray(data["embedding"], dtype=np.float32)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile,
                json.JSONDecodeError) as exc:
            # numpy's own text for a file that is no .npz suggests loading it unsafely
            reason = ("it is damaged or another kind of file" if "pickle" in str(exc)
                      else str(exc).rstrip("."))
            raise SoundwatchError(f"cannot read the unusual-sound profile {path}: "
                                  f"{reason}. {fix}.") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise SoundwatchError(f"{path} is not an unusual-sound profile. {fix}.")
        version = meta.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise SoundwatchError(f"{path} has profile version {version!r}; this soundwatch "
                                  f"reads version {VERSION} or older. Upgrade soundwatch, "
                                  "or reset the profile.")
        dim = meta.get("embedding_dim")
        if (embedding.ndim != 2 or embedding.shape[1] != dim
                or not np.all(np.isfinite(embedding))):
            raise SoundwatchError(f"{path}: the profile's windows are malformed. {fix}.")
        profile = cls(dim, str(meta.get("model_version")), max_windows, neighbours, seed)
        profile._set(_normalise(embedding))
        profile.windows_added = int(meta.get("windows_added", len(embedding)))
        profile.profile_id = str(meta.get("profile_id") or profile.profile_id)
        profile.created_utc = str(meta.get("created_utc") or profile.created_utc)
        return profile


def stored_profile_id(path: str | Path) -> str | None:
    """The profile id in the file at ``path``, or None when it is missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return str(json.loads(str(data["meta"])).get("profile_id"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile,
            json.JSONDecodeError, AttributeError):
        return None
