"""Real receivers for the alert tests: a Mosquitto broker, an MQTT recorder, an HTTP server.

Everything listens on 127.0.0.1 only, on free ports. Without the ``mosquitto`` binary
(apt-get install mosquitto; scripts/setup.sh test installs it) the broker tests fail in
CI and skip elsewhere, like the PulseAudio tests.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import wait_until

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Mosquitto:
    """A mosquitto process on 127.0.0.1:``port`` that can be stopped and started again
    on the same port. ``password_file``: refuse anonymous clients, check this file.
    ``persistent``: keep sessions, subscriptions and queued messages across a restart.
    ``options``: more mosquitto.conf lines."""

    def __init__(self, directory: Path, port: int | None = None,
                 password_file: Path | None = None, persistent: bool = False,
                 options: tuple[str, ...] = ()):
        self.port = port or free_port()
        self.config = directory / f"mosquitto-{self.port}.conf"
        # As root, mosquitto would switch to the "mosquitto" user, who cannot read test files.
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1"]
        if persistent:
            lines += ["persistence true", f"persistence_location {directory}/"]
        else:
            lines.append("persistence false")
        if password_file is not None:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        self.config.write_text("\n".join([*lines, *options]) + "\n")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def listening():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        if not wait_until(listening, 10.0):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


def need_mosquitto() -> None:
    if shutil.which("mosquitto") is None:
        reason = "mosquitto is not installed (apt-get install mosquitto; scripts/setup.sh test)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


class MqttRecorder:
    """A paho subscriber that records (topic, payload text, retained) for ``topics``."""

    def __init__(self, url_port: int, topics: list[str], client_id: str = "recorder",
                 clean_session: bool = True):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, str, bool]] = []
        self.broker_resends = 0
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=clean_session)
        self.client.reconnect_delay_set(1, 2)

        def on_connect(client, userdata, flags, reason_code, properties):
            client.subscribe([(t, 1) for t in topics])

        def on_subscribe(client, userdata, mid, reason_codes, properties):
            self._subscribed.set()

        def on_message(client, userdata, message):
            if message.dup:
                # The broker's own resend of a QoS 1 message whose acknowledgement it had
                # not taken in before it stopped (a persistent session, at least once):
                # not a second publish by soundwatch, whose publishes reach subscribers
                # without the flag (MQTT 3.1.1, 3.3.1.1: DUP is not propagated).
                self.broker_resends += 1
                return
            with self._lock:
                self.messages.append((message.topic, message.payload.decode(),
                                      bool(message.retain)))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", url_port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the recorder could not subscribe")

    def on(self, topic: str) -> list[str]:
        with self._lock:
            return [payload for t, payload, _ in self.messages if t == topic]

    def json_on(self, topic: str) -> list[dict]:
        return [json.loads(p) for p in self.on(topic)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class WebhookServer:
    """An HTTP server on 127.0.0.1 recording every POST: (path, headers, JSON body).
    ``status`` is what it answers (set 500 to make deliveries fail); ``on_request(body)``,
    if set, is called on arrival."""

    def __init__(self):
        self.requests: list[tuple[str, dict, dict]] = []
        self.status = 200
        self.on_request = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if server.status == 200:
                    if server.on_request is not None:
                        server.on_request(body)
                    server.requests.append((self.path, dict(self.headers), body))
                self.send_response(server.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path: str = "/hook") -> list[dict]:
        return [body for p, _, body in self.requests if p == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
