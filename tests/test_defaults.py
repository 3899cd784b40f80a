"""One default per setting: the settings dataclasses are the source; the config
example in docs/headless.md and the GUI's initial thresholds must say the same."""

from __future__ import annotations

import os
import re

from conftest import REPO

from soundwatch.config import Settings
from soundwatch.detect import DetectorSettings

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def test_the_documented_config_example_shows_the_real_defaults():
    guide = (REPO / "docs" / "headless.md").read_text()  # "Settings file"
    example = tomllib.loads(re.search(r"```toml\n(.*?)```", guide, re.S).group(1))
    defaults = Settings()
    compared = 0
    for section in ("model", "audio", "detection", "clips", "privacy", "store"):
        for key, shown in example[section].items():
            if isinstance(shown, dict):  # per-class overrides: examples, not defaults
                continue
            default = getattr(getattr(defaults, section), key)
            if isinstance(default, tuple):
                default = list(default)
            assert (None if shown == "" else shown) == default, f"[{section}] {key}"
            compared += 1
    assert compared >= 20


def test_the_gui_starts_from_the_detector_default(qtbot):
    from soundwatch.gui.class_settings import ClassTuning
    from soundwatch.gui.now_panel import ConfidenceBar
    from soundwatch.gui.timeline import ConfidenceTimeline

    default = DetectorSettings().threshold_on
    assert ClassTuning().default_on == default
    bar = ConfidenceBar()
    timeline = ConfidenceTimeline()
    qtbot.addWidget(bar)
    qtbot.addWidget(timeline)
    assert bar.threshold == default and timeline.default_threshold == default
