"""The webhook channel: one JSON POST per alert (the router's payload), 2xx = delivered."""

from __future__ import annotations

import urllib.error
import urllib.request

from soundwatch import __version__
from soundwatch.alerts.outbox import Channel, ChannelError
from soundwatch.jsonout import to_json


class WebhookChannel(Channel):
    """POSTs each payload as JSON to ``url``.

    Args:
        url: http:// or https:// address.
        bearer_token: sent as ``Authorization: Bearer <token>`` when given.
        timeout_s: connect and read timeout of one POST.
    """

    name = "webhook"

    def __init__(self, url: str, bearer_token: str | None = None, timeout_s: float = 5.0):
        self.url = url
        self.bearer_token = bearer_token
        self.timeout_s = timeout_s

    def send(self, kind: str, payload: dict) -> None:
        headers = {"Content-Type": "application/json",
                   "User-Agent": f"soundwatch/{__version__}"}
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        request = urllib.request.Request(self.url, data=to_json(payload).encode(),
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise ChannelError(f"webhook {self.url} answered HTTP {exc.code} {exc.reason}"
                               + (" (check bearer_token)" if exc.code in (401, 403) else "")
                               ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ChannelError(f"webhook {self.url} unreachable: {reason}") from exc
