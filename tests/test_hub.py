"""`soundwatch hub`: three nodes replay files into one broker; each event stored once."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
from alert_helpers import Mosquitto, MqttRecorder, need_mosquitto, wait_until
from model_factory import make_test_model, write_scene

SOUNDWATCH = [sys.executable, "-m", "soundwatch"]
PARTS = [("silence", 1.0), ("tone_1k", 1.0), ("silence", 1.0), ("noise", 0.8),
         ("silence", 1.0), ("tone_3k", 0.8), ("silence", 1.0)]
NODES = ("kitchen", "garden", "attic")


@pytest.fixture
def broker(tmp_path):
    need_mosquitto()
    process = Mosquitto(tmp_path).start()
    yield process
    process.stop()


@pytest.fixture
def scene(tmp_path):
    """(model, audio file, truth, env) of one test."""
    model = make_test_model(tmp_path / "test.onnx")
    audio, truth = write_scene(tmp_path / "scene.wav", PARTS)
    env = {**os.environ, "SOUNDWATCH_CONFIG_DIR": str(tmp_path / "config"),
           "SOUNDWATCH_DATA_DIR": str(tmp_path / "data")}
    return model, audio, truth, env


def central_count(path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM node_events").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_three_nodes_into_one_hub_each_event_once(broker, scene, tmp_path):
    model, audio, truth, env = scene
    central = tmp_path / "central.sqlite"
    hub = subprocess.Popen([*SOUNDWATCH, "hub", "--mqtt", broker.url, "--db", str(central),
                            "--json", "--status-interval", "0.2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    spy = MqttRecorder(broker.port, ["soundwatch/+/event"], client_id="spy")
    try:
        for line in hub.stdout:  # the hub subscribes as it connects
            if json.loads(line)["connected"]:
                break
        nodes = [subprocess.Popen([*SOUNDWATCH, "listen", "--headless", "--file", str(audio),
                                   "--fast", "--model", str(model), "--mqtt", broker.url,
                                   "--node", node, "--db", str(tmp_path / f"{node}.sqlite"),
                                   "--status-interval", "0"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env=env) for node in NODES]
        for node in nodes:
            assert node.wait(60) == 0, node.stderr.read()
        expected = len(NODES) * len(truth)
        assert wait_until(lambda: central_count(central) == expected, 15)
        # at-least-once delivery may repeat a message: the hub drops the copy
        finished = [p for p in spy.on("soundwatch/kitchen/event") if '"type": "event"' in p]
        spy.client.publish("soundwatch/kitchen/event", finished[0], qos=1).wait_for_publish(5)
        spy.client.publish("soundwatch/kitchen/event", "not json", qos=1).wait_for_publish(5)
        # Messages that can never be stored are acknowledged as rejected: more of them
        # than the broker keeps in flight (20) must not block a good event behind them.
        good = json.loads(finished[0])
        bad = [{**good, "id": f"nan-{k}", "duration_s": float("nan")} for k in range(25)]
        bad += [{**good, "id": "a", "start": "yesterday"}, {**good, "id": "b", "peak": -5},
                {**good, "id": "c", "label": "dog\x1b[2J"}, {**good, "id": "d",
                                                             "node": "garden"},
                {**good, "id": "e", "end": "2020-01-01T00:00:00Z"}]
        for payload in [*bad, {**good, "id": "after-the-bad-ones"}]:
            spy.client.publish("soundwatch/kitchen/event", json.dumps(payload),
                               qos=1).wait_for_publish(5)
        expected += 1
        assert wait_until(lambda: central_count(central) == expected, 15)
        hub.send_signal(signal.SIGINT)
        out, err = hub.communicate(timeout=30)
    finally:
        spy.close()
        if hub.poll() is None:
            hub.kill()
    assert hub.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["type"] == "summary" and summary["stored"] == expected
    assert summary["nodes"] == {node: len(truth) + (node == "kitchen") for node in NODES}
    assert summary["duplicates"] == 1 and summary["rejected"] == 1 + 30
    assert central_count(central) == expected

    listing = subprocess.run([*SOUNDWATCH, "events", "list", "--db", str(central), "--json",
                              "--limit", "0"], capture_output=True, text=True, env=env)
    assert listing.returncode == 0, listing.stderr
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert sorted((r["node"], r["label"]) for r in rows) == sorted(
        [(node, label) for node in NODES for label, _, _ in truth]
        + [("kitchen", good["label"])])
    table = subprocess.run([*SOUNDWATCH, "events", "list", "--db", str(central)],
                           capture_output=True, text=True, env=env).stdout
    assert "node" in table.splitlines()[0] and "garden" in table
    one_node = subprocess.run([*SOUNDWATCH, "events", "list", "--db", str(central), "--json",
                               "--node", "garden"], capture_output=True, text=True, env=env)
    assert {json.loads(line)["node"] for line in one_node.stdout.splitlines()} == {"garden"}
    assert len(one_node.stdout.splitlines()) == len(truth)
    export = subprocess.run([*SOUNDWATCH, "events", "export", "--db", str(central),
                             "--format", "jsonl", "--node", "kitchen"],
                            capture_output=True, text=True, env=env)
    assert len(export.stdout.splitlines()) == len(truth) + 1
    typo = subprocess.run([*SOUNDWATCH, "events", "list", "--db", str(central), "--node",
                           "gardn"], capture_output=True, text=True, env=env)
    assert "no event" in typo.stdout and "did you mean 'garden'" in typo.stderr
    own = subprocess.run([*SOUNDWATCH, "events", "list", "--db", str(tmp_path / "garden.sqlite"),
                          "--node", "garden"], capture_output=True, text=True, env=env)
    assert "holds no events from other nodes: only the database of `soundwatch hub`" in own.stderr


def test_events_published_while_the_hub_is_down_reach_it_when_it_is_back(broker, scene,
                                                                         tmp_path):
    model, audio, truth, env = scene
    central = tmp_path / "central.sqlite"
    hub = [*SOUNDWATCH, "hub", "--mqtt", broker.url, "--db", str(central), "--json",
           "--status-interval", "0"]
    first = subprocess.run([*hub, "--duration", "2"], capture_output=True, text=True,
                           timeout=60, env=env)  # subscribes, then goes away
    assert first.returncode == 0, first.stderr
    assert f"hub: connected to the MQTT broker at 127.0.0.1:{broker.port}" in first.stderr
    assert json.loads(first.stdout.splitlines()[-1])["stored"] == 0
    node = subprocess.run([*SOUNDWATCH, "listen", "--headless", "--file", str(audio), "--fast",
                           "--model", str(model), "--mqtt", broker.url, "--node", "shed",
                           "--db", str(tmp_path / "shed.sqlite"), "--status-interval", "0"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert node.returncode == 0, node.stderr
    second = subprocess.run([*hub, "--duration", "4"], capture_output=True, text=True,
                            timeout=60, env=env)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout.splitlines()[-1])
    assert summary["nodes"] == {"shed": len(truth)}  # the broker kept them for the hub
    assert central_count(central) == len(truth)


def test_a_hub_that_never_reaches_its_broker_says_so_and_fails(scene, tmp_path):
    from alert_helpers import free_port

    _, _, _, env = scene
    port = free_port()
    result = subprocess.run([*SOUNDWATCH, "hub", "--mqtt", f"mqtt://127.0.0.1:{port}",
                             "--db", str(tmp_path / "central.sqlite"), "--duration", "1",
                             "--status-interval", "0"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2, result.stderr
    assert "the nodes keep their events in their own outboxes meanwhile" in result.stderr
    assert "outbox meanwhile" not in result.stderr.replace("outboxes meanwhile", "")
    assert "the hub never connected, so it stored nothing: cannot reach the MQTT broker" \
        in result.stderr and "check --mqtt and that the broker runs" in result.stderr


def test_a_hub_whose_login_is_refused_says_so_not_that_the_broker_is_down(scene, tmp_path):
    need_mosquitto()
    _, _, _, env = scene
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "hub", "right"],
                   check=True, capture_output=True)
    secured = Mosquitto(tmp_path, password_file=passwords).start()
    try:
        result = subprocess.run(
            [*SOUNDWATCH, "hub", "--mqtt", f"mqtt://hub:wrong@127.0.0.1:{secured.port}",
             "--db", str(tmp_path / "central.sqlite"), "--duration", "1",
             "--status-interval", "0"], capture_output=True, text=True, timeout=60, env=env)
    finally:
        secured.stop()
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "refused the connection" in last and "check the username and password" in last
    assert "that the broker runs" not in last
