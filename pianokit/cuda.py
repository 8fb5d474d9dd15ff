"""ONNX models on an NVIDIA GPU (onnxruntime's CUDA provider): provider options and fixed-size runs.

Measured on an H200 (bench/results/score_gpu.md): every new input shape costs cuDNN a search for its
convolution kernels (0.3-0.5 s), and every recording has its own number of windows, so runs of
exactly ``BATCH`` rows, the last one padded, keep one shape and that cost is paid once per process.
"""

from __future__ import annotations

import numpy as np

PROVIDER = "CUDAExecutionProvider"
# cuDNN picks convolution kernels by heuristics (not by timing each one), and float32 stays float32
# (no TF32), so ratings on the GPU match the CPU's.
OPTIONS = {"cudnn_conv_algo_search": "HEURISTIC", "use_tf32": "0"}
BATCH = 32
UNAVAILABLE = "--device cuda: CUDA is not available here (needs onnxruntime-gpu, an NVIDIA GPU and its CUDA libraries)"


def providers() -> list:
    """onnxruntime providers: CUDA with ``OPTIONS``, the CPU for what CUDA does not run."""
    return [(PROVIDER, OPTIONS), "CPUExecutionProvider"]


def session(onnx_path, options=None):
    """An onnxruntime session running the model at ``onnx_path`` on CUDA, or None where the provider is
    not installed or the session falls back to the CPU; raises what onnxruntime raises when CUDA's
    libraries fail to load. Quiet: onnxruntime's default logger is set to fatal errors only."""
    import onnxruntime as ort

    if PROVIDER not in ort.get_available_providers():
        return None
    ort.set_default_logger_severity(4)
    made = ort.InferenceSession(str(onnx_path), options, providers=providers())
    return made if made.get_providers()[0] == PROVIDER else None


def starts(onnx_path) -> bool:
    """The model at ``onnx_path`` runs on CUDA here (onnxruntime-gpu, an NVIDIA GPU and the CUDA
    libraries it was built for)."""
    try:
        return session(onnx_path) is not None
    except Exception:  # onnxruntime raises its own types when CUDA libraries are missing
        return False


def run_fixed(session, inputs: dict[str, np.ndarray], names: list[str] | None = None,
              batch: int = BATCH) -> list[np.ndarray]:
    """``session.run(names, inputs)`` in runs of exactly ``batch`` rows along the first axis (the last
    run padded with copies of its final row, whose outputs are dropped). Rows must be independent,
    as they are for every pianokit model in inference."""
    count = len(next(iter(inputs.values())))
    runs = []
    for start in range(0, count, batch):
        part = {k: v[start:start + batch] for k, v in inputs.items()}
        rows = len(next(iter(part.values())))
        if rows < batch:
            part = {k: np.concatenate([v, np.repeat(v[-1:], batch - rows, axis=0)]) for k, v in part.items()}
        runs.append([out[:rows] for out in session.run(names, part)])
    return [np.concatenate([run[i] for run in runs]) for i in range(len(runs[0]))]
