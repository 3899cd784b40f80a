"""The one exception type the app shows to a user.

Every message names the problem and the fix, e.g. "unknown input device 'usb': no
device name contains it; devices are: 0 'pulse', 1 'default'. Run `soundwatch devices`."
The CLI prints it without a traceback and exits with status 2.
"""


class SoundwatchError(Exception):
    """A user-facing error: bad input, bad config, a device or file problem.

    ``in_window``: the same problem in the window's words, where the way out there is
    another (its own buttons, not a command line); the window shows it instead.
    """

    def __init__(self, message: str = "", *, in_window: str | None = None):
        super().__init__(message)
        self.in_window = in_window
