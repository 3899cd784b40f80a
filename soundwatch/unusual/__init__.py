"""Unusual sounds: a profile of what this place normally sounds like, learnt continuously
from the model's embedding (:mod:`.profile`), and an ``unusual`` label scored beside the
model's labels when a window is far from that profile and no label explains it
(:mod:`.apply`). Settings: :mod:`.settings`. Numpy only; no Qt.
"""
