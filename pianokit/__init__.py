"""pianokit: rate piano performances on the 19 PercePiano dimensions from audio.

Python API (scoring needs numpy, librosa, soundfile and onnxruntime only)::

    import pianokit
    rating = pianokit.score("lesson.wav")          # the shipped model
    rating.ratings["timing_stable_unstable"]        # 0-1 (PercePiano's scale: mean rating / 7)

    scorer = pianokit.Scorer("exported_models/default", device="cpu")  # load once, rate many
    for path in paths:
        print(scorer.score_file(path).ratings)

See docs/api.md for the Rating fields.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Rating", "Scorer", "score"]


def score(path, model=None, device: str = "auto"):
    """Rate one recording (any format pianokit reads) with ``model`` (default: the shipped model);
    returns a ``pianokit.scorer.Rating``. Raises ``pianokit.errors.InputError`` for unusable input."""
    from pianokit.scorer import DEFAULT_MODEL, Scorer

    return Scorer(model or DEFAULT_MODEL, device).score_file(path)


def __getattr__(name: str):
    """``pianokit.Scorer`` and ``pianokit.Rating``, imported on first use (the CLI stays instant)."""
    if name in ("Scorer", "Rating"):
        from pianokit import scorer

        return getattr(scorer, name)
    raise AttributeError(f"module 'pianokit' has no attribute {name!r}")
