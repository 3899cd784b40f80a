"""Delivers the outbox: per channel, oldest row first, retried with exponential backoff.

Each channel has its own delivery thread, so a broker that is down never holds back a
webhook, and the engine worker only ever writes rows (it never waits for a network).
A row is marked delivered once its channel acknowledged it (MQTT PUBACK, HTTP 2xx); a
row whose send fails is retried, and no later row of that channel goes before it, so
every channel sees its alerts in order. A crash between a send and its mark sends that
row again after a restart: delivery is at least once, and receivers deduplicate on the
payload's (``node``, ``id``). A row sent whose mark cannot be written (a full disk) is
not sent again in this run: the mark is retried until it is written.

Alerts whose rows cannot be written at all (a full disk, a database locked for long) are
held in memory (:meth:`OutboxDelivery.hold`) and delivered by the same threads after the
channel's stored rows: the news still goes out while the disk is full. A held row that
the database takes later (its event stored once space is free) goes in marked delivered
when it already went out, so it is not sent twice.

Quiet hours hold late news too: a non-urgent alert raised before a channel's quiet hours
that reaches the channel during them (it waited in the outbox while the channel was down)
waits until they end, as it would not have been sent then in the first place; its end
waits with it. Urgent alerts, and the end of an alert whose start went before the quiet
hours began, go at once; so an urgent alert may overtake others that wait. A time
profile (``[alerts.profiles]``) holds the late alerts below its ``min_severity`` on every
people channel the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from soundwatch.alerts.settings import SEVERITIES, TimeProfile, severity_rank, within_hours
from soundwatch.alerts.text import LATE_AFTER_S

log = logging.getLogger(__name__)

BATCH_ROWS = 200  # rows read from the outbox per query
QUIET_RECHECK_S = 30.0  # how often a channel holding late alerts looks at the clock


class ChannelError(Exception):
    """A delivery failed; the message says why (and is kept as the row's last error)."""


class Channel:
    """Something that delivers outbox rows. ``send`` blocks until the receiver
    acknowledged the row, or raises :class:`ChannelError`."""

    name = "channel"  # the outbox's key for it (stable across runs)

    @property
    def shown_name(self) -> str:
        """How status lines and summaries name it (``name`` unless that is opaque)."""
        return self.name

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
        quiet_hours: ``{channel name: "HH:MM-HH:MM"}``, local time: during them the
            channel's late non-urgent alerts wait (see the module's docstring).
        profiles: ``{name: TimeProfile}`` (``[alerts.profiles]``): during a profile's
            hours, late alerts less severe than its ``min_severity`` wait the same way on
            the channels in ``profile_channels`` (those for people, not the MQTT feed).
        clock: the current UTC time (tests set it).
    """

    def __init__(self, store, channels: list[Channel], retry_initial_s: float = 1.0,
                 retry_max_s: float = 60.0, quiet_hours: dict[str, str | None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 profiles: dict[str, TimeProfile] | None = None,
                 profile_channels: set[str] | frozenset[str] = frozenset()):
        self.store = store
        # channel -> (hours, the least severity that goes then, what the user calls it)
        self._quiet_rules: dict[str, list[tuple[str, str, str]]] = {c.name: [] for c in channels}
        for name, hours in (quiet_hours or {}).items():
            if hours and name in self._quiet_rules:
                self._quiet_rules[name].append((hours, "urgent", f"its quiet hours ({hours})"))
        for name in set(profile_channels) & set(self._quiet_rules):
            for profile_name, profile in (profiles or {}).items():
                self._quiet_rules[name].append((profile.hours, profile.min_severity,
                                                f"the time profile {profile_name!r} "
                                                f"({profile.hours})"))
        self._quiet_now: dict[str, str] = {}  # channel -> what holds its alerts back now
        self.clock = clock
        self._waiting_quietly: dict[str, int] = {c.name: 0 for c in channels}
        self.channels = list(channels)
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.last_error: dict[str, str | None] = {c.name: None for c in self.channels}
        self.delivered: dict[str, int] = {c.name: 0 for c in self.channels}
        # per channel: ids of rows sent whose delivered mark could not be written yet
        self._unmarked: dict[str, set[int]] = {c.name: set() for c in self.channels}
        # per channel: OutboxRows held in memory (their database write failed), in order
        self._held: dict[str, list] = {c.name: [] for c in self.channels}
        self._held_lock = threading.Lock()
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

    def hold(self, rows) -> None:
        """Deliver ``rows`` (:class:`~soundwatch.alerts.router.OutboxRow`) from memory:
        the database could not take them. Each row that goes out gets ``delivered``
        set, so that a later write of it (its event stored after all) marks it
        delivered. Rows of channels not delivered here are ignored."""
        with self._held_lock:
            for row in rows:
                if row.channel in self._held:
                    self._held[row.channel].append(row)
        self.wake()

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
                log.warning("closing %s: %s", channel.shown_name, exc)

    def status(self) -> dict[str, dict]:
        """Per channel: ``pending`` rows, ``delivered`` ones in this run (those a
        previous run left included), the ``last_error`` (None once delivering works
        again) and, of the pending, those ``quiet`` (waiting out its quiet hours or a time
        profile, which ``quiet_for`` names while there are some)."""
        try:
            stored = self.store.outbox_status()
        except Exception as exc:  # e.g. the disk is full: the held rows still count
            log.debug("outbox status: %s", exc)
            stored = {}
        with self._held_lock:
            held = {name: len(rows) for name, rows in self._held.items()}
        return {c.name: {"pending": stored.get(c.name, {}).get("pending", 0)
                         + held[c.name],
                         "delivered": self.delivered[c.name],
                         "last_error": self.last_error[c.name],
                         "quiet": self._waiting_quietly[c.name],
                         "shown": c.shown_name,
                         **({"quiet_for": self._quiet_now.get(c.name)}
                            if self._waiting_quietly[c.name] else {})}
                for c in self.channels}

    def _run(self, channel: Channel) -> None:
        wake = self._wakes[channel.name]
        backoff_s = 0.0
        while True:
            wake.clear()
            self._mark_unmarked(channel)
            rows = self._due_rows(channel)
            if self._stopping.is_set() and (not rows or time.monotonic() > self._drain_until):
                return
            if not rows:
                wake.wait(QUIET_RECHECK_S if self._waiting_quietly[channel.name] else 5.0)
                continue
            for row in rows:
                if self._stopping.is_set() and time.monotonic() > self._drain_until:
                    return
                held = row.get("held")
                if held is not None and held.stored:  # its database row delivers it
                    self._release(channel, held)
                    continue
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

    def _due_rows(self, channel: Channel) -> list[dict]:
        """The channel's rows to send now, oldest first: its stored rows (less those sent
        whose mark is not written yet), then those held in memory; those that wait out
        its quiet hours (:meth:`_waits_for_quiet_end`) are left out."""
        unmarked = self._unmarked[channel.name]
        rows: list[dict] = []
        held_starts: set[str] = set()  # alert keys whose start waits: their ends wait too
        after_id = 0
        waiting = 0
        while True:  # page on while a whole batch waits out the quiet hours
            try:
                batch = self.store.outbox_pending(channel.name, BATCH_ROWS, after_id)
            except Exception as exc:
                log.error("cannot read the outbox for %s: %s", channel.shown_name, exc)
                batch = []
            due = [row for row in batch if row["id"] not in unmarked]
            sendable = [row for row in due
                        if not self._waits_for_quiet_end(channel, row, held_starts)]
            waiting += len(due) - len(sendable)
            rows += sendable
            if rows or len(batch) < BATCH_ROWS:
                break
            after_id = batch[-1]["id"]
        with self._held_lock:
            held = [{"id": None, "kind": row.kind, "alert_key": row.alert_key,
                     "payload": row.payload, "held": row} for row in self._held[channel.name]]
        due_held = [row for row in held
                    if not self._waits_for_quiet_end(channel, row, held_starts)]
        waiting += len(held) - len(due_held)
        if waiting and not self._waiting_quietly[channel.name]:
            log.warning("%s: %d late alert(s) wait for the end of %s; alerts severe enough "
                        "go at once", channel.shown_name, waiting,
                        self._quiet_now.get(channel.name, "its quiet hours"))
        self._waiting_quietly[channel.name] = waiting
        return rows + due_held

    def _waits_for_quiet_end(self, channel: Channel, row: dict, held_starts: set[str]) -> bool:
        """Whether ``row`` waits out ``channel``'s quiet hours (or a time profile's) now:
        one of them is on and the alert is less severe than it lets through.

        The router makes no such start during them, so a start that reaches the channel
        then was raised before them and waited (the channel was down): it waits on. An
        end goes at once (its alert's start went before they began), unless its start
        waits (added to ``held_starts``) or it is late itself (LATE_AFTER_S after its
        sound ended)."""
        payload = row["payload"]
        now = self.clock()
        severity = payload.get("severity") if payload.get("severity") in SEVERITIES else "info"
        holding = [what for hours, least, what in self._quiet_rules.get(channel.name, ())
                   if severity_rank(severity) < severity_rank(least)
                   and within_hours(hours, now)]
        if not holding:
            return False
        self._quiet_now[channel.name] = holding[0]
        if row["kind"] in ("event_started", "input_lost"):  # a start, or its like
            held_starts.add(row["alert_key"])
            return True
        if row["alert_key"] in held_starts:
            return True
        try:
            ended = datetime.fromisoformat(payload["end"].replace("Z", "+00:00"))
        except (AttributeError, KeyError, ValueError):
            return False  # no time to judge by: it goes
        return (now - ended).total_seconds() >= LATE_AFTER_S

    def _failed(self, channel: Channel, row: dict, exc: Exception, backoff_s: float) -> None:
        error = str(exc) or type(exc).__name__
        if error != self.last_error[channel.name]:
            log.warning("%s: delivery failed: %s (kept in the outbox; retrying in %.0f s, "
                        "then less and less often up to every %.0f s)", channel.shown_name,
                        error, backoff_s, self.retry_max_s)
        self.last_error[channel.name] = error
        if row["id"] is None:
            return  # held in memory: no row to count on
        try:
            self.store.outbox_failed(row["id"], error)
        except Exception as store_exc:
            log.error("cannot record a failed delivery: %s", store_exc)

    def _delivered(self, channel: Channel, row: dict) -> None:
        if self.last_error[channel.name] is not None:
            log.warning("%s: delivering again", channel.shown_name)
            self.last_error[channel.name] = None
        self.delivered[channel.name] += 1
        if row["id"] is None:
            row["held"].delivered = True
            self._release(channel, row["held"])
            return
        unmarked = self._unmarked[channel.name]
        try:
            self.store.outbox_delivered([row["id"]])
        except Exception as exc:  # it went out: kept from going out again in this run
            if not unmarked:
                log.error("cannot mark alert %s delivered: %s (it is not sent again; the "
                          "mark is retried)", row["alert_key"], exc)
            unmarked.add(row["id"])

    def _mark_unmarked(self, channel: Channel) -> None:
        """Write the delivered marks that could not be written when their rows went out."""
        unmarked = self._unmarked[channel.name]
        if not unmarked:
            return
        try:
            self.store.outbox_delivered(sorted(unmarked))
        except Exception:
            return  # still failing: said when it first failed
        log.warning("%s: %d delivered mark(s) written after all", channel.shown_name,
                    len(unmarked))
        unmarked.clear()

    def _release(self, channel: Channel, held) -> None:
        with self._held_lock:
            rows = self._held[channel.name]
            if held in rows:
                rows.remove(held)

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
