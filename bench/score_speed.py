"""Time the ONNX scorer: cold `pianokit score` on one 20 s file, batch throughput, ONNX vs Keras.

Batch throughput is `pianokit score FOLDER --jobs N` on 100 renders, start-up included.

Usage: python bench/score_speed.py [--model exported_models/default] [--audio data/percepiano/audio]
                                  [--out bench/results/score_speed.json]
Prints a table and writes a JSON (default: a new bench/results/score_speed-<time>.json). The ONNX vs
Keras comparison needs the [train] extra and the Keras model the ONNX file was exported from (its
metadata names it); without them it is skipped and the JSON says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

RESULTS = Path(__file__).parent / "results"


def twenty_second_file(audio_dir: Path, tmp: Path) -> Path:
    """The first render of at least 20 s, cut to exactly 20 s."""
    for f in sorted(audio_dir.glob("*.wav")):
        if sf.info(f).duration >= 20:
            y, sr = sf.read(f)
            out = tmp / "twenty.wav"
            sf.write(out, y[: 20 * sr], sr)
            return out
    sys.exit(f"no render of 20 s or more in {audio_dir}")


def cold_runs(model: Path, wav: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pianokit", "score", str(wav), "--model", str(model), "--format", "csv",
                        "--device", "cpu"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("exported_models/default"))
    parser.add_argument("--audio", type=Path, default=Path("data/percepiano/audio"))
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or RESULTS / f"score_speed-{time.strftime('%Y%m%d-%H%M%S')}.json"

    from pianokit.scorer import Scorer

    with tempfile.TemporaryDirectory() as tmp:
        wav = twenty_second_file(args.audio, Path(tmp))
        cold = cold_runs(args.model, wav, args.repeats)

    scorer = Scorer(args.model, "cpu")
    files = sorted(args.audio.glob("*.wav"))[: args.files]
    audio_s = sum(sf.info(f).duration for f in files)
    batch = {}
    with tempfile.TemporaryDirectory() as tmp:
        for f in files:
            os.symlink(f.resolve(), Path(tmp) / f.name)
        for jobs in (1, 2):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pianokit", "score", tmp, "--model", str(args.model), "--format",
                            "csv", "--device", "cpu", "--jobs", str(jobs), "--no-progress"], check=True,
                           capture_output=True)
            wall = time.perf_counter() - start
            batch[f"jobs_{jobs}"] = {"wall_s": round(wall, 2), "x_realtime": round(audio_s / wall, 1)}

    result = {
        "command": "python bench/score_speed.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "model": {"path": str(args.model), "architecture": scorer.metadata.architecture},
        "cold_20s_file_s": {"median": round(statistics.median(cold), 3), "runs": [round(t, 3) for t in cold]},
        "batch": {"files": len(files), "audio_s": round(audio_s, 1), **batch},
        "targets": {"cold_s": "< 2", "batch_x_realtime": ">= 200", "onnx_vs_keras": ">= 5x"},
    }
    source = Path(scorer.metadata.extra["source_model"])
    if source.is_file():
        result["model_only_per_file_ms"] = model_only(scorer, source, files[:20])
    else:
        result["model_only_per_file_ms"] = f"skipped: {source} (the Keras model) is not here"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"cold `pianokit score` on a 20 s file : {result['cold_20s_file_s']['median']:.2f} s (median of {len(cold)})")
    for jobs in (1, 2):
        b = batch[f"jobs_{jobs}"]
        print(f"batch, {len(files)} files, {jobs} job(s)      : {b['x_realtime']:.0f}x real time "
              f"({b['wall_s']:.1f} s for {audio_s:.0f} s of audio, one process)")
    m = result["model_only_per_file_ms"]
    if isinstance(m, dict):
        print(f"model only, per file            : ONNX {m['onnxruntime']:.2f} ms, Keras predict {m['keras_predict']:.1f} ms "
              f"({m['speedup_vs_predict']:.0f}x), Keras call {m['keras_call']:.1f} ms ({m['speedup_vs_call']:.0f}x)")
    else:
        print(f"model only, per file            : {m}")
    print(f"wrote {out}")


def model_only(scorer, source: Path, files: list[Path]) -> dict:
    """Per file: the same prepared inputs through ONNX Runtime and through the Keras model."""
    from pianokit.audio import load_audio
    from pianokit.export import load_keras_model, with_frozen_backbone
    from pianokit.models.spec import ModelSpec

    spec = ModelSpec.from_dict(json.loads((source.parent / "spec.json").read_text()))
    keras_model = with_frozen_backbone(load_keras_model(source), spec)
    prepared = [scorer.inputs_for(load_audio(f, scorer.config.sample_rate)) for f in files]
    for inputs in prepared[:2]:
        scorer.session.run(None, inputs)
        keras_model.predict(inputs, verbose=0)

    def per_file(run) -> float:
        start = time.perf_counter()
        for inputs in prepared:
            run(inputs)
        return (time.perf_counter() - start) / len(prepared)

    onnx_s = per_file(lambda x: scorer.session.run(None, x))
    keras_predict_s = per_file(lambda x: keras_model.predict(x, verbose=0))
    keras_call_s = per_file(lambda x: keras_model(x, training=False))
    return {"onnxruntime": round(onnx_s * 1e3, 3), "keras_predict": round(keras_predict_s * 1e3, 3),
            "keras_call": round(keras_call_s * 1e3, 3), "speedup_vs_predict": round(keras_predict_s / onnx_s, 1),
            "speedup_vs_call": round(keras_call_s / onnx_s, 1)}


if __name__ == "__main__":
    main()
