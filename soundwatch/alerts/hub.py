"""The hub: subscribes to every node's events on one broker and stores each once.

Nodes publish finished events on ``<prefix>/<node>/event`` (see :mod:`.mqtt`). The hub
keeps a persistent MQTT session (fixed client id, clean session off), so the broker
queues QoS 1 events for it while it is away. Each event is stored once, keyed by
(node, the node's ``<session>-<event id>``), whatever the number of copies at-least-once
delivery brings. Per node, the hub records one session (``source`` ``node:<name>``) per
hub run; event rows keep the node's own UTC start and end times.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import Counter

from soundwatch.alerts.mqtt import MqttLink
from soundwatch.alerts.remote_event import checked_event
from soundwatch.alerts.settings import MqttSettings

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 300  # of a rejected message's reason, as logged

# A message that can never be stored: counted as rejected and acknowledged, so that it
# cannot block the broker's queue of what follows (it resends what is not acknowledged).
# (IntegrityError: a row the database's constraints refuse; RecursionError: JSON nested
# too deep to decode.)
UNSTORABLE = (ValueError, TypeError, RecursionError, sqlite3.IntegrityError)


class Hub:
    """Stores the events of every node publishing to ``settings.url``.

    Args:
        settings: the broker (``[alerts.mqtt]``: url, credentials, TLS, topic prefix).
        store: the central :class:`~soundwatch.store.EventStore`.
        client_id: the hub's MQTT client id; keep it across runs, so that the broker
            keeps what arrived while the hub was away.
    """

    def __init__(self, settings: MqttSettings, store, client_id: str = "soundwatch-hub"):
        self.settings = settings
        self.store = store
        self.topic = f"{settings.topic_prefix}/+/event"
        self.link = MqttLink(settings, client_id=client_id, on_connected=self._subscribe,
                             clean_session=False)
        self.link.client.on_message = self._handle_message
        self.link.client.manual_ack_set(True)  # acknowledge only what is stored
        self.stored: Counter[str] = Counter()  # per node
        self.duplicates = 0
        self.rejected = 0
        self._sessions: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ever_connected = False

    def start(self) -> bool:
        """Connect (in the background; see :meth:`MqttLink.start`); whether it is."""
        return self.link.start(
            meanwhile="the nodes keep their events in their own outboxes meanwhile")

    @property
    def ever_connected(self) -> bool:
        """Whether the broker was reached at any time since :meth:`start`."""
        return self._ever_connected

    def stop(self) -> None:
        self.link.close()

    def status(self) -> dict:
        with self._lock:
            return {"stored": sum(self.stored.values()), "nodes": dict(self.stored),
                    "duplicates": self.duplicates, "rejected": self.rejected,
                    "connected": self.link.connected, "error": self.link.error}

    def _subscribe(self) -> None:
        self._ever_connected = True
        self.link.client.subscribe(self.topic, qos=1)

    def _handle_message(self, client, userdata, message) -> None:
        if self._store_message(message):
            client.ack(message.mid, message.qos)

    def _store_message(self, message) -> bool:
        """Store one message; False (not acknowledged: the broker sends it again after a
        reconnect) when the database failed, e.g. a full disk. A message that can never
        be stored (malformed, see :mod:`.remote_event`) is acknowledged and counted as
        rejected."""
        try:
            payload = json.loads(message.payload)
            if not isinstance(payload, dict):
                raise ValueError("not a JSON object")
            if payload.get("type") != "event":
                return True  # starts: the finished event follows
            event = checked_event(payload, self._topic_node(message.topic))
            node = event["node"]
            row = self.store.add_remote_event(node, event["id"], self._session(node), event)
        except UNSTORABLE as exc:
            with self._lock:
                self.rejected += 1
            why = str(exc)
            if len(why) > MAX_REASON_CHARS:  # a 5 MB label made a 5 MB log line
                why = why[:MAX_REASON_CHARS] + f"... ({len(why)} characters)"
            log.warning("hub: ignored a message on %s: %s", message.topic[:200], why)
            return True
        except Exception as exc:  # e.g. a full disk
            log.error("hub: cannot store an event from %s: %s", message.topic, exc)
            return False
        with self._lock:
            if row is None:
                self.duplicates += 1
            else:
                self.stored[node] += 1
        return True

    def _topic_node(self, topic: str) -> str:
        """The node of a ``<prefix>/<node>/event`` topic."""
        return topic[len(self.settings.topic_prefix) + 1:-len("/event")]

    def _session(self, node: str) -> int:
        if node not in self._sessions:
            self._sessions[node] = self.store.start_session(
                source=f"node:{node}", model="", sample_rate_hz=0,
                settings={"node": node, "hub_topic": self.topic})
        return self._sessions[node]
