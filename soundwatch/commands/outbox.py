"""`soundwatch events outbox`: the alerts waiting to go out, per channel, and a way to drop
those of a channel that is no longer configured (an Apprise URL corrected since).

    soundwatch events outbox
    soundwatch events outbox --drop apprise:d8b499eb
"""

from __future__ import annotations

from soundwatch.command import command_name

# The `listen` flag that configures each kind of channel for one run.
CHANNEL_FLAGS = {"mqtt": "--mqtt", "webhook": "--webhook", "apprise": "--apprise",
                 "desktop": "--notify-desktop"}


def add_parser(actions) -> None:
    """Add the ``outbox`` action to `events`' subparsers."""
    sub = actions.add_parser("outbox", help="alerts waiting to be delivered, per channel",
                             description="Alerts waiting to be delivered, per channel; "
                             "--drop deletes the waiting ones of a channel.")
    sub.add_argument("--drop", metavar="CHANNEL",
                     help="delete CHANNEL's undelivered alerts (a channel no longer "
                     "configured; a configured one is refused)")
    sub.add_argument("--json", action="store_true", help="one JSON object per channel")
    sub.add_argument("--db", help="event database (default: events.sqlite in the user data "
                     "dir, or [store] database in the config)")
    sub.add_argument("--config", help="TOML settings file (database path, [alerts])")


def run(args, path, settings) -> int:
    """List the outbox of the database at ``path``, or drop a channel's waiting rows."""
    from soundwatch.alerts.apprise_channel import apprise_shown_names
    from soundwatch.alerts.service import configured_channels
    from soundwatch.errors import SoundwatchError
    from soundwatch.jsonout import to_json
    from soundwatch.store import EventStore

    configured = set(configured_channels(settings.alerts))
    shown = apprise_shown_names(settings.alerts.apprise.urls)
    if args.drop in shown.values():  # the name status lines give it
        args.drop = next(name for name, text in shown.items() if text == args.drop)
    with EventStore(path, read_only=not args.drop) as store:
        status = store.outbox_status()
        if args.drop:
            if args.drop in configured:
                named = (f"{shown[args.drop]} ({args.drop})" if args.drop in shown
                         else args.drop)
                raise SoundwatchError(f"{named} is configured now: its alerts go out while "
                                      "soundwatch runs; take it out of [alerts] first")
            if not status.get(args.drop, {}).get("pending"):
                raise SoundwatchError(
                    f"no alerts wait for channel {args.drop!r}; channels with waiting "
                    "alerts: " + (", ".join(n for n, i in status.items() if i["pending"])
                                  or "none"))
            print(f"dropped {store.outbox_drop(args.drop)} alert(s) waiting for {args.drop}")
            return 0
    if args.json:
        for name, info in status.items():
            print(to_json({"channel": name, **info, "configured": name in configured}))
        return 0
    if not status:
        print("the outbox is empty: no alert waits in this database (delivered ones are "
              "kept a while, dropped ones not)")
        return 0
    print(f"{'channel':<20} {'waiting':>7} {'delivered':>9}  last error")
    waiting_elsewhere = []
    from soundwatch.alerts.apprise_channel import apprise_url_descriptions

    described = apprise_url_descriptions(settings.alerts.apprise.urls)
    for name, info in status.items():
        note = f"  ({shown[name]}: {described[name]})" if name in described else ""
        if name not in configured:
            note = ("  (not in the settings file)" if args.config else
                    "  (not in the default settings file: pass --config if the run used "
                    "another)")
            if info["pending"]:
                waiting_elsewhere.append(name)
        print(f"{name:<20} {info['pending']:>7} {info['delivered']:>9}  "
              f"{info['last_error'] or '-'}{note}")
    import shlex

    config = f" --config {shlex.quote(str(args.config))}" if args.config else ""
    for name in waiting_elsewhere:
        kind = name.split(":")[0]
        print(f"{name}'s waiting alerts go out with the next run that has it, from the "
              f"settings file or its flag ({CHANNEL_FLAGS.get(kind, '--' + kind)} ...); to "
              f"give them up: `{command_name()} events outbox --drop {name}{store.db_flag}"
              f"{config}`")
    return 0

