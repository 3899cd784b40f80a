"""The one exception type the app shows to a user.

Every message names the problem and the fix, e.g. "unknown input device 'usb': no
device name contains it; devices are: 0 'pulse', 1 'default'. Run `soundwatch devices`."
The CLI prints it without a traceback and exits with status 2.
"""


class SoundwatchError(Exception):
    """A user-facing error: bad input, bad config, a device or file problem."""


class NoInputDeviceError(SoundwatchError):
    """No input device at all. ``str()`` names the command-line way out; the window,
    which has its own Replay button, shows :attr:`in_window` instead."""

    def __init__(self, message: str, in_window: str):
        super().__init__(message)
        self.in_window = in_window
