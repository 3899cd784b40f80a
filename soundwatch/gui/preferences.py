"""What the window remembers between runs: the input device, per-class thresholds, the
watch list and the alert rules, kept in the user config file through :mod:`soundwatch.config`.
A save writes only what the window changed into the file as it is then.

A config file that cannot be read is never overwritten: the window runs on the defaults,
says so, and leaves the file for the user to fix.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from soundwatch.config import Settings, load_settings, save_settings, user_config_path
from soundwatch.detect import ClassSettings
from soundwatch.errors import SoundwatchError
from soundwatch.gui.class_settings import ClassTuning

log = logging.getLogger(__name__)


class Preferences:
    """The user's settings, loaded once, saved on every change from the window.

    Args:
        path: the config file (default: :func:`soundwatch.config.user_config_path`).
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else user_config_path()
        self.load_error: str | None = None
        try:
            self.settings = load_settings(self.path) if self.path.exists() else Settings()
        except SoundwatchError as exc:
            self.load_error = str(exc)
            self.settings = Settings()
        self._saved = self.settings  # what the file held for us: saves write the changes
        self.saves = 0

    @property
    def can_save(self) -> bool:
        return self.load_error is None

    def check_with(self, classifier) -> None:
        """Whether the settings work with ``classifier`` (a per-class value can clash with
        the model's own class settings, e.g. a ``threshold_off`` above the model's
        ``threshold_on``): if not, the window runs on the defaults and says why, as for a
        file it cannot read, and nothing is saved over the file."""
        from soundwatch.class_defaults import settings_for_classifier

        if self.load_error is not None:
            return
        restricted = restrict_to_labels(self.settings, list(classifier.labels))[0]
        try:
            settings_for_classifier(restricted.detection, classifier, self.path)
        except SoundwatchError as exc:
            self.load_error = str(exc)
            self.settings = self._saved = Settings()

    # -- reading -------------------------------------------------------------------------

    @property
    def device(self) -> str | None:
        return self.settings.audio.device

    def tuning(self) -> ClassTuning:
        detection = self.settings.detection
        thresholds = {label: overrides.threshold_on
                      for label, overrides in detection.classes.items()
                      if overrides.threshold_on is not None}
        return ClassTuning(detection.threshold_on, thresholds, list(detection.watch))

    # -- changing ------------------------------------------------------------------------

    def set_device(self, device: str | None) -> None:
        self.settings = replace(self.settings, audio=replace(self.settings.audio, device=device))
        self.save()

    def set_tuning(self, tuning: ClassTuning, labels: list[str] | None = None) -> None:
        """Per-class on-thresholds and the watch list of ``labels`` (the model's; None: all
        labels). Entries for other labels (another model's) and the other per-class
        overrides stay as they were."""
        detection = self.settings.detection
        covered = set(labels) if labels is not None else (
            set(detection.classes) | set(tuning.thresholds) | set(detection.watch))
        classes: dict[str, ClassSettings] = {}
        for label in set(detection.classes) | set(tuning.thresholds):
            overrides = detection.classes.get(label, ClassSettings())
            if label in covered:
                overrides = replace(overrides, threshold_on=tuning.thresholds.get(label))
            if overrides != ClassSettings():
                classes[label] = overrides
        watch = [label for label in detection.watch if label not in covered]
        watch += [label for label in tuning.watched if label not in watch]
        detection = replace(detection, watch=tuple(watch), classes=classes).validate()
        self.settings = replace(self.settings, detection=detection)
        self.save()

    def set_alert_rules(self, rules: dict) -> None:
        """Replace ``[alerts.rules]`` with ``rules`` ({name: AlertRule}) and save.

        Raises:
            SoundwatchError: a rule out of range (the config loader's messages).
        """
        alerts = replace(self.settings.alerts, rules=dict(rules))
        problems = alerts.problems()
        if problems:
            raise SoundwatchError("alert rules not saved: " + "; ".join(problems))
        self.settings = replace(self.settings, alerts=alerts)
        self.save()

    def save(self) -> None:
        if not self.can_save:
            log.warning("not saving settings: %s could not be read", self.path)
            return
        # Only what the window changed: the file's other keys (comments, defaults never
        # written, edits made in an editor while the window ran) stay as they are.
        save_settings(self.settings, self.path, changed_from=self._saved)
        self._saved = self.settings
        self.saves += 1


def restrict_to_labels(settings: Settings, labels: list[str] | tuple[str, ...]
                       ) -> tuple[Settings, list[str]]:
    """``settings`` without the watch/ignore entries and per-class overrides that name
    labels the model does not have (the detector refuses those); returns the settings and
    the labels dropped, so the window can say so. A config written for another model
    thus still opens the window."""
    known = set(labels)
    detection = settings.detection
    named = set(detection.watch) | set(detection.ignore) | set(detection.classes)
    unknown = sorted(named - known)
    if not unknown:
        return settings, []
    detection = replace(
        detection,
        watch=tuple(label for label in detection.watch if label in known),
        ignore=tuple(label for label in detection.ignore if label in known),
        classes={label: c for label, c in detection.classes.items() if label in known},
    )
    return replace(settings, detection=detection), unknown
