"""The alert flags `listen` and `send-test-alert` share: defined once, applied once.

Cheap to import: ``soundwatch --help`` builds every parser.
"""

from __future__ import annotations

import argparse
from dataclasses import replace


def add_alert_arguments(group) -> None:
    """Add --node/--mqtt/--webhook/--webhook-token/--apprise/--notify-desktop to an
    argparse parser or argument group."""
    group.add_argument("--node", help="this listener's name in alerts and MQTT topics "
                       "(default: the host name)")
    group.add_argument("--mqtt", metavar="URL", help="publish events, states, the level and "
                       "Home Assistant discovery to this broker: mqtt://[user:pass@]host[:port]")
    group.add_argument("--webhook", metavar="URL", help="POST each alert as JSON here")
    group.add_argument("--webhook-token", metavar="TOKEN",
                       help="send 'Authorization: Bearer TOKEN' with each webhook")
    group.add_argument("--apprise", action="append", metavar="URL",
                       help="notify this Apprise URL (ntfy://, gotify://, tgram://, json:// "
                       "...); repeat for more")
    group.add_argument("--notify-desktop", action=argparse.BooleanOptionalAction, default=None,
                       help="desktop notifications (needs a D-Bus session bus)")


def alerts_with_flags(alerts, args):
    """``alerts`` (AlertSettings) with the alert flags of ``args`` on top (checked with
    the other settings by the caller)."""
    if args.node:
        alerts = replace(alerts, node=args.node)
    if args.mqtt:
        alerts = replace(alerts, mqtt=replace(alerts.mqtt, url=args.mqtt))
    if args.webhook or args.webhook_token:
        alerts = replace(alerts, webhook=replace(
            alerts.webhook, url=args.webhook or alerts.webhook.url,
            bearer_token=args.webhook_token or alerts.webhook.bearer_token))
    if args.apprise:
        alerts = replace(alerts, apprise=replace(
            alerts.apprise, urls=tuple(alerts.apprise.urls) + tuple(args.apprise)))
    if args.notify_desktop is not None:
        alerts = replace(alerts, desktop=replace(alerts.desktop, enabled=args.notify_desktop))
    return alerts

