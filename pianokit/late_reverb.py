"""Faster, bit-identical stand-ins for the two pure-Python loops of pyroomacoustics 0.10's ray-traced
reverberant tail (pyroomacoustics.simulation.rt), which were a third of `dataset augment`'s time.

- ``poisson_sequence``: the same recurrence over the same uniform draws, drawn in blocks (the
  generator is rewound to exactly the draws used, so later draws are unchanged) and stepped with
  scalar arithmetic of the same types instead of three numpy calls per event.
- ``directional_sequence``: the overlap-add of the deltas' responses with ``np.add.at`` in delta order
  (the same additions in the same order as the library's loop, which is marked "TODO: vectorize").

``faster()`` swaps them in for pyroomacoustics 0.10 only; with another version the library's own run.
tests/test_conditions.py checks that room impulse responses are equal to the library's, bit for bit.
"""

from __future__ import annotations

import contextlib

import numpy as np

BLOCK = 4096


def poisson_sequence(volume, duration, c, max_rate=10000, t0=None):
    """pyroomacoustics.simulation.rt.poisson_sequence, same arguments and result."""
    from pyroomacoustics import random

    rng = random.get_rng()
    fpcv = 4 * np.pi * c**3 / volume
    if t0 is None:
        t0 = ((2 * np.log(2)) / fpcv) ** (1.0 / 3.0)
    times = [t0]
    end = t0 + duration
    while times[-1] < end:
        state = rng.bit_generator.state
        logs = np.log(1 / rng.uniform(size=BLOCK))  # numpy scalars, not floats: they set the result types
        used = 0
        last = times[-1]
        for log in logs:
            if not last < end:
                break
            last = last + log / min(fpcv * (t0 + last) ** 2, max_rate)
            times.append(last)
            used += 1
        if used < BLOCK:
            rng.bit_generator.state = state
            rng.uniform(size=used)
    return t0, np.array(times)


def directional_sequence(t0, times, response, hist, hist_bin_size, fs):
    """pyroomacoustics.simulation.rt.directional_sequence, same arguments and result."""
    from pyroomacoustics import random
    from pyroomacoustics.simulation.rt import binary_sequence, seq_rolling_power

    rng = random.get_rng()
    seq_bp = binary_sequence(times, fs)
    seq_power = seq_rolling_power(seq_bp, int(hist_bin_size * fs), filter_length_mult=2)
    nonzero = seq_power > 1e-10
    seq_power_norm = np.where(nonzero, 1.0 / np.where(nonzero, seq_power, 1.0), 0.0)
    indices = (times * fs).astype(np.int64)
    bins = np.minimum(np.floor((times - t0) / hist_bin_size).astype(np.int64), hist.shape[-1] - 1)
    cumul_hist = np.cumsum(hist, axis=0)
    cumul_uniform = np.cumsum(np.ones((cumul_hist.shape[0], 1)), axis=0)
    mask = cumul_hist[[-1], :] > 1e-10
    denom = np.where(mask, cumul_hist[[-1], :], cumul_uniform[[-1], :])
    cdf = np.where(mask, cumul_hist, cumul_uniform) / denom
    z = rng.uniform(size=bins.shape[0])
    chosen_response = response[np.sum(z[None, :] > cdf[:, bins], axis=0), :]
    signs = rng.choice([1, -1], size=len(indices))
    taps = response.shape[1]
    seq = np.zeros(indices[-1] + taps + 1)
    values = signs[:, None] * chosen_response * np.sqrt(seq_power_norm[indices])[:, None]
    np.add.at(seq, (indices[:, None] + np.arange(taps)).ravel(), values.ravel())
    return seq


@contextlib.contextmanager
def faster():
    """Within the block, pyroomacoustics 0.10 builds reverberant tails with the functions above."""
    import pyroomacoustics
    from pyroomacoustics.simulation import rt

    if not pyroomacoustics.__version__.startswith("0.10."):
        yield
        return
    saved = rt.poisson_sequence, rt.directional_sequence
    rt.poisson_sequence, rt.directional_sequence = poisson_sequence, directional_sequence
    try:
        yield
    finally:
        rt.poisson_sequence, rt.directional_sequence = saved
