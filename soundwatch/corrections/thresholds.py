"""Per-place thresholds for the model's own labels, learnt from corrected events.

For a label with rejected events (false alarms: "not this", or "it was" another sound)
its ``threshold_on`` is raised just above the highest rejected peak score that lies
below every confirmed event's peak: the false alarms would not fire again while every
event the user confirmed still would. The raise is bounded (:data:`MAX_RAISE`, and
never above :data:`MAX_THRESHOLD_ON`); a rejected event that scored higher than that,
or higher than a confirmed one, stays possible and is reported as such.

Adjustments live in ``threshold_adjustments.json`` in the user data folder and are
applied by ``listen``, ``classify``, ``rescore`` and the window as per-class
``threshold_on`` overrides (:func:`with_adjustments`). They only ever raise a
threshold: a higher one set in the config file wins. ``soundwatch events corrections
reset LABEL`` removes one; the corrections themselves stay in the database, and only
corrections made after a reset count towards a new adjustment.

The user's own sounds are not adjusted here: they are retrained from their corrections
instead (:mod:`soundwatch.sounds.retrain`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from soundwatch.detect import ClassSettings, DetectorSettings
from soundwatch.errors import SoundwatchError
from soundwatch.jsonout import write_json_file

log = logging.getLogger(__name__)

FORMAT = "soundwatch-threshold-adjustments"
VERSION = 1
FILE_NAME = "threshold_adjustments.json"
MAX_RAISE = 0.25  # a correction never raises a threshold_on by more than this
MAX_THRESHOLD_ON = 0.95  # nor above this: a label that should never fire is ignored instead
MARGIN = 0.01  # the new threshold lies this far above the rejected peak it suppresses


def default_adjustments_path() -> Path:
    """``threshold_adjustments.json`` in the user data folder."""
    from soundwatch.config import user_data_dir

    return user_data_dir() / FILE_NAME


@dataclass(frozen=True)
class Adjustment:
    """One label's learnt threshold.

    Attributes:
        label: the model's label.
        threshold_on: the raised threshold (a score in [0, 1]).
        base_threshold_on: the threshold in force when it was computed.
        rejected: rejected events counted; ``suppressed`` of them fall below it.
        confirmed: confirmed events counted (all stay above it).
        reason: the rule in words, with its numbers.
        model_version: the model whose scores it was learnt from ("": any); another
            model's scores differ, so it is not applied to them.
    """

    label: str
    threshold_on: float
    base_threshold_on: float
    rejected: int
    suppressed: int
    confirmed: int
    reason: str
    model_version: str = ""


def compute_adjustment(label: str, base_on: float, rejected_peaks: list[float],
                       confirmed_peaks: list[float], model_version: str = ""
                       ) -> Adjustment | None:
    """The raised threshold for ``label``, or None when no raise helps.

    Args:
        label: the label.
        base_on: its ``threshold_on`` now (config file and flags applied).
        rejected_peaks: peak scores of its rejected events.
        confirmed_peaks: peak scores of its confirmed events.
        model_version: the model that scored them.
    """
    ceiling = min(base_on + MAX_RAISE, MAX_THRESHOLD_ON)
    lowest_confirmed = min(confirmed_peaks, default=float("inf"))
    # Candidates: just above each rejected peak, as long as every confirmed peak stays
    # at or above the new threshold and the raise stays bounded.
    best, suppressed = None, 0
    for peak in sorted(rejected_peaks):
        candidate = round(peak + MARGIN, 4)
        if candidate <= base_on or candidate > ceiling or candidate > lowest_confirmed:
            continue
        best, suppressed = candidate, sum(p < candidate for p in rejected_peaks)
    if best is None:
        return None
    kept_out = len(rejected_peaks) - suppressed
    reason = (f"threshold_on {base_on:.2f} -> {best:.2f}: {suppressed} of "
              f"{len(rejected_peaks)} rejected event(s) (peak up to {best - MARGIN:.2f}) "
              "fall below it")
    if confirmed_peaks:
        reason += (f"; all {len(confirmed_peaks)} confirmed event(s) (peak from "
                   f"{lowest_confirmed:.2f}) stay above")
    if kept_out:
        reason += (f"; {kept_out} rejected event(s) scored too high to suppress without "
                   f"missing a confirmed one or raising it past {ceiling:.2f}")
    return Adjustment(label, best, round(base_on, 4), len(rejected_peaks), suppressed,
                      len(confirmed_peaks), reason, model_version)


def read_adjustments(path: str | Path | None = None) -> tuple[dict[str, Adjustment],
                                                               dict[str, int]]:
    """(adjustments by label, resets: label -> the last correction id a reset cleared).

    Raises:
        SoundwatchError: the file is unreadable or not an adjustments file (named, with
            the fix; it is left as it is).
    """
    path = Path(path) if path is not None else default_adjustments_path()
    if not path.exists():
        return {}, {}
    fix = "Move it aside or delete it (it only holds thresholds learnt from corrections)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f'no "format": "{FORMAT}"')
        if not isinstance(data.get("version"), int) or data["version"] > VERSION:
            raise ValueError(f"version {data.get('version')!r}; this soundwatch reads "
                             f"{VERSION}")
        adjustments = {label: Adjustment(**entry)
                       for label, entry in (data.get("labels") or {}).items()}
        resets = {str(k): int(v) for k, v in (data.get("resets") or {}).items()}
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise SoundwatchError(f"cannot read the threshold adjustments {path}: {exc}. "
                              f"{fix}.") from exc
    return adjustments, resets


def write_adjustments(adjustments: dict[str, Adjustment], resets: dict[str, int],
                      path: str | Path | None = None) -> Path:
    """Replace the adjustments file atomically.

    Raises:
        SoundwatchError: it cannot be written.
    """
    path = Path(path) if path is not None else default_adjustments_path()
    write_json_file(path, {"format": FORMAT, "version": VERSION,
                           "labels": {k: asdict(v) for k, v in sorted(adjustments.items())},
                           "resets": dict(sorted(resets.items()))},
                    "the threshold adjustments")
    return path


def with_adjustments(detection: DetectorSettings, labels, path: str | Path | None = None,
                     model_version: str | None = None) -> DetectorSettings:
    """``detection`` with the learnt thresholds of ``labels`` applied as per-class
    ``threshold_on`` overrides (only where they raise the threshold in force). With
    ``model_version``, thresholds learnt on another model's scores are left out (with a
    warning). An unreadable file is a warning: the settings are returned unchanged."""
    try:
        adjustments, _ = read_adjustments(path)
    except SoundwatchError as exc:
        log.warning("thresholds learnt from corrections are not applied: %s", exc)
        return detection
    classes = dict(detection.classes)
    for label, adjustment in adjustments.items():
        if label not in labels:
            continue
        if model_version is not None and adjustment.model_version not in ("", model_version):
            log.warning("the threshold of %r learnt from corrections is not applied: it was "
                        "learnt on model version %s, this model is %s (correct new events "
                        "to learn it again)", label, adjustment.model_version, model_version)
            continue
        if adjustment.threshold_on > detection.class_values(label)[0]:
            classes[label] = replace(classes.get(label, ClassSettings()),
                                     threshold_on=adjustment.threshold_on)
    if classes == detection.classes:
        return detection
    return replace(detection, classes=classes)
