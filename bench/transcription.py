"""How close the transcription features (from audio) come to the symbolic reference (from the MIDI).

Usage: python bench/transcription.py [--store data/stores/percepiano_musescore_tr]

For every segment in the store, each tr_<name> feature (basic-pitch notes found in the rendered
audio, pianokit/transcribe.py) is set against <name> read from the performance MIDI
(pianokit/symbolic.py): Pearson r across segments, overall and within passages (deviations from each
passage's mean, what telling two performances of the same music apart depends on). The closer, the
better the transcription serves. Also times the transcription per second of audio. Prints a table
and writes bench/results/transcription.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pianokit.feature_names import TRANSCRIBED_NOTE_FEATURES
from pianokit.metrics import passage_deviations, pearson
from pianokit.training_data import load_training_data

RESULTS = Path(__file__).parent / "results"


def time_transcription(paths: list[str], count: int = 20) -> float:
    """Seconds of transcription-feature computation per second of audio, over ``count`` files."""
    import soundfile as sf

    from pianokit import transcribe

    spent = audio = 0.0
    for path in paths[:count]:
        y, sr = sf.read(path, dtype="float32")
        start = time.perf_counter()
        transcribe.features(y, sr)
        spent += time.perf_counter() - start
        audio += len(y) / sr
    return spent / audio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/percepiano_musescore_tr"))
    args = parser.parse_args()
    data = load_training_data(args.store, with_mels=False)
    names = list(data.store.config.features)
    if data.symbolic is None or not all(f"tr_{n}" in names for n in TRANSCRIBED_NOTE_FEATURES):
        sys.exit(f"{args.store}: needs transcription features and a manifest with a midi column")
    from pianokit.feature_names import SYMBOLIC_FEATURES

    audio = np.stack([data.features[:, names.index(f"tr_{n}")] for n in TRANSCRIBED_NOTE_FEATURES], axis=1)
    midi = np.stack([data.symbolic[:, SYMBOLIC_FEATURES.index(n)] for n in TRANSCRIBED_NOTE_FEATURES], axis=1)
    overall = pearson(midi, audio)
    centred_midi, centred_audio = passage_deviations(midi, audio, data.passages)
    within = pearson(centred_midi, centred_audio)
    rows = [{"feature": n, "r": round(float(a), 3), "within_passage_r": round(float(w), 3)}
            for n, a, w in zip(TRANSCRIBED_NOTE_FEATURES, overall, within)]
    seconds_per_second = time_transcription(list(data.table["audio"]))
    table = pd.DataFrame(rows)
    text = (f"Store `{args.store}` ({len(data.ids)} segments). Transcription features vs the same features read "
            f"from the MIDI: Pearson r across segments, and within passages.\n\n"
            + table.to_markdown(index=False, floatfmt=".3f")
            + f"\n\nmean r {table['r'].mean():.3f}, mean within-passage r {table['within_passage_r'].mean():.3f}; "
            f"transcription costs {seconds_per_second * 1000:.1f} ms per second of audio on this machine.\n")
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "transcription.json").write_text(json.dumps({
        "command": "python bench/transcription.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "segments": len(data.ids), "per_feature": rows,
        "mean_r": float(table["r"].mean()), "mean_within_passage_r": float(table["within_passage_r"].mean()),
        "seconds_per_audio_second": seconds_per_second,
    }, indent=2) + "\n")
    (RESULTS / "transcription.md").write_text(text)


if __name__ == "__main__":
    main()
