"""Labels the shipped model takes from YAMNet's AudioSet head, and how they are named.

The project head (trained here on ESC-50, speech and music) keeps its own labels; the
AudioSet head adds the sounds a home needs that ESC-50 lacks. A home label's score is the
highest score among its AudioSet classes. Where ESC-50 already has the sound (dog, crying
baby, glass breaking, car horn, clock alarm, knock), the fine-tuned project label is kept
and no AudioSet twin is added, so every sound has one name.

``PROXY_LABELS`` pairs ESC-50 labels with their AudioSet classes. Training data exists for
them, so they measure how YAMNet's scores for a sound relate to our detector's thresholds
(see :func:`soundwatch.train.pretrained.calibrate_home_offset`), a stand-in for the home
sounds that no dataset here holds.
"""

from __future__ import annotations

from soundwatch.errors import SoundwatchError

# label -> AudioSet display names (yamnet_class_map.csv), all on the AudioSet ontology.
HOME_LABELS: dict[str, tuple[str, ...]] = {
    "smoke_alarm": ("Smoke detector, smoke alarm",),
    "fire_alarm": ("Fire alarm",),
    "doorbell": ("Doorbell", "Ding-dong"),
    "telephone_ring": ("Telephone bell ringing", "Ringtone"),
    "beep": ("Beep, bleep",),
    "buzzer": ("Buzzer",),
    "car_alarm": ("Car alarm",),
    "shouting": ("Shout", "Yell", "Children shouting"),
    "screaming": ("Screaming",),
    "door_slam": ("Slam",),
    "drawer": ("Drawer open or close",),
    "keys_jangling": ("Keys jangling",),
    "water_tap": ("Water tap, faucet", "Sink (filling or washing)"),
    "microwave_oven": ("Microwave oven",),
    "gunshot": ("Gunshot, gunfire",),
    "throat_clearing": ("Throat clearing",),
}

# ESC-50 label -> its AudioSet classes (for calibration only; these labels stay the
# project head's).
PROXY_LABELS: dict[str, tuple[str, ...]] = {
    "dog": ("Dog", "Bark"),
    "cat": ("Cat", "Meow"),
    "crying_baby": ("Baby cry, infant cry",),
    "siren": ("Siren", "Police car (siren)", "Ambulance (siren)",
              "Fire engine, fire truck (siren)", "Civil defense siren"),
    "car_horn": ("Vehicle horn, car horn, honking",),
    "door_wood_knock": ("Knock",),
    "glass_breaking": ("Shatter",),
    "clock_alarm": ("Alarm clock",),
    "coughing": ("Cough",),
    "laughing": ("Laughter",),
    "sneezing": ("Sneeze",),
    "snoring": ("Snoring",),
    "toilet_flush": ("Toilet flush",),
    "vacuum_cleaner": ("Vacuum cleaner",),
    "chainsaw": ("Chainsaw",),
    "rooster": ("Chicken, rooster",),
}


def class_indices(groups: dict[str, tuple[str, ...]], class_names: list[str]
                  ) -> dict[str, list[int]]:
    """label -> indices of its AudioSet classes in ``class_names`` (YAMNet's 521).

    Raises:
        SoundwatchError: a class name is not in ``class_names`` (names the label and the
            missing class).
    """
    position = {name: i for i, name in enumerate(class_names)}
    out = {}
    for label, names in groups.items():
        missing = [n for n in names if n not in position]
        if missing:
            raise SoundwatchError(f"home label {label!r}: AudioSet classes {missing} are not "
                                  "in the YAMNet class map")
        out[label] = [position[n] for n in names]
    return out
