"""Corrections that stick: the user says an event was right (confirm), a false alarm
(reject, "not this"), another sound (relabel, "it was ..."), or marks a sound the
detector missed. Each is a row of the event database (:mod:`.record`) with its audio
kept as an example (:mod:`.examples`); the model's own labels learn a per-place
threshold from them (:mod:`.thresholds`: raised by rejected events, lowered by missed ones,
whose score over the marked range :mod:`.missed` measures), the user's own sounds are
retrained from them (:mod:`soundwatch.sounds.retrain`)."""
