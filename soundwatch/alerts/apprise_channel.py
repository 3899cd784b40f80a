"""The Apprise channel: one notification service per URL (ntfy, Gotify, Pushover,
Telegram, Matrix, e-mail, Slack, json:// ...), through the Apprise library."""

from __future__ import annotations

import hashlib
import logging

from soundwatch.alerts.outbox import Channel, ChannelError
from soundwatch.alerts.text import alert_text, start_severity
from soundwatch.errors import SoundwatchError


def apprise_channel_name(url: str) -> str:
    """The outbox channel of an Apprise ``url``: ``apprise:`` and 8 hex digits of its
    SHA-256. It identifies the target across restarts without storing the URL (it may
    hold a token) in the outbox."""
    return "apprise:" + hashlib.sha256(url.encode()).hexdigest()[:8]


def apprise_shown_name(url: str, number: int) -> str:
    """``apprise#2(ntfy)``: how status lines name the ``number``-th configured URL (the
    outbox's hash name says nothing to a user; the URL itself may hold a token)."""
    return f"apprise#{number}({url.split('://', 1)[0]})"


def apprise_shown_names(urls) -> dict[str, str]:
    """Channel name -> :func:`apprise_shown_name` of each of ``urls``."""
    return {apprise_channel_name(url): apprise_shown_name(url, number)
            for number, url in enumerate(urls, 1)}


def apprise_url_descriptions(urls, where: str = "[alerts.apprise] urls") -> dict[str, str]:
    """Channel name -> which of ``urls`` it is, shown without what follows its scheme
    (tokens live there), e.g. "[alerts.apprise] urls #2: ntfy://..."."""
    return {apprise_channel_name(url): f"{where} #{number}: {url.split('://', 1)[0]}://..."
            for number, url in enumerate(urls, 1)}


class AppriseChannel(Channel):
    """Sends each alert as a title and a body to one Apprise ``url``.

    Raises:
        SoundwatchError: Apprise does not understand ``url`` (unknown service or a
            malformed address).
    """

    def __init__(self, url: str, number: int | None = None):
        """``number``: its place among the configured URLs (1 = first), for
        :attr:`shown_name`."""
        import apprise

        self._apprise_module = apprise
        self._apprise = apprise.Apprise()
        if "://" not in url:
            raise SoundwatchError(
                f"an Apprise URL has the form service://... (e.g. ntfy://ntfy.sh/TOPIC); "
                f"{url[:24]!r} has no '://'. Fix it in [alerts.apprise] urls or --apprise; "
                "the URL formats are listed at https://github.com/caronc/apprise/wiki")
        self.scheme = url.split("://", 1)[0]
        # Apprise logs its own "Unparseable URL" error: ours below says it with the fix.
        apprise_log = logging.getLogger("apprise")
        level = apprise_log.level
        apprise_log.setLevel(logging.CRITICAL)
        try:
            added = self._apprise.add(url)
        finally:
            apprise_log.setLevel(level)
        # shown without what follows the scheme: Apprise URLs carry their tokens there
        shown = f"{self.scheme}://... ({apprise_channel_name(url)})"
        if not added:
            why = (f"the address after {self.scheme}:// is incomplete or malformed for that "
                   "service" if self.scheme.lower() in _known_schemes(self._apprise)
                   else f"Apprise knows no service {self.scheme!r}")
            raise SoundwatchError(
                f"Apprise cannot use the URL {shown}: {why}. Fix it in [alerts.apprise] "
                "urls or --apprise; each service's URL format is at "
                "https://github.com/caronc/apprise/wiki"
            )
        # A service that takes topics (ntfy) accepts a URL naming none, then fails every
        # alert ("There are no ntfy topics to notify"): refused now, not after queuing.
        if any(getattr(service, "topics", None) == [] for service in self._apprise):
            raise SoundwatchError(
                f"the Apprise URL {shown} names no topic to notify (e.g. "
                f"{self.scheme}://host/topic). Fix it in [alerts.apprise] urls or --apprise")
        self.name = apprise_channel_name(url)
        self._shown = (apprise_shown_name(url, number) if number
                       else f"{self.name}({self.scheme})")

    @property
    def shown_name(self) -> str:
        """``apprise#2(ntfy)``: the outbox's name is a hash (the URL may hold a token)."""
        return self._shown

    def send(self, kind: str, payload: dict) -> None:
        title, body = alert_text(kind, payload)
        types = self._apprise_module.NotifyType
        notify_type = {"urgent": types.FAILURE, "warning": types.WARNING}.get(
            start_severity(kind, payload), types.INFO)
        messages: list[str] = []
        # Apprise's own log lines would repeat on every retry; its words reach the user
        # once, in the ChannelError (logged when the error changes).
        apprise_log = logging.getLogger("apprise")
        propagate = apprise_log.propagate
        apprise_log.propagate = False  # its capture for log_callback still sees them
        try:
            result = self._apprise.notify(
                body=body, title=title, notify_type=notify_type,
                log_callback=lambda entry, plugin: messages.append(str(
                    getattr(entry, "message", entry))))
        finally:
            apprise_log.propagate = propagate
        if not result:
            raise ChannelError(f"apprise {self.scheme}:// failed: "
                               + ("; ".join(messages[-3:]) or "no reason given"))


def _known_schemes(apprise_object) -> set[str]:
    """The URL schemes of the services this Apprise has (its plugins), lower case."""
    schemes: set[str] = set()
    for service in apprise_object.details(show_disabled=True)["schemas"]:
        for key in ("protocols", "secure_protocols"):
            found = service.get(key) or ()
            schemes.update(s.lower() for s in ((found,) if isinstance(found, str) else found))
    return schemes
