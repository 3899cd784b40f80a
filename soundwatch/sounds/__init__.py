"""The user's own sounds: a small head on the model's embedding per sound, learnt from a
few examples (:mod:`.learn`), kept in a versioned file (:mod:`.library`) and scored beside
the model's labels (:mod:`.apply`)."""
