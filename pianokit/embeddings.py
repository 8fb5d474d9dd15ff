"""Frozen-backbone embeddings of log-mel windows, computed once and cached in the feature store.

With a frozen pretrained backbone (EfficientNet-Lite0 or B0 on the mel image), training only needs
the backbone's pooled output for each window, so it is computed once per store and cached:

    STORE/embeddings/<name>/<id>.npy   float16 (windows, dims): one row per half-overlapping window,
                                       cut exactly as evaluation and the scorer cut them
    STORE/embeddings/<name>/info.json  backbone, weights, window frames and the store's FeatureConfig

The head then trains in seconds per epoch on CPU; at export the same backbone is put back in front
of the head, so the ONNX model still reads the log-mel and the scorer needs nothing new.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from pianokit import interrupt
from pianokit.atomic import atomic_path, write_text
from pianokit.contract import Window
from pianokit.errors import InputError
from pianokit.models.common import EMBEDDING_INPUT, MEL_INPUT
from pianokit.models.spec import ModelSpec
from pianokit.store import FeatureStore
from pianokit.windows import windows

BATCH = 16
FILES_PER_CALL = 64


def cache_name(backbone: str, weights, crop_frames: int) -> str:
    label = "random" if weights is None else "imagenet" if weights == "imagenet" else Path(str(weights)).stem
    return f"{backbone}-{label}-{crop_frames}f"


def backbone_model(spec: ModelSpec, backbone: str, weights) -> keras.Model:
    """mel window (crop_frames, n_mels) in dB -> the frozen backbone's pooled embedding."""
    from pianokit.models.efficientnet import image_branch

    inp = keras.Input((spec.crop_frames, spec.n_mels), name=MEL_INPUT)
    out = image_branch(inp, spec, weights, kind=backbone)
    model = keras.Model(inp, out, name=f"frozen_{backbone}")
    model.trainable = False
    return model


def ensure(store: FeatureStore, ids: list[str], spec: ModelSpec, backbone: str, weights,
           progress: bool = True) -> dict[str, np.ndarray]:
    """{id: (windows, dims) float32} for ``ids``, computing and caching what is missing or older
    than its row's log-mel."""
    folder = store.root / "embeddings" / cache_name(backbone, weights, spec.crop_frames)
    window = Window.for_crop(spec.crop_frames)
    info = {"backbone": backbone, "weights": weights if weights in (None, "imagenet") else str(weights),
            "crop_frames": window.frames, "hop_frames": window.hop_frames,
            "feature_config": store.config.to_dict()}
    info_path = folder / "info.json"
    if info_path.is_file() and json.loads(info_path.read_text()) != info:
        raise InputError(f"{folder}: cached embeddings were made with other settings; delete the folder to recompute")
    folder.mkdir(parents=True, exist_ok=True)
    write_text(info_path, json.dumps(info, indent=2))
    todo = [i for i in ids if _stale(folder / f"{i}.npy", store.mel_path(i))]
    if todo:
        model = backbone_model(spec, backbone, weights)
        floor = store.config.mel_floor_db
        with tqdm(total=len(todo), desc="embed", unit="file", disable=not progress) as bar:
            for start in range(0, len(todo), FILES_PER_CALL):  # few predict calls: each new shape retraces
                interrupt.check()
                chunk = todo[start:start + FILES_PER_CALL]
                parts = [windows(store.mel(i).T, window.frames, window.hop_frames, floor) for i in chunk]
                emb = model.predict(np.concatenate(parts), batch_size=BATCH, verbose=0)
                for item, rows in zip(chunk, np.split(emb, np.cumsum([len(p) for p in parts])[:-1])):
                    with atomic_path(folder / f"{item}.npy") as tmp, tmp.open("wb") as fh:
                        np.save(fh, rows.astype(np.float16))
                bar.update(len(chunk))
    return {i: np.load(folder / f"{i}.npy").astype(np.float32) for i in ids}


def _stale(embedding: Path, mel: Path) -> bool:
    """No cached embedding, or one older than its log-mel (the row was extracted again since)."""
    return not embedding.is_file() or mel.stat().st_mtime_ns > embedding.stat().st_mtime_ns


def full_model(head: keras.Model, spec: ModelSpec, backbone: str, weights) -> keras.Model:
    """The mel -> ratings graph: the frozen backbone in front of a head trained on its embeddings
    (a single model or an ensemble; its other inputs, e.g. features, pass through)."""
    net = backbone_model(spec, backbone, weights)
    mel = keras.Input((spec.crop_frames, spec.n_mels), name=MEL_INPUT)
    inputs = {MEL_INPUT: mel}
    head_inputs = {EMBEDDING_INPUT: net(mel)}
    for t in head.inputs:
        if t.name != EMBEDDING_INPUT:
            inputs[t.name] = head_inputs[t.name] = keras.Input(t.shape[1:], name=t.name)
    return keras.Model(inputs, head(head_inputs), name=f"{head.name}_with_{backbone}")
