"""`soundwatch hub`: store the events of every node on one MQTT broker in one database.

    soundwatch hub --mqtt mqtt://broker.local --db central.sqlite
    soundwatch events list --db central.sqlite      # each event with its node
"""

from __future__ import annotations

import shlex
import sys
import time

from soundwatch.times import duration_s


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "hub", help="store the events of many listeners (nodes) from one MQTT broker",
        description="Subscribe to every soundwatch node on an MQTT broker and store each "
        "event once (by node and event id) in one SQLite database. Runs until Ctrl-C.")
    parser.add_argument("--mqtt", metavar="URL", help="the broker: mqtt://[user:pass@]host"
                        "[:port] (default: [alerts.mqtt] url in the config)")
    parser.add_argument("--db", help="the central event database (default: [store] database "
                        "or events.sqlite in the user data dir)")
    parser.add_argument("--config", help="TOML settings file (broker credentials, TLS)")
    parser.add_argument("--client-id", default="soundwatch-hub",
                        help="MQTT client id; keep it, so that the broker holds events for "
                        "the hub while it is down (default soundwatch-hub)")
    parser.add_argument("--duration", type=duration_s,
                        help="stop after this long: seconds (90) or with a unit (15m, 2h)")
    parser.add_argument("--status-interval", type=float, default=10.0,
                        help="seconds between status lines (0: none)")
    parser.add_argument("--json", action="store_true", help="status and summary as JSON")


def run(args) -> int:
    from dataclasses import replace

    from soundwatch.alerts.hub import Hub
    from soundwatch.config import load_settings
    from soundwatch.errors import SoundwatchError
    from soundwatch.signals import stop_on_signals
    from soundwatch.store import EventStore

    settings = load_settings(args.config)
    mqtt = settings.alerts.mqtt
    if args.mqtt:
        mqtt = replace(mqtt, url=args.mqtt)
    if not mqtt.url:
        raise SoundwatchError("no broker: pass --mqtt mqtt://host[:port] or set [alerts.mqtt] "
                              "url in the config")
    path = args.db or settings.database_path()
    with EventStore(path) as store:
        hub = Hub(mqtt, store, client_id=args.client_id)
        started = time.monotonic()
        with stop_on_signals() as stop:
            if hub.start():
                print(f"hub: connected to the MQTT broker at {hub.link.address}; storing "
                      f"what arrives on {hub.topic} in {path}", file=sys.stderr)
            next_status = started + args.status_interval
            while not stop.is_set():
                if args.duration is not None and time.monotonic() - started >= args.duration:
                    break
                stop.wait(0.1)
                if args.status_interval > 0 and time.monotonic() >= next_status:
                    next_status += args.status_interval
                    _print(hub.status(), "status", args.json)
        hub.stop()
        _print(hub.status(), "summary", args.json, path)
    if not hub.ever_connected:  # a user's error (the URL, the login, a broker not run)
        why = hub.link.error or f"no answer from the MQTT broker at {hub.link.address}"
        fix = ("check the username and password (in --mqtt, or [alerts.mqtt] username and "
               "password)" if "refused the connection" in why else
               "check --mqtt and that the broker runs")
        print(f"soundwatch: error: the hub never connected, so it stored nothing: {why}; "
              f"{fix}", file=sys.stderr)
        return 2
    return 0


def _print(status: dict, kind: str, as_json: bool, path=None) -> None:
    from soundwatch.command import suggest
    from soundwatch.jsonout import to_json

    if as_json:
        print(to_json({"type": kind, **status, **({"database": str(path)} if path else {})}),
              flush=True)
        return
    nodes = ", ".join(f"{node} {n}" for node, n in sorted(status["nodes"].items())) or "none"
    line = (f"hub: {status['stored']} event(s) stored ({nodes}); {status['duplicates']} "
            f"duplicate(s) dropped, {status['rejected']} malformed")
    if status["error"]:
        line += f"; {status['error']}"
    if path is not None:
        line += "; read back with " + suggest(f"events list --db {shlex.quote(str(path))}")
    print(line, file=sys.stdout, flush=True)
