"""`pianokit extract`: compute features and log-mels for many recordings into a feature store.

Each recording is one training example, so it must fit in one scoring segment
(contract.SEGMENT_SECONDS): its stored features are then exactly what the scorer computes for it."""

from __future__ import annotations

import functools
import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from pianokit import cuda, transcribe
from pianokit.audio import find_audio, load_audio, missing, trim_ends
from pianokit.contract import SEGMENT_SECONDS
from pianokit.errors import InputError
from pianokit.features import FeatureConfig, compile_in_parent, extract
from pianokit.parallel import runner
from pianokit.safety import check_id, exclusive, is_safe_id, stop_if_disk_full
from pianokit.store import FeatureStore

CHECKPOINT_SECONDS = 30.0  # how often finished rows are saved (FeatureStore.checkpoint), so a killed run loses little


@dataclass
class ExtractSummary:
    done: int = 0
    skipped: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)


def collect_inputs(paths: list[str | os.PathLike]) -> list[tuple[str, Path]]:
    """(id, audio) pairs from files and folders; ids are file stems, made unique where stems repeat."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += find_audio(p)
        elif p.exists():
            files.append(p)
        else:
            raise InputError(missing(p, "file or directory"))
    stems = [f.stem for f in files]

    def unique(stem: str, f: Path) -> str:
        digest = hashlib.sha1(str(f.resolve()).encode()).hexdigest()[:8]
        if not is_safe_id(stem):
            return f"file-{digest}"
        return stem if stems.count(stem) == 1 else f"{stem[:180]}-{digest}"

    return [(unique(s, f), f) for s, f in zip(stems, files)]


def _extract_one(job: tuple[str, Path], store_root: Path, config: FeatureConfig, on_cuda: bool = False) -> dict:
    item_id, audio = job
    transcribe.run_on_cuda(on_cuda)
    if not audio.exists():
        raise InputError(missing(audio))
    stat = audio.stat()
    y, _ = trim_ends(load_audio(audio, config.sample_rate, config.min_duration, max_duration=SEGMENT_SECONDS),
                     config.sample_rate)  # as the scorer reads it (pianokit.audio.read_segments)
    vector, mel = extract(y, config)
    FeatureStore(store_root, config).write_mel(item_id, mel)
    row = {
        "id": item_id,
        "audio": str(audio),
        "source_size": stat.st_size,
        "source_mtime_ns": stat.st_mtime_ns,
        "duration_s": round(len(y) / config.sample_rate, 4),
        "frames": mel.shape[1],
    }
    row.update(zip(config.features, vector.tolist()))
    return row


def _seconds(audio: Path) -> float:
    """The length its header gives (0 where none, or where it is no regular file: a pipe would block):
    files run longest first, so that the pool ends on short ones and files of one length follow each
    other (they share the noise floor's noise, pianokit.conditions.noise_floor)."""
    import soundfile as sf

    try:
        return sf.info(str(audio)).duration if audio.is_file() else 0.0
    except (RuntimeError, OSError, ValueError):
        return 0.0


def run_extract(
    inputs: list[tuple[str, Path]],
    store_root: str | os.PathLike,
    config: FeatureConfig | None = None,
    jobs: int = 1,
    progress: bool = True,
    cluster: str | None = None,
    device: str = "cpu",
) -> ExtractSummary:
    """Extract every input not already current in the store; failures are collected, not raised.

    Rows are checkpointed every 30 s (as part files) and written into features.csv at the end or on
    interruption, so a rerun resumes. One run at a time
    per store (a lock file); a run that could use no file removes the store files it created, and
    nothing else. ``cluster`` runs the files on a Dask cluster (pianokit.cluster) instead of the local
    process pool; the store is written the same way, here. ``device="cuda"`` runs the transcription
    model, most of the work, on an NVIDIA GPU (pianokit.cuda); its features equal the CPU's within
    rounding (bench/results/extract_gpu.md).
    """
    for item_id, _ in inputs:
        check_id(item_id)
    if device not in ("cpu", "cuda"):
        raise InputError(f"unknown device {device!r}; choose cpu or cuda")
    if device == "cuda" and not cuda.starts(transcribe.MODEL_PATH):
        raise InputError(cuda.UNAVAILABLE)
    root_created = not Path(store_root).exists()
    created = not Path(store_root, "config.json").exists()
    store = FeatureStore.create(store_root, config or FeatureConfig())
    try:
        with exclusive(store.root, "extract"):
            with runner(cluster, jobs, functools.partial(compile_in_parent, store.config)) as run:
                summary = _extract_into(store, inputs, run, progress, device == "cuda")
    except BaseException:
        if created and not store.table.shape[0]:
            store.remove_own_files(root_created)
        raise
    if created and summary.done == 0:  # nothing usable: leave no half-made store behind
        store.remove_own_files(root_created)
    return summary


def _extract_into(store: FeatureStore, inputs: list[tuple[str, Path]], run, progress: bool,
                  on_cuda: bool = False) -> ExtractSummary:
    summary = ExtractSummary()
    todo = []
    for item_id, audio in inputs:
        if audio.is_file() and store.is_current(item_id, audio):
            summary.skipped += 1
        else:
            todo.append((item_id, audio))
    todo.sort(key=lambda job: _seconds(job[1]), reverse=True)
    worker = functools.partial(_extract_one, store_root=store.root, config=store.config, on_cuda=on_cuda)
    pending: list[dict] = []
    last = time.monotonic()
    try:
        for (item_id, audio), row, error in run(worker, todo, "extract", progress):
            if error:
                summary.failures.append((item_id, str(audio), error))
                stop_if_disk_full(store.root, error, "the rows extracted so far are kept")
                continue
            pending.append(row)
            summary.done += 1
            if time.monotonic() - last >= CHECKPOINT_SECONDS:
                store.checkpoint(pending)
                pending, last = [], time.monotonic()
    finally:
        store.update(pending)
        store.write_failures(summary.failures)
    return summary
