"""Failure accounting for one output of the monitor: the store, clips, alerts, the GUI.

An output's error never stops listening. The monitor calls each output through its
:class:`SinkHealth`, which catches the exception, counts it, keeps the latest message
for the status line, the summary and the window, and logs it once per kind of failure
(and again after the output worked in between), so a full disk does not flood the log.

Threads: a SinkHealth is written by the engine worker and read by anyone; its fields are
plain values (a reader may see them one call old).
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class SinkHealth:
    """The failure count and latest error of one output named ``name`` (e.g. "clips")."""

    def __init__(self, name: str):
        self.name = name
        self.failures = 0
        self.last_error: str | None = None
        self._logged_kinds: set[str] = set()  # failures logged since the last success

    @property
    def failing(self) -> bool:
        """The latest call failed (and no call has worked since)."""
        return bool(self._logged_kinds)

    def call(self, what: str, function, *args, default=None, proves_working: bool = True):
        """``function(*args)``; on any exception: count and log it, return ``default``.
        ``proves_working`` False: a call that returns does not show the output works
        again (it only queued the work, whose own result says)."""
        try:
            result = function(*args)
        except Exception as exc:
            self.failed(what, exc)
            return default
        if proves_working:
            self.worked()
        return result

    def failed(self, what: str, error: BaseException | str, quiet: bool = False) -> None:
        """Record a failure of ``what`` (e.g. "write clip"), logging it once per kind
        (``quiet``: the output logged it itself)."""
        self.failures += 1
        self.last_error = f"{what}: {error}"
        kind = f"{what}/{type(error).__name__}"
        if kind not in self._logged_kinds and not quiet:
            log.error("%s: %s failed: %s (listening goes on)", self.name, what, error)
        self._logged_kinds.add(kind)

    def worked(self) -> None:
        """Record a success; the next failure is logged again."""
        if self._logged_kinds:
            log.warning("%s works again (%d failure(s) so far)", self.name, self.failures)
            self._logged_kinds.clear()

    def summary(self) -> str:
        """One line for the status line or summary, e.g. ``clips: 3 failure(s), last: ...``."""
        if not self.failures:
            return f"{self.name}: ok"
        return f"{self.name}: {self.failures} failure(s), last: {self.last_error}"
