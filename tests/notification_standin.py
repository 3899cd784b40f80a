"""A stand-in for the freedesktop notification service, for tests.

Run inside a D-Bus session (dbus-run-session): owns org.freedesktop.Notifications,
answers Notify with a new id and appends each call's (app, summary, body, hints) as one
JSON line to OUT; creates READY once it owns the name. Exits after LIFETIME_S.

    python notification_standin.py OUT READY
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

LIFETIME_S = 120.0


def main(out: Path, ready: Path) -> None:
    connection = open_dbus_connection(bus="SESSION")
    reply = connection.send_and_get_reply(
        message_bus.RequestName("org.freedesktop.Notifications", 4))  # 4: do not queue
    if reply.body[0] != 1:
        sys.exit("could not own org.freedesktop.Notifications")
    ready.touch()
    deadline = time.monotonic() + LIFETIME_S
    count = 0
    while time.monotonic() < deadline:
        try:
            message = connection.receive(timeout=1.0)
        except TimeoutError:
            continue
        if message.header.message_type != MessageType.method_call:
            continue
        member = message.header.fields.get(HeaderFields.member)
        if member == "Notify":
            count += 1
            app, _, _, summary, body, _, hints, _ = message.body
            with open(out, "a", encoding="utf-8") as file:
                file.write(json.dumps({"app": app, "summary": summary, "body": body,
                                       "urgency": hints.get("urgency", (None, None))[1]})
                           + "\n")
            connection.send(new_method_return(message, "u", (count,)))
        else:
            connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
