"""`soundwatch gui` (also plain `soundwatch`): the window on a microphone or a replayed file."""

from __future__ import annotations

import argparse
from pathlib import Path

from soundwatch.window_flags import WindowFlags


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "gui", help="open the window (the default): live spectrogram, class confidences, events"
    )
    parser.add_argument("--device", help="input device index or name part (see `devices`); "
                        "default: the one picked last in the window, else the default input")
    parser.add_argument("--file", help="replay this audio file (in real time) instead")
    parser.add_argument("--fast", action="store_true",
                        help="with --file: replay as fast as possible")
    parser.add_argument("--model", help="ONNX model file (default: the shipped model)")
    parser.add_argument("--config", help="settings file (default: the user config file)")
    parser.add_argument("--db", help="event database (default: in the user data folder)")
    parser.add_argument("--spectrogram-s", type=float, default=WindowFlags.spectrogram_s,
                        help="seconds of spectrogram shown (default %(default)g; the "
                        "timeline lines up under it while both show the same seconds)")
    parser.add_argument("--timeline-s", type=float, default=WindowFlags.timeline_s,
                        help="seconds of class confidences shown (default %(default)g)")
    parser.add_argument("--fps", type=float, default=WindowFlags.fps,
                        help="redraw rate (default %(default)g)")
    parser.add_argument("--no-alerts", action="store_true",
                        help="send no alert from this window (a trial replay), whatever "
                        "[alerts] in the config file says")
    parser.add_argument("--screenshot", metavar="PATH",
                        help="save a PNG of the window just before it closes")
    parser.add_argument("--screenshot-info", metavar="JSON", help=argparse.SUPPRESS)
    parser.add_argument("--quit-after", type=float, metavar="S",
                        help="close the window after S seconds, or as soon as a replayed "
                             "--file has ended (default with --screenshot: 6)")


def run(args) -> int:
    from soundwatch.config import check_flags

    check_flags(WindowFlags(args.spectrogram_s, args.timeline_s, args.fps, args.quit_after))
    if args.device is not None and args.file is not None:
        from soundwatch.errors import SoundwatchError

        raise SoundwatchError(f"--device {args.device} and --file: a replay hears the file, "
                              "not a device; give one of them (the toolbar switches between "
                              "them while the window is open)")
    if args.file is not None and not Path(args.file).is_file():
        from soundwatch.errors import SoundwatchError

        # refused before a window opens, as `listen --file` does: a script (--screenshot)
        # can tell from the exit status
        raise SoundwatchError(f"no such audio file: {args.file}")
    from soundwatch.gui.app import run_app

    return run_app(args)
