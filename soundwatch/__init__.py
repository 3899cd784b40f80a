"""soundwatch: listens to a microphone and says, in real time, which sounds it hears."""

__version__ = "0.1.0"
