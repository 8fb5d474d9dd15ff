"""Check `pianokit score` on an NVIDIA GPU: does the CUDA provider start, rate as the CPU does, and how fast?

Usage: python bench/score_gpu.py [--model exported_models/default] [--audio DIR] [--files 40]
                                 [--out bench/results/score_gpu.json]
Needs onnxruntime-gpu with the CUDA libraries it was built for. For each recording: ratings through the
CPU and the CUDA scorers (largest difference on the 1-7 scale, end to end and for the model alone on the
same inputs), seconds per recording end to end (`Scorer.score_file`), the model alone on prepared
inputs, and the basic-pitch transcription model, on each provider; and the same with CUDA sessions as
onnxruntime makes them by default. Where CUDA does not start, the JSON says why.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def gpu_name() -> str:
    if not shutil.which("nvidia-smi"):
        return "no nvidia-smi"
    out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()


def per_item_s(run, items, repeats: int = 3) -> float:
    """Best of ``repeats`` passes over ``items`` (after one warm-up item), seconds per item."""
    run(items[0])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for item in items:
            run(item)
        best = min(best, (time.perf_counter() - start) / len(items))
    return best


def plain_cuda(path):
    """A CUDA session as pianokit made it before bench/results/score_gpu.md: onnxruntime's defaults."""
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])


def write(result: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("exported_models/default"))
    parser.add_argument("--audio", type=Path, default=Path("data/percepiano_musescore/audio"))
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--out", type=Path, default=RESULTS / "score_gpu.json")
    args = parser.parse_args()

    import onnxruntime as ort

    from pianokit import transcribe
    from pianokit.audio import load_audio
    from pianokit.errors import InputError
    from pianokit.metadata import model_paths
    from pianokit.scorer import Scorer

    result = {"command": "python bench/score_gpu.py " + " ".join(sys.argv[1:]),
              "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                          "gpu": gpu_name()},
              "onnxruntime": ort.__version__, "available_providers": ort.get_available_providers()}
    files = sorted(f for f in args.audio.iterdir() if f.suffix in (".wav", ".flac"))[: args.files]
    try:
        gpu = Scorer(args.model, "cuda")
        result["cuda"] = "started"
    except InputError as exc:
        result["cuda"] = f"did not start: {exc}"
        print(json.dumps(result, indent=2))
        return write(result, args.out)
    cpu = Scorer(args.model, "cpu")
    result["providers"] = {"cpu": cpu.session.get_providers(), "cuda": gpu.session.get_providers()}

    prepared = [cpu.inputs_for(load_audio(f, cpu.config.sample_rate)) for f in files]
    audio = [load_audio(f, transcribe.SAMPLE_RATE) for f in files]
    model_diff = max(6 * float(np.abs(cpu.run(x)[0] - gpu.run(x)[0]).max()) for x in prepared)
    post = {}
    for on_cuda in (False, True):
        transcribe.run_on_cuda(on_cuda)
        post[on_cuda] = [transcribe.posteriors(y) for y in audio]
    post_diff = max(float(np.abs(p[k] - q[k]).max()) for p, q in zip(post[False], post[True]) for k in p)
    diffs = []
    for f in files:
        a, b = cpu.score_file(f), gpu.score_file(f)
        diffs.append(6 * max(abs(a.ratings[k] - b.ratings[k]) for k in a.ratings))

    def transcription_ms(on_cuda: bool) -> float:
        def run(y):
            transcribe.run_on_cuda(on_cuda)
            return transcribe.posteriors(y)
        return round(1e3 * per_item_s(run, audio, 1), 2)

    timings = {}
    for name, scorer in (("cpu", cpu), ("cuda", gpu)):
        timings[name] = {
            "score_file_s": round(per_item_s(scorer.score_file, files, 1), 4),
            "model_only_ms": round(1e3 * per_item_s(scorer.run, prepared), 3),
            "model_same_input_ms": round(1e3 * per_item_s(scorer.run, [prepared[0]] * 10), 3),
            "transcription_ms": transcription_ms(name == "cuda"),
        }
    plain, plain_transcription = plain_cuda(model_paths(args.model)[0]), plain_cuda(transcribe.MODEL_PATH)
    original = transcribe._session
    transcribe._session = lambda on_cuda=False: plain_transcription
    timings["cuda, onnxruntime defaults, one run per recording"] = {
        "model_only_ms": round(1e3 * per_item_s(lambda x: plain.run(None, x), prepared), 3),
        "model_same_input_ms": round(1e3 * per_item_s(lambda x: plain.run(None, x), [prepared[0]] * 10), 3),
        "transcription_ms": transcription_ms(False),
    }
    transcribe._session = original
    audio_s = sum(len(y) for y in audio) / transcribe.SAMPLE_RATE
    result.update({
        "files": len(files), "audio_s": round(audio_s, 1),
        "max_rating_difference_1_7": round(max(diffs), 6),
        "max_model_rating_difference_same_inputs_1_7": round(model_diff, 6),
        "max_transcription_posterior_difference": round(post_diff, 6),
        "timings": timings,
        "note": "cpu / cuda: the scorer as `pianokit score --device cpu / cuda` runs it (on CUDA the rating and "
                "transcription models both, in fixed-size runs with pianokit.cuda.OPTIONS); the last row: "
                "CUDA sessions with onnxruntime's default options, one run per recording (variable shapes), as "
                "pianokit ran the rating model before; model_same_input_ms: one recording's input 10 times",
    })
    write(result, args.out)
    print(f"GPU: {result['machine']['gpu']}; onnxruntime {ort.__version__}; {len(files)} recordings, {audio_s:.0f} s")
    print(f"largest rating difference CPU vs CUDA: {max(diffs):.2e} (1-7 scale; model alone on the same inputs "
          f"{model_diff:.2e}); transcription posteriors {post_diff:.2e}")
    print("| provider | score_file s/recording | model only ms | model, one input repeated, ms | transcription ms |")
    print("|---|---|---|---|---|")
    for name, t in timings.items():
        print(f"| {name} | {t.get('score_file_s', '-')} | {t['model_only_ms']} | {t['model_same_input_ms']} | "
              f"{t['transcription_ms']} |")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
