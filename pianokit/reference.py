"""Where a rating sits among PercePiano's: the experts' mean ratings of its 1189 labelled segments,
shipped as package data (assets/percepiano_ratings.json, MIT, see assets/percepiano_LICENSE).

Rebuild the asset from a PercePiano folder with ``python -m pianokit.reference PERCEPIANO_DIR``.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import numpy as np

from pianokit.dimensions import DIMENSIONS

ASSET = Path(__file__).resolve().parent / "assets" / "percepiano_ratings.json"


@functools.cache
def _table() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    data = json.loads(ASSET.read_text())
    return {d: (np.asarray(v["values"], float), np.asarray(v["counts"], float)) for d, v in data["ratings"].items()}


def percentile(dimension: str, value: float) -> float | None:
    """Percentile (0-100, mid-rank for ties) of ``value`` (0-1 scale) among PercePiano's mean ratings
    of ``dimension``; None for a dimension PercePiano does not rate."""
    table = _table()
    if dimension not in table:
        return None
    values, counts = table[dimension]
    below = counts[values < value - 1e-9].sum()
    equal = counts[np.abs(values - value) <= 1e-9].sum()
    return float(100.0 * (below + 0.5 * equal) / counts.sum())


def build(percepiano: Path) -> dict:
    """The asset's content from ``percepiano``/labels_mean.json (19 ratings + player per segment)."""
    labels = json.loads((percepiano / "labels_mean.json").read_text())
    ratings = np.array([row[: len(DIMENSIONS)] for row in labels.values()], float)
    out = {}
    for i, dim in enumerate(DIMENSIONS):
        values, counts = np.unique(np.round(ratings[:, i], 6), return_counts=True)
        out[dim] = {"values": values.tolist(), "counts": counts.tolist()}
    return {"source": "PercePiano labels_mean.json: mean expert rating / 7 of each labelled segment",
            "segments": len(labels), "ratings": out}


if __name__ == "__main__":
    ASSET.write_text(json.dumps(build(Path(sys.argv[1])), separators=(",", ":")) + "\n")
    print(f"wrote {ASSET}")
