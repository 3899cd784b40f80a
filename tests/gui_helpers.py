"""Helpers for the GUI tests: a window built exactly as `soundwatch gui` builds it, with
its config, database and model in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import soundfile
from model_factory import make_test_model, scene

from soundwatch.cli import build_parser

RATE = 16000


def write_scene(path: Path, parts: list[tuple[str, float]]) -> tuple[Path, list[tuple]]:
    """A synthetic scene (see model_factory.scene) as a WAV file; returns (path, truth)."""
    signal, truth = scene(parts, RATE)
    soundfile.write(str(path), signal, RATE, subtype="FLOAT")
    return path, truth


class GuiHarness:
    """Builds windows over one folder: model, config dir and data dir stay between
    windows, like a user's between two runs of the app."""

    def __init__(self, qtbot, folder: Path, monkeypatch):
        self.qtbot = qtbot
        self.folder = folder
        self.config_dir = folder / "config"
        self.data_dir = folder / "data"
        monkeypatch.setenv("SOUNDWATCH_CONFIG_DIR", str(self.config_dir))
        monkeypatch.setenv("SOUNDWATCH_DATA_DIR", str(self.data_dir))
        self.model_path = make_test_model(folder / "model" / "test.onnx", hop_frames=10)
        monkeypatch.setenv("SOUNDWATCH_MODEL", str(self.model_path))
        self.windows = []

    def open(self, *options: str, start: bool = True):
        """A shown window for ``soundwatch gui OPTIONS``; closed at the end of the test."""
        from soundwatch.gui.app import build_window

        args = build_parser().parse_args(["gui", *options])
        _, window = build_window(args, start=start)
        self.qtbot.addWidget(window)
        self.windows.append(window)
        return window

    def close_all(self) -> None:
        for window in self.windows:
            window.close()
            window.shutdown()

    def write_config(self, text: str) -> None:
        """Write the user config file (TOML ``text``) that the next window reads."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(text)

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def database(self) -> Path:
        return self.data_dir / "events.sqlite"
