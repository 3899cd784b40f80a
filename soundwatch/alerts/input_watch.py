"""Tell people when the listener cannot hear: its input has given nothing to hear (a
microphone that stopped delivering audio, a muted input of only exact zeros) for
``[alerts] input_lost_after_s``, and again when it hears again.

For someone who relies on the alerts, a deaf listener is news: no alert would come for a
smoke alarm. The notices go through the outbox like event alerts (kept until delivered,
retried, held in a channel's quiet hours unless ``urgent`` passes them), to the channels
for people: Apprise, webhook, desktop. MQTT says it its own way: the node is ``offline``
meanwhile (:mod:`soundwatch.alerts.mqtt`).

Payloads (JSON, as webhooks receive them)::

    {"type": "input_lost", "node": "kitchen", "id": "<session>-input-1",
     "session": "<session>", "start": "2024-05-01T11:59:00.000Z",
     "noticed": "2024-05-01T12:00:00.000Z", "problem": "input device 'USB mic' stopped delivering audio; retrying every 1 s",
     "severity": "warning"}
    {"type": "input_back", ... the same id and start ..., "end": "...Z", "lost_s": 95.2}
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from soundwatch.alerts.interrupted import ClosingRow
from soundwatch.times import iso_utc

log = logging.getLogger(__name__)

INPUT_LOST, INPUT_BACK = "input_lost", "input_back"
INPUT_SEVERITY = "warning"  # as an alert rule's severity: quiet hours may hold it
POLL_S = 1.0


class InputWatch:
    """Polls ``input_problem`` and queues the notices (see the module docstring).

    Args:
        input_problem: why the input gives nothing to hear now, or None
            (:meth:`soundwatch.engine.Engine.input_problem`).
        queue: stores outbox rows and wakes delivery (raises on a database error).
        channels: the outbox channels the notices go to.
        node: this listener's node name.
        session: this run's alert session key (:attr:`AlertRouter.session`).
        after_s: how long a problem lasts before it is said (a glitch passes unsaid).
        clock: monotonic seconds (tests pass their own).
    """

    def __init__(self, input_problem: Callable[[], str | None],
                 queue: Callable[[list[ClosingRow]], None], channels: list[str], node: str,
                 session: Callable[[], str], after_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.input_problem = input_problem
        self.queue = queue
        self.channels = list(channels)
        self.node = node
        self.session = session
        self.after_s = after_s
        self.clock = clock
        self.said = 0  # notices of a lost input queued in this run
        self._since: float | None = None  # when the problem began (clock seconds)
        self._lost: dict | None = None  # the payload of the notice said, until it is back
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="input-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def check(self) -> None:
        """One look at the input: queue a notice when a problem has lasted ``after_s``,
        and when the input hears again after one."""
        problem = self.input_problem()
        now = self.clock()
        if problem is None:
            if self._lost is not None:
                lost_s = now - self._since
                end = datetime.now(timezone.utc)
                self._send(INPUT_BACK, {**self._lost, "type": INPUT_BACK, "end": iso_utc(end),
                                        "lost_s": round(lost_s, 1)})
            self._since, self._lost = None, None
            return
        if self._since is None:
            self._since = now
        if self._lost is None and now - self._since >= self.after_s:
            noticed = datetime.now(timezone.utc)
            started = noticed - timedelta(seconds=now - self._since)
            self.said += 1
            self._lost = {"type": INPUT_LOST, "node": self.node,
                          "id": f"{self.session()}-input-{self.said}",
                          "session": self.session(), "start": iso_utc(started),
                          "noticed": iso_utc(noticed), "problem": problem,
                          "severity": INPUT_SEVERITY}
            log.warning("alerts: telling %s that nothing is heard: %s",
                        ", ".join(self.channels), problem)
            self._send(INPUT_LOST, self._lost)

    def _send(self, kind: str, payload: dict) -> None:
        key = f"{self.node}/{payload['id']}"  # one key: the back waits while the lost does
        try:
            self.queue([ClosingRow(channel, kind, key, payload) for channel in self.channels])
        except Exception as exc:  # a full disk must not stop the watch
            log.error("cannot queue the %s notice: %s", kind, exc)

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self.check()
            except Exception:
                log.exception("input watch")
