"""basic-pitch's model as shipped (nmp.onnx) against its phase-packed CPU copy (nmp_cpu.onnx, which
pianokit runs on the CPU): the same outputs on real recordings, and how much faster.

Usage: python bench/phase_packing.py --manifest data/multi_piano_aug0x3_comp0.3.csv [--sample 40]
                                     [--threads 1] [--seed 0] [--out PREFIX]

A seeded sample of the manifest's recordings (a training store's mix of pianos, rooms, noise and
codecs) is transcribed by both models in one process, the same ONNX Runtime settings as an extract
worker (--threads intra-op threads): posteriors compared element by element (bit for bit and the largest
difference), the transcription features too, and each model timed over the whole sample (best of
--repeats passes). Prints a table and writes PREFIX.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from result_files import write_table  # noqa: E402


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", type=Path, required=True, help="a manifest.csv with an audio column")
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from pianokit import transcribe
    from pianokit.manifest import read_manifest

    table = read_manifest(args.manifest, labelled=False)  # audio paths resolved against the manifest's folder
    rows = table.sample(n=min(args.sample, len(table)), random_state=args.seed)
    recordings = []
    for path in rows["audio"]:
        y, sr = sf.read(path, dtype="float32", always_2d=True)
        recordings.append((y.mean(axis=1), sr))
    seconds = sum(len(y) / sr for y, sr in recordings)

    models = {"nmp.onnx (as shipped by basic-pitch)": transcribe.MODEL_PATH,
              "nmp_cpu.onnx (phase-packed)": transcribe.CPU_MODEL_PATH}
    results, outputs = {}, {}
    for label, path in models.items():
        loaded = session(path, args.threads)
        transcribe._session = lambda on_cuda=False, loaded=loaded: loaded
        outputs[label] = [(transcribe.posteriors(y, sr), transcribe.features(y, sr)) for y, sr in recordings]
        best = np.inf
        for _ in range(args.repeats):
            start = time.perf_counter()
            for y, sr in recordings:
                transcribe.posteriors(y, sr)
            best = min(best, time.perf_counter() - start)
        results[label] = {"seconds": round(best, 2), "ms_per_audio_second": round(1000 * best / seconds, 2)}

    (_, original), (_, packed) = outputs.items()
    identical = sum(all(np.array_equal(a[k], b[k]) for k in a) for (a, _), (b, _) in zip(original, packed))
    largest = max(float(np.abs(a[k] - b[k]).max()) for (a, _), (b, _) in zip(original, packed) for k in a)
    features_equal = all(np.array_equal(fa, fb, equal_nan=True) for (_, fa), (_, fb) in zip(original, packed))
    first, second = results.values()
    speedup = first["seconds"] / second["seconds"]
    lines = [f"Transcription model, {len(recordings)} recordings ({seconds:.0f} s of audio) from {args.manifest}, "
             f"{args.threads} intra-op thread(s), best of {args.repeats}",
             "", "| model | seconds | ms per second of audio |", "|---|---|---|"]
    lines += [f"| {label} | {r['seconds']} | {r['ms_per_audio_second']} |" for label, r in results.items()]
    lines += ["", f"Speed-up {speedup:.2f}x. Posteriors bit-identical for {identical} of {len(recordings)} recordings "
              f"(largest difference {largest:.3g}); transcription features {'equal' if features_equal else 'NOT equal'}."]
    write_table(args.out, "phase_packing", lines, {
        "recordings": len(recordings), "audio_seconds": round(seconds, 1), "threads": args.threads,
        "models": results, "speedup": round(speedup, 3), "bit_identical": identical,
        "largest_difference": largest, "features_equal": features_equal})


if __name__ == "__main__":
    main()
