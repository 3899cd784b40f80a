"""The ``[unusual]`` config section; the one source of its defaults.

Example (every key optional)::

    [unusual]
    enabled = true
    distance_ratio = 3.5    # higher: fewer, stranger unusual sounds
    add_every_s = 15.0      # one window in this many seconds joins the profile
    max_windows = 8192      # the profile's size (16 MB on disk for a 1024-d embedding)
    warmup_windows = 40     # no unusual sound before the profile holds this many windows
"""

from __future__ import annotations

from dataclasses import dataclass

UNUSUAL_LABEL = "unusual"


@dataclass(frozen=True)
class UnusualSettings:
    """How the place's profile is learnt and when a window is unusual.

    Attributes:
        enabled: score the ``unusual`` label at all.
        distance_ratio: a window whose mean cosine distance to its ``neighbours`` nearest
            profile windows is this many times the profile's typical such distance
            scores the detector's ``threshold_on`` (see :mod:`soundwatch.unusual.apply`).
            Chosen on benchmark data (benchmarks/bench_unusual.py).
        neighbours: k of the k-nearest-neighbour distance.
        add_every_s: on average one window in this many seconds of listening is added
            to the profile (chosen at random, so periodic sounds are not aliased).
        max_windows: the profile's capacity; once full, a new window replaces a random
            one, so half of the profile is younger than ``0.69 * max_windows *
            add_every_s`` (about 24 h with the defaults) and some of it is days old.
        warmup_windows: the profile must hold this many windows before a window can be
            unusual (``warmup_windows * add_every_s`` of listening: 10 minutes).
        save_every_s: seconds of listening between saves of the profile (and at stop).
    """

    enabled: bool = True
    distance_ratio: float = 3.5
    neighbours: int = 5
    add_every_s: float = 15.0
    max_windows: int = 8192
    warmup_windows: int = 40
    save_every_s: float = 300.0

    def problems(self) -> list[str]:
        """Out-of-range values, one message each (empty when valid)."""
        found = []
        if not 1.0 < self.distance_ratio <= 1000.0:
            found.append(f"distance_ratio must be in (1, 1000], got {self.distance_ratio}")
        if not 1 <= self.neighbours <= 100:
            found.append(f"neighbours must be in [1, 100], got {self.neighbours}")
        if not 0.0 < self.add_every_s <= 86400.0:
            found.append(f"add_every_s must be in (0, 86400], got {self.add_every_s}")
        if not 2 <= self.max_windows <= 100_000:
            found.append(f"max_windows must be in [2, 100000], got {self.max_windows}")
        if not self.neighbours < self.warmup_windows <= self.max_windows:
            found.append(f"warmup_windows must be above neighbours ({self.neighbours}) and "
                         f"at most max_windows ({self.max_windows}), got "
                         f"{self.warmup_windows}")
        if not 0.0 < self.save_every_s <= 86400.0:
            found.append(f"save_every_s must be in (0, 86400], got {self.save_every_s}")
        return found
