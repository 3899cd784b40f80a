"""Alerts: latency to a local broker and webhook, outbox drain after an outage, hub rate.

Everything runs on this machine over loopback, with a real Mosquitto (must be installed:
``apt-get install mosquitto``) and a local HTTP server; the test suite's receivers
(tests/alert_helpers.py) are reused.

- **latency**: from the monitor handing an ``event_started`` notice to the alert router
  (the moment ``listen`` prints it) to the message arriving at an MQTT subscriber of
  ``soundwatch/<node>/event`` and at the webhook server: the outbox commit, the delivery
  thread's wake-up, the publish and its acknowledgement included. ``BENCH_ALERTS_N``
  events (default 200), one every 50 ms.
- **outbox drain**: an hour-long outage of a busy node (one event a second: 7200 rows,
  start and end, per channel) is written to the outbox, then delivery starts; rows per
  second until every row is acknowledged, per channel (each channel has its own thread
  and they run together).
- **hub**: three nodes' worth of finished events (``BENCH_HUB_EVENTS`` per node, default
  1000) published at once to the broker; events stored per second by ``soundwatch hub``'s
  :class:`~soundwatch.alerts.hub.Hub` (one committed SQLite transaction per event). The
  broker's queue per client is raised (``max_queued_messages``): Mosquitto's default of
  1000 drops what a slower subscriber has not taken yet, and a burst this size exceeds it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.machine import REPO, emit

sys.path.insert(0, str(REPO / "tests"))
from alert_helpers import Mosquitto, MqttRecorder, WebhookServer, wait_until  # noqa: E402

from soundwatch.alerts.outbox import OutboxDelivery  # noqa: E402
from soundwatch.alerts.router import AlertRouter  # noqa: E402
from soundwatch.alerts.service import Alerts  # noqa: E402
from soundwatch.alerts.settings import (  # noqa: E402
    AlertRule,
    AlertSettings,
    MqttSettings,
    WebhookSettings,
)
from soundwatch.detect import Event  # noqa: E402
from soundwatch.store import EventStore  # noqa: E402

RATE = 16000
LABELS = ("dog", "doorbell", "smoke_alarm")
N_LATENCY = int(os.environ.get("BENCH_ALERTS_N", 200))
OUTAGE_ROWS = 3600 * 2  # an hour at one event a second: start and end rows
HUB_EVENTS = int(os.environ.get("BENCH_HUB_EVENTS", 1000))


def percentiles(values_s: list[float]) -> dict:
    ms = np.array(values_s) * 1000.0
    return {"p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "max_ms": round(float(ms.max()), 2), "n": len(ms)}


def settings(broker: Mosquitto, webhook: WebhookServer) -> AlertSettings:
    return AlertSettings(node="bench", rules={"all": AlertRule(labels=LABELS, cooldown_s=0.0)},
                         mqtt=MqttSettings(url=broker.url, level_interval_s=0.0),
                         webhook=WebhookSettings(url=webhook.url()))


def measure_latency(folder: Path, broker: Mosquitto, webhook: WebhookServer) -> dict:
    arrivals: dict[str, dict[str, float]] = {"mqtt": {}, "webhook": {}}
    recorder = MqttRecorder(broker.port, ["soundwatch/bench/event"], client_id="latency")
    recorder.client.on_message = lambda c, u, m: arrivals["mqtt"].setdefault(
        json.loads(m.payload)["id"], time.perf_counter())
    webhook.on_request = lambda body: arrivals["webhook"].setdefault(body["id"],
                                                                     time.perf_counter())
    with EventStore(folder / "latency.sqlite") as store:
        alerts = Alerts(settings(broker, webhook), LABELS, store)
        alerts.start()
        router: AlertRouter = alerts.router
        router.on_session("bench", lambda sample: _now())
        sent: dict[str, float] = {}
        for i in range(N_LATENCY):
            event = Event(LABELS[i % 3], i * RATE, i * RATE + RATE // 2, 0.9, 0.9, RATE, i + 1,
                          ongoing=True)
            started = time.perf_counter()
            store.add_outbox(router.started(event))  # what Monitor._queue_alerts does
            router.queued()
            sent[f"bench-{i + 1}"] = started
            time.sleep(0.05)
        wait_until(lambda: all(len(a) == N_LATENCY for a in arrivals.values()), 30)
        alerts.stop()
    recorder.close()
    webhook.on_request = None
    return {channel: percentiles([got[key] - sent[key] for key in sent if key in got])
            for channel, got in arrivals.items()}


def measure_drain(folder: Path, broker: Mosquitto, webhook: WebhookServer) -> dict:
    recorder = MqttRecorder(broker.port, ["soundwatch/bench/event"], client_id="drain")
    webhook.requests.clear()
    with EventStore(folder / "drain.sqlite") as store:
        alerts = Alerts(settings(broker, webhook), LABELS, store)
        router = alerts.router
        router.on_session("outage", lambda sample: _now())
        rows = []
        for i in range(OUTAGE_ROWS // 2):  # the outage: rows pile up, nothing is sent
            event = Event(LABELS[i % 3], i * RATE, i * RATE + RATE // 2, 0.9, 0.9, RATE, i + 1)
            rows += router.started(event) + router.finished(event, None)
        store.add_outbox(rows)
        delivery: OutboxDelivery = alerts.delivery
        started = time.perf_counter()
        alerts.start()
        done: dict[str, float] = {}
        while len(done) < 2 and time.perf_counter() - started < 600:
            for name, info in delivery.status().items():
                if info["pending"] == 0 and name not in done:
                    done[name] = time.perf_counter() - started
            time.sleep(0.05)
        alerts.stop()
    received = {"mqtt": len(recorder.on("soundwatch/bench/event")),
                "webhook": len(webhook.requests)}
    recorder.close()
    return {name: {"rows": OUTAGE_ROWS, "received": received[name],
                   "drain_s": round(seconds, 2), "rows_per_s": round(OUTAGE_ROWS / seconds, 1)}
            for name, seconds in done.items()}


def measure_hub(folder: Path, broker: Mosquitto) -> dict:
    from soundwatch.alerts.hub import Hub

    with EventStore(folder / "central.sqlite") as store:
        hub = Hub(MqttSettings(url=broker.url), store, client_id="bench-hub")
        hub.start()
        publisher = MqttRecorder(broker.port, ["unused/#"], client_id="nodes")
        start_time = _now().isoformat().replace("+00:00", "Z")
        started = time.perf_counter()
        for i in range(HUB_EVENTS):
            for node in ("kitchen", "garden", "attic"):
                payload = {"type": "event", "node": node, "id": f"s-{i}", "event_id": i,
                           "label": "dog", "start": start_time, "end": start_time,
                           "start_s": float(i), "end_s": i + 0.5, "duration_s": 0.5,
                           "peak": 0.9, "mean": 0.8}
                publisher.client.publish(f"soundwatch/{node}/event", json.dumps(payload),
                                         qos=1)
        total = 3 * HUB_EVENTS
        wait_until(lambda: hub.status()["stored"] >= total, 300)
        seconds = time.perf_counter() - started
        stored = hub.status()["stored"]
        hub.stop()
        publisher.close()
    return {"nodes": 3, "events": total, "stored": stored, "seconds": round(seconds, 2),
            "events_per_s": round(stored / seconds, 1)}


def _now():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        broker = Mosquitto(folder, options=("max_queued_messages 100000",)).start()
        webhook = WebhookServer()
        try:
            results = {"latency": measure_latency(folder, broker, webhook),
                       "outbox_drain": measure_drain(folder, broker, webhook),
                       "hub": measure_hub(folder, broker)}
        finally:
            webhook.close()
            broker.stop()
    emit("alerts", "event_started -> MQTT / webhook received (local Mosquitto, loopback "
         "HTTP), outbox drain after a one-hour outage burst, hub events/s from 3 nodes",
         results)


if __name__ == "__main__":
    main()
