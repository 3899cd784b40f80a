"""Delivers the outbox: per channel, oldest row first, retried with exponential backoff.

Each channel has its own delivery thread, so a broker that is down never holds back a
webhook, and the engine worker only ever writes rows (it never waits for a network).
A row is marked delivered once its channel acknowledged it (MQTT PUBACK, HTTP 2xx); a
row whose send fails is retried, and no later row of that channel goes before it, so
every channel sees its alerts in order. A crash between a send and its mark sends that
row again after a restart: delivery is at least once, and receivers deduplicate on the
payload's (``node``, ``id``).
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

BATCH_ROWS = 200  # rows read from the outbox per query


class ChannelError(Exception):
    """A delivery failed; the message says why (and is kept as the row's last error)."""


class Channel:
    """Something that delivers outbox rows. ``send`` blocks until the receiver
    acknowledged the row, or raises :class:`ChannelError`."""

    name = "channel"
    # Set by a channel that keeps a connection when it is back (e.g. MQTT reconnected):
    # the delivery thread then retries at once instead of finishing its backoff wait.
    reconnected: threading.Event | None = None

    def start(self) -> None:
        """Connect (if the channel keeps a connection); must not block for long."""

    def send(self, kind: str, payload: dict) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; called once after the last send."""


class OutboxDelivery:
    """Delivery threads for ``channels`` over ``store``'s outbox table.

    Args:
        store: the :class:`~soundwatch.store.EventStore` holding the outbox.
        channels: the channels (unique ``name`` each).
        retry_initial_s: the wait after a first failure; it doubles on each further
            failure up to ``retry_max_s``, and resets after a success.
    """

    def __init__(self, store, channels: list[Channel], retry_initial_s: float = 1.0,
                 retry_max_s: float = 60.0):
        self.store = store
        self.channels = list(channels)
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.last_error: dict[str, str | None] = {c.name: None for c in self.channels}
        self.delivered: dict[str, int] = {c.name: 0 for c in self.channels}
        self._wakes = {c.name: threading.Event() for c in self.channels}
        self._stopping = threading.Event()
        self._drain_until = 0.0
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for channel in self.channels:
            channel.start()
            thread = threading.Thread(target=self._run, args=(channel,),
                                      name=f"outbox-{channel.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """New rows were committed: deliver them now (backoff waits are kept)."""
        for event in self._wakes.values():
            event.set()

    def stop(self, drain_s: float = 3.0) -> None:
        """Deliver what is pending for up to ``drain_s``, then stop; what is left stays
        in the outbox for the next run. Later calls do nothing."""
        if self._stopping.is_set():
            return
        self._drain_until = time.monotonic() + drain_s
        self._stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join(drain_s + 15.0)
        for channel in self.channels:
            try:
                channel.close()
            except Exception as exc:
                log.warning("closing %s: %s", channel.name, exc)

    def status(self) -> dict[str, dict]:
        """Per channel: ``pending`` rows, ``delivered`` ones in this run (those a
        previous run left included) and the ``last_error`` (None once delivering works
        again)."""
        stored = self.store.outbox_status()
        return {c.name: {"pending": stored.get(c.name, {}).get("pending", 0),
                         "delivered": self.delivered[c.name],
                         "last_error": self.last_error[c.name]} for c in self.channels}

    def _run(self, channel: Channel) -> None:
        wake = self._wakes[channel.name]
        backoff_s = 0.0
        while True:
            wake.clear()
            try:
                rows = self.store.outbox_pending(channel.name, BATCH_ROWS)
            except Exception as exc:
                log.error("cannot read the outbox for %s: %s", channel.name, exc)
                rows = []
            if self._stopping.is_set() and (not rows or time.monotonic() > self._drain_until):
                return
            if not rows:
                wake.wait(5.0)
                continue
            for row in rows:
                if self._stopping.is_set() and time.monotonic() > self._drain_until:
                    return
                try:
                    channel.send(row["kind"], row["payload"])
                except Exception as exc:
                    backoff_s = (self.retry_initial_s if backoff_s == 0
                                 else min(self.retry_max_s, backoff_s * 2))
                    self._failed(channel, row, exc, backoff_s)
                    self._pause(channel, backoff_s)
                    break
                backoff_s = 0.0
                self._delivered(channel, row)

    def _failed(self, channel: Channel, row: dict, exc: Exception, backoff_s: float) -> None:
        error = str(exc) or type(exc).__name__
        if error != self.last_error[channel.name]:
            log.warning("%s: delivery failed: %s (kept in the outbox; retrying in %.0f s, "
                        "then less and less often up to every %.0f s)", channel.name, error,
                        backoff_s, self.retry_max_s)
        self.last_error[channel.name] = error
        try:
            self.store.outbox_failed(row["id"], error)
        except Exception as store_exc:
            log.error("cannot record a failed delivery: %s", store_exc)

    def _delivered(self, channel: Channel, row: dict) -> None:
        if self.last_error[channel.name] is not None:
            log.warning("%s: delivering again", channel.name)
            self.last_error[channel.name] = None
        self.delivered[channel.name] += 1
        try:
            self.store.outbox_delivered([row["id"]])
        except Exception as exc:  # it went out: at worst it goes out again after a restart
            log.error("cannot mark alert %s delivered: %s", row["alert_key"], exc)

    def _pause(self, channel: Channel, seconds: float) -> None:
        """Wait ``seconds`` before a retry; a stop (past its drain time) or the channel's
        reconnection cuts the wait short."""
        until = time.monotonic() + seconds
        if channel.reconnected is not None:
            channel.reconnected.clear()
        while True:
            now = time.monotonic()
            if self._stopping.is_set():
                until = min(until, self._drain_until)
            if now >= until or (channel.reconnected is not None
                                and channel.reconnected.is_set()):
                return
            self._stopping.wait(min(0.1, until - now))
