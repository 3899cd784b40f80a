"""Mono from several channels: their average, unless averaging loses the sound.

Channels that cancel (one wired in reverse polarity) or hide each other (one live
microphone among silent ones) lose most of their energy when averaged. Comparing the
mix's energy with the loudest channel's tells: when the mix keeps less than
``DOWNMIX_LOSS_LIMIT_DB`` below it, the loudest channel is used alone. Ordinary stereo
loses 0-3 dB, one live channel of two 6 dB.
"""

from __future__ import annotations

import numpy as np

DOWNMIX_LOSS_LIMIT_DB = 10.0


def downmix_loss_db(channel_energy: np.ndarray, mix_energy: float) -> float:
    """How far the mix's energy falls below the loudest channel's, in dB (0: silence)."""
    loudest = float(np.max(channel_energy))
    if not (np.isfinite(loudest) and np.isfinite(mix_energy)) or loudest <= 0.0:
        return 0.0  # silence, or samples that were not numbers: nothing to judge
    return 10.0 * float(np.log10(loudest / max(mix_energy, loudest * 1e-30)))


TOTAL_LOSS_DB = 60.0  # a loss beyond this is said as cancelling out, not in dB


def downmix_loss_text(channel_energy: np.ndarray, mix_energy: float) -> str:
    """What averaging the channels does, in words: "loses 12 dB of the loudest channel's
    energy", or, past TOTAL_LOSS_DB (an inverted copy: 300 dB was printed), "cancels the
    sound out (one channel is the other inverted)"."""
    loss_db = downmix_loss_db(channel_energy, mix_energy)
    if loss_db > TOTAL_LOSS_DB:
        return "cancels the sound out (one channel is the other inverted)"
    return f"loses {loss_db:.0f} dB of the loudest channel's energy"


def channel_to_use(channel_energy: np.ndarray, mix_energy: float) -> int | None:
    """The channel to use alone (0-based), or None when the average keeps the sound.

    Args:
        channel_energy: (n_channels,) summed squares of each channel over the same span.
        mix_energy: summed squares of the channels' average over that span.
    """
    if len(channel_energy) < 2 or downmix_loss_db(channel_energy, mix_energy) <= \
            DOWNMIX_LOSS_LIMIT_DB:
        return None
    return int(np.argmax(channel_energy))
