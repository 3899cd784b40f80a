"""Telling people: alert rules, the outbox, and the channels that deliver alerts.

- :mod:`.settings`: the ``[alerts]`` config section (rules, time profiles, channels).
- :mod:`.rules`: which events alert, when (score, duration, cooldown, hours).
- :mod:`.router`: turns monitor events into outbox rows, one per channel.
- :mod:`.outbox`: delivers outbox rows in order per channel, with retries and backoff.
- :mod:`.mqtt`, :mod:`.webhook`, :mod:`.apprise_channel`, :mod:`.desktop`: the channels.
- :mod:`.hub`: stores the events that many nodes publish on one broker.

Nothing here imports Qt; every channel runs headless.
"""
