"""Training row orders that keep several recordings of one segment in the same batch."""

from __future__ import annotations

import numpy as np
import pandas as pd

CONSISTENCY_GROUP = 4


def grouped_order(groups: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random order of ``range(len(groups))`` made of runs of up to ``size`` rows of one group: each
    group's rows are shuffled and cut into runs, and the runs are shuffled."""
    codes = pd.factorize(pd.Series(groups))[0]
    by_group = np.argsort(codes, kind="stable")
    runs = []
    for rows in np.split(by_group, np.flatnonzero(np.diff(codes[by_group])) + 1):
        rows = rng.permutation(rows)
        runs += [rows[i:i + size] for i in range(0, len(rows), size)]
    return np.concatenate([runs[i] for i in rng.permutation(len(runs))]) if len(groups) else np.zeros(0, np.int64)
