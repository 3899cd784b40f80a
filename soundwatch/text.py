"""Untrusted text (labels from a model file, paths and labels from a database) made safe
to print: nothing it holds can move the cursor, clear the screen or forge a line."""

from __future__ import annotations


def printable(text: object) -> str:
    """``text`` with every non-printable character (controls, escapes, newlines, and
    Unicode format characters such as bidi overrides) written as a Python escape,
    e.g. ``"dog\\x1b[2J"`` -> ``dog\\x1b[2J`` shown literally."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
