"""`soundwatch devices`: list input devices, marking the default."""

from __future__ import annotations

import sys

from soundwatch.jsonout import to_json


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("devices", help="list input devices")
    parser.add_argument("--json", action="store_true", help="one JSON object per device")


def run(args) -> int:
    from dataclasses import asdict

    from soundwatch.audio.capture import list_input_devices

    devices = list_input_devices()
    if not devices:  # a script that looks for a microphone learns there is none
        print("soundwatch: no input devices found (is a microphone plugged in? is "
              "PulseAudio running?)", file=sys.stderr)
        return 1
    if args.json:
        for device in devices:
            print(to_json(asdict(device)))
        return 0
    print(f"  {'#':>3}  {'name':<40} {'host API':<12} {'in ch':>5} {'rate Hz':>8}")
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.index:>3}  {d.name[:40]:<40} {d.host_api[:12]:<12} "
              f"{d.max_input_channels:>5} {d.default_sample_rate_hz:>8.0f}")
    print("* = default input. Pick one with --device INDEX or --device NAME-PART.")
    return 0
