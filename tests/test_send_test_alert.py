"""`soundwatch send-test-alert`: one test alert through each configured channel, each
reported, against a real Mosquitto broker and a local HTTP server (webhook and Apprise's
json://)."""

from __future__ import annotations

import pytest
from alert_helpers import Mosquitto, MqttRecorder, WebhookServer, free_port, need_mosquitto
from conftest import wait_until

from soundwatch.cli import main


@pytest.fixture
def webhook():
    server = WebhookServer()
    yield server
    server.close()


def test_every_channel_gets_the_test_and_says_delivered(tmp_path, webhook, capsys):
    need_mosquitto()
    broker = Mosquitto(tmp_path).start()
    recorder = MqttRecorder(broker.port, ["soundwatch/#"])
    try:
        code = main(["send-test-alert", "--node", "hall", "--mqtt", broker.url,
                     "--webhook", webhook.url("/hook"),
                     "--apprise", webhook.url("/apprise").replace("http://", "json://")])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "mqtt: delivered" in out and "webhook: delivered" in out
        assert "apprise:" in out and "FAILED" not in out
        hook = webhook.bodies("/hook")[0]
        assert hook["test"] is True and hook["node"] == "hall"
        assert hook["type"] == "event_started" and hook["severity"] == "urgent"
        push = webhook.bodies("/apprise")[0]
        assert push["title"] == "URGENT: test alert (hall)" and "a test sent at" in push["message"]
        assert wait_until(lambda: recorder.json_on("soundwatch/hall/test"), timeout_s=5)
        assert recorder.on("soundwatch/hall/event") == []  # no automation fires on a test
    finally:
        recorder.close()
        broker.stop()


def test_a_channel_that_fails_is_named_with_its_reason_and_the_others_still_go(
        webhook, capsys):
    down = f"http://127.0.0.1:{free_port()}/hook"
    code = main(["send-test-alert", "--webhook", down, "--mqtt",
                 f"mqtt://127.0.0.1:{free_port()}", "--apprise",
                 webhook.url("/apprise").replace("http://", "json://"), "--severity", "info"])
    out = capsys.readouterr().out
    assert code == 1
    assert "webhook: FAILED: webhook http://127.0.0.1" in out and "unreachable" in out
    assert "mqtt: FAILED: cannot reach the MQTT broker at 127.0.0.1" in out
    assert "delivered" in out  # Apprise
    assert webhook.bodies("/apprise")[0]["title"].startswith("test alert (")  # info: no prefix


def test_with_no_channel_it_says_how_to_configure_one(capsys):
    assert main(["send-test-alert"]) == 2
    err = capsys.readouterr().err
    assert "no alert channel is configured" in err and "--apprise" in err
