"""pianokit: rate piano performances on the 19 PercePiano dimensions from audio."""

__version__ = "0.1.0"
