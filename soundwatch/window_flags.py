"""The window's own flags (`soundwatch gui`): history shown and redraw rate.

Cheap to import (no numpy): ``soundwatch --help`` builds every parser, and the parser's
defaults are these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WindowFlags:
    """The spectrogram and the confidence timeline under it show the same seconds by
    default, so that a sound's curve sits right under the sound."""

    spectrogram_s: float = 20.0
    timeline_s: float = 20.0
    fps: float = 30.0
    quit_after_s: float | None = None

    def problems(self) -> list[str]:
        from soundwatch.config import MAX_SECONDS, finite_problems

        found = finite_problems(self)
        if found:
            return found
        for name, low, high in (("spectrogram_s", 1.0, 600.0), ("timeline_s", 1.0, 3600.0),
                                ("fps", 1.0, 120.0)):
            if not low <= getattr(self, name) <= high:
                found.append(f"{name} must be in [{low:g}, {high:g}], got {getattr(self, name)}")
        if self.quit_after_s is not None and not 0 < self.quit_after_s <= MAX_SECONDS:
            found.append(f"quit_after_s must be in (0, {MAX_SECONDS:g}], got {self.quit_after_s}")
        return found
