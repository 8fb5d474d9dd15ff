"""`pianokit export`: a trained .keras model -> NAME.onnx + NAME.json, checked against Keras."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from pianokit import __version__
from pianokit.contract import FeatureConfig, ModelMetadata, Window
from pianokit.errors import InputError, os_reason
from pianokit.metadata import ONNX_METADATA_KEY, missing_model, model_paths
from pianokit.models.spec import ModelSpec
from pianokit.run_folder import (FINAL_INFO, METRICS, SPEC, fold_dir, locate_model, read_config, read_metrics,
                                  read_predictions)
from pianokit.safety import printable, writable_target
from pianokit.windows import windows

PARITY_TOLERANCE = 1e-4


def load_keras_model(model_path: str | os.PathLike):
    """A saved pianokit .keras model, with its custom layers and loss registered."""
    import keras

    import pianokit.models.layers  # noqa: F401  (registers the custom layers)
    import pianokit.losses  # noqa: F401  (registers the loss)

    try:
        return keras.saving.load_model(model_path, compile=False)
    except Exception as exc:  # keras raises many types for a bad file
        raise InputError(f"{model_path}: cannot load Keras model ({str(exc).splitlines()[0][:200]})") from None


def with_members(model):
    """An ensemble (members averaged by its 'ratings_mean' layer) gets a second output with every
    member's ratings, (batch, members, dimensions), so the scorer can report their spread."""
    import keras

    try:
        average = model.get_layer("ratings_mean")
    except ValueError:
        return model
    members = [keras.layers.Reshape((1, -1))(t) for t in average.input]
    stacked = keras.layers.Concatenate(axis=1, name="ratings_members")(members)
    return keras.Model(model.input, [model.output, stacked], name=model.name)


def with_frozen_backbone(model, spec: ModelSpec):
    """A head trained on cached backbone embeddings gets its backbone back (mel in, ratings out)."""
    from pianokit.models import defaults, uses_cached_embeddings

    params = {**defaults(spec.arch), **spec.hparams}
    if not uses_cached_embeddings(spec.arch, params):
        return model
    from pianokit.embeddings import full_model

    return full_model(model, spec, params["backbone"], params["weights"])


def _parity_inputs(spec: ModelSpec, config: FeatureConfig, store_dir: Path | None, count: int = 6) -> dict:
    """Real inputs from the training store when it is there; otherwise seeded spectrogram-like data."""
    rng = np.random.default_rng(0)
    window = Window.for_crop(spec.crop_frames)
    feats = mels = None
    if store_dir is not None and (store_dir / "config.json").is_file():
        from pianokit.store import FeatureStore

        store = FeatureStore.open(store_dir)
        ids = list(store.table["id"].astype(str))[:count]
        if ids:
            if spec.feature_names:
                feats = store.features(ids, spec.feature_names)
            mels = [store.mel(i).T for i in ids]
    inputs = {}
    if spec.arch not in ("mlp", "multitask"):
        if mels is None:
            mels = [rng.normal(-60, 15, (spec.crop_frames + 37, spec.n_mels)).astype(np.float32) for _ in range(count)]
        inputs["mel"] = np.concatenate(
            [windows(m, window.frames, window.hop_frames, config.mel_floor_db)[:2] for m in mels]
        ).astype(np.float32)
    if spec.feature_names:
        if feats is None:
            mean, std = np.array(spec.feature_mean), np.array(spec.feature_std)
            feats = (mean + std * rng.standard_normal((count, len(mean)))).astype(np.float32)
        n = len(inputs["mel"]) if "mel" in inputs else len(feats)
        inputs["features"] = np.resize(feats, (n, feats.shape[1])).astype(np.float32)
    return inputs


def to_onnx(model, path: Path) -> None:
    """Keras -> ONNX via ``model.export(format="onnx")`` (tf2onnx), keeping batch and time dynamic.

    Keras's Normalization layer (inside EfficientNet) keeps its statistics as eager tensors, which
    tf2onnx turns into extra graph inputs; they are made constants first. Initialisers that tf2onnx
    also lists as graph inputs are removed from the inputs, so the graph takes exactly the model's own.
    """
    import keras
    import onnx

    for layer in _all_layers(model):
        if isinstance(layer, keras.layers.Normalization) and getattr(layer, "mean", None) is not None:
            layer.mean = np.asarray(layer.mean)  # eager tensors would become graph inputs; numpy is folded in
            layer.variance = np.asarray(layer.variance)
    model.export(str(path), format="onnx", verbose=False)
    proto = onnx.load(str(path))
    constants = {init.name for init in proto.graph.initializer}
    keep = [i for i in proto.graph.input if i.name not in constants]
    if len(keep) != len(proto.graph.input):
        del proto.graph.input[:]
        proto.graph.input.extend(keep)
        onnx.save(proto, str(path))


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _feature_config(spec: ModelSpec, run_config: dict, spec_path: Path) -> FeatureConfig:
    """The FeatureConfig the model's inputs were made with: from its spec (models trained by this
    pianokit carry it), else from its run's config.json; never a guess."""
    if spec.feature_config:
        return FeatureConfig.from_dict(spec.feature_config)
    if "feature_config" in run_config:
        return FeatureConfig.from_dict(run_config["feature_config"])
    raise InputError(f"{spec_path}: does not say which FeatureConfig made the model's inputs and no run "
                     "config.json is beside it; export it from its run folder")


def export_model(source: str | os.PathLike, out: str | os.PathLike, name: str | None = None,
                 noise_floor_db: float | None = None) -> dict:
    """Export to ``out``.onnx and ``out``.json (both or neither); return the metadata. The model keeps
    the noise floor its training store was extracted with (FeatureConfig.noise_floor_db) unless
    ``noise_floor_db`` sets another one for scoring."""
    model_path, run = locate_model(source)
    spec_path = model_path.parent / SPEC
    if not spec_path.is_file():
        raise InputError(f"{spec_path}: missing (the model's training spec is written by 'pianokit fit')")
    try:
        spec = ModelSpec.from_dict(json.loads(spec_path.read_text()))
    except (json.JSONDecodeError, TypeError) as exc:
        raise InputError(f"{spec_path}: not a valid model spec ({exc})") from None
    run_config = read_config(run)
    metrics = read_metrics(run, required=False) if run else None
    try:
        config = _feature_config(spec, run_config, spec_path)
        if noise_floor_db is not None:
            config = dataclasses.replace(config, noise_floor_db=float(noise_floor_db))
            config.validate()
    except (ValueError, TypeError) as exc:
        raise InputError(f"{run}: unreadable FeatureConfig in config.json ({printable(exc, 120)})") from None
    onnx_path, json_path = _targets(out)
    model = with_frozen_backbone(with_members(load_keras_model(model_path)), spec)
    try:
        return _export(model, model_path, spec, run, run_config, metrics, config, Window.for_crop(spec.crop_frames),
                       onnx_path, json_path, name)
    except OSError as exc:
        raise InputError(f"{out}: cannot write the exported model ({os_reason(exc)})") from None


def _targets(out: str | os.PathLike) -> tuple[Path, Path]:
    """OUT.onnx and OUT.json, checked writable, their folder made."""
    onnx_path, json_path = model_paths(out)
    for target in (onnx_path, json_path):
        writable_target(target)
    try:
        onnx_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{onnx_path.parent}: cannot create the output folder ({os_reason(exc)})") from None
    return onnx_path, json_path


def _export(model, model_path: Path, spec: ModelSpec, run, run_config: dict, metrics, config: FeatureConfig,
            window: Window, onnx_path: Path, json_path: Path, name: str | None) -> dict:
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(dir=onnx_path.parent, prefix=".export-") as tmp:
        raw = Path(tmp) / "model.onnx"
        inputs = _parity_inputs(spec, config, Path(run_config["store"]) if "store" in run_config else None)
        model.predict({k: v[:1] for k, v in inputs.items()}, verbose=0)
        to_onnx(model, raw)
        session = ort.InferenceSession(str(raw), providers=["CPUExecutionProvider"])
        onnx_inputs = [{"name": i.name, "shape": [d if isinstance(d, int) else None for d in i.shape]}
                       for i in session.get_inputs()]
        expected = model.predict(inputs, verbose=0)
        expected = expected if isinstance(expected, list | tuple) else [expected]
        got = session.run(None, {i["name"]: inputs[i["name"]] for i in onnx_inputs})
        diff = max(float(np.max(np.abs(e - g))) for e, g in zip(expected, got, strict=True))
        if not diff <= PARITY_TOLERANCE:
            raise InputError(f"{model_path}: ONNX output differs from Keras by {diff:.3g} (> {PARITY_TOLERANCE})")

        extra = {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "pianokit_version": __version__,
            "normalisation": {"feature_mean": spec.feature_mean, "feature_std": spec.feature_std,
                              "mel_mean": spec.mel_mean, "mel_std": spec.mel_std,
                              "label_mean": spec.label_mean, "label_std": spec.label_std,
                              "applied": "inside the ONNX graph"},
            "hparams": spec.hparams,
            "training": {k: run_config.get(k) for k in ("store", "manifest", "split", "epochs", "seed", "augment",
                                                         "crop_seconds", "ensemble", "passage_weight",
                                                         "consistency_weight", "kernel_ridge", "command")
                         if k in run_config},
            "kernel_ridge": _kernel_ridge_fit(model_path.parent),
            "condition_checks": _run_condition_checks(model_path, spec, run, run_config),
            "training_audio": _training_audio(run, run_config),
            "source_model": str(model_path),
            "parity_max_abs_diff": diff,
        }
        metadata = ModelMetadata(
            name=name or onnx_path.stem, architecture=spec.arch, inputs=onnx_inputs, feature_config=config,
            window=window, dimensions=tuple(spec.targets), feature_names=tuple(spec.feature_names),
            outputs=("ratings", "members")[:len(got)], cv_metrics=_cv_metrics(metrics, run), extra=extra)
        meta = metadata.to_dict()
        _write(onnx.load(str(raw)), meta, Path(tmp), onnx_path, json_path)
    return meta


def _write(proto, meta: dict, tmp: Path, onnx_path: Path, json_path: Path) -> None:
    """Embed ``meta`` in the ONNX ``proto`` and write it and the JSON copy: both files or neither."""
    import onnx

    ModelMetadata.from_dict(json.loads(json.dumps(meta)), onnx_path)  # what the scorer will read must pass
    for entry in [e for e in proto.metadata_props if e.key == ONNX_METADATA_KEY]:
        proto.metadata_props.remove(entry)
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_METADATA_KEY, json.dumps(meta)
    raw = tmp / "model.onnx"
    onnx.save(proto, str(raw))
    (tmp / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(raw, writable_target(onnx_path))
    try:
        os.replace(tmp / "model.json", writable_target(json_path))
    except (OSError, InputError):
        onnx_path.unlink(missing_ok=True)  # both files or neither
        raise


KEEP_FLOOR = "keep"


def rewrite_exported(source: str | os.PathLike, out: str | os.PathLike, noise_floor_db: float | None | str,
                     checks_store: str | os.PathLike | None = None) -> dict:
    """An exported model (``source``.onnx) written again to ``out`` with another noise floor
    (FeatureConfig.noise_floor_db; None: none; KEEP_FLOOR: its own) and, given ``checks_store``,
    condition checks fitted on that store's trainable rows (its features must be extracted as the
    model's); the graph and every other field are kept."""
    import onnx

    from pianokit.metadata import parse_embedded

    source_onnx, _ = model_paths(source)
    try:
        proto = onnx.load(str(source_onnx))
    except (FileNotFoundError, IsADirectoryError):
        raise missing_model(source) from None
    except Exception as exc:
        raise InputError(f"{source_onnx}: not an ONNX model ({printable(exc, 120)})") from None
    embedded = next((e.value for e in proto.metadata_props if e.key == ONNX_METADATA_KEY), None)
    if embedded is None:
        raise InputError(f"{source_onnx}: has no embedded pianokit metadata; export it from its run instead")
    meta = parse_embedded(embedded, source_onnx).to_dict()
    onnx_path, json_path = _targets(out)
    if checks_store is not None:
        meta["condition_checks"] = _store_condition_checks(checks_store, meta)
    if noise_floor_db == KEEP_FLOOR:
        noise_floor_db = meta["feature_config"].get("noise_floor_db")
    meta["feature_config"] = {k: v for k, v in meta["feature_config"].items() if k != "noise_floor_db"}
    if noise_floor_db is not None:
        meta["feature_config"]["noise_floor_db"] = float(noise_floor_db)
    try:
        with tempfile.TemporaryDirectory(dir=onnx_path.parent, prefix=".export-") as tmp:
            _write(proto, meta, Path(tmp), onnx_path, json_path)
    except OSError as exc:
        raise InputError(f"{out}: cannot write the exported model ({os_reason(exc)})") from None
    return meta


def condition_rows(store_dir: str | os.PathLike, manifest: str | os.PathLike | None, names: list[str],
                   fold: int | None = None, run_config: dict | None = None):
    """(features of ``names``, augmentation recipes) of the labelled rows a model trained on: fold
    ``fold``'s training and validation rows under ``run_config``'s split, else every trainable row;
    None when the manifest has no augmentation recipes."""
    from pianokit.condition_checks import recipe_of
    from pianokit.manifest import read_manifest
    from pianokit.store import FeatureStore
    from pianokit.training_data import make_folds, trainable_rows

    store = FeatureStore.open(store_dir)
    manifest = Path(manifest) if manifest else store.root / "manifest.csv"
    if not manifest.is_file():
        raise InputError(f"{manifest}: no labelled manifest in the store")
    table = read_manifest(manifest, labelled=True)
    if "augmentation" not in table.columns:
        return None
    table = table[table["segment_id"].astype(str).isin(set(store.table["id"].astype(str)))].reset_index(drop=True)
    if fold is None:
        rows = trainable_rows(table)
    else:
        c = run_config or {}
        chosen = make_folds(table, c.get("split", "passage"), c.get("folds", 4), c.get("seed", 0),
                            c.get("val_fraction", 0.15))[fold]
        rows = np.concatenate([chosen.train, chosen.val])
    ids = list(table["segment_id"].astype(str).iloc[rows])
    return store.features(ids, names), [recipe_of(a) for a in table["augmentation"].iloc[rows]]


def _run_condition_checks(model_path: Path, spec: ModelSpec, run: Path | None, run_config: dict) -> dict | None:
    """The condition checks (pianokit.condition_checks) fitted on the rows this model trained on, from
    the run's store; None for a model without features or a run store, or when its recipes hold no
    condition often enough."""
    from pianokit import condition_checks

    if not spec.feature_names or run is None or "store" not in run_config:
        return None
    fold = next((k for k in range(run_config.get("folds", 0)) if model_path.parent == fold_dir(run, k)), None)
    try:
        found = condition_rows(run_config["store"], run_config.get("manifest"), list(spec.feature_names), fold,
                               run_config)
    except (InputError, OSError, KeyError, IndexError):
        return None
    return (condition_checks.fit(*found, list(spec.feature_names)) or None) if found is not None else None


def _store_condition_checks(store_dir: str | os.PathLike, meta: dict) -> dict:
    """Condition checks for an exported model (``meta``) fitted on every trainable row of
    ``store_dir``, whose features must be extracted as the model's."""
    from pianokit import condition_checks
    from pianokit.store import FeatureStore

    names = list(meta.get("feature_names") or [])
    if not names:
        raise InputError(f"{store_dir}: the model reads no features, and the condition checks read the model's "
                         "features; a spectrogram-only model cannot carry them")
    store = FeatureStore.open(store_dir)
    ours = {k: v for k, v in meta["feature_config"].items() if k != "features"}
    theirs = {k: v for k, v in store.config.to_dict().items() if k != "features"}
    if ours != theirs or not set(names) <= set(store.config.features):
        raise InputError(f"{store_dir}: its features were extracted with other settings than the model's "
                         "(FeatureConfig differs); fit the checks on the model's own training store")
    found = condition_rows(store_dir, None, names)
    checks = condition_checks.fit(*found, names) if found is not None else {}
    if not checks:
        raise InputError(f"{store_dir}: its manifest has too few recordings under any checked condition "
                         "(augmentation recipes with a room or a phone) and without to fit a check")
    return checks


def _training_audio(run: Path | None, run_config: dict) -> dict | None:
    """The run manifest's sources, SoundFonts and augmentation (pianokit.variants), plus how the
    audio is level-normalised; None when the manifest cannot be read."""
    from pianokit.manifest import read_csv
    from pianokit.variants import describe_training_audio

    manifest = run_config.get("manifest") or (Path(run_config["store"]) / "manifest.csv" if "store" in run_config else None)
    try:
        table = read_csv(manifest) if manifest else None
    except (InputError, OSError):
        table = None
    if table is None or not len(table):
        return None
    try:
        described = describe_training_audio(table)
    except (InputError, ValueError, TypeError):
        return None
    described["level"] = "audio scaled so its 95th-percentile frame RMS is FeatureConfig.level_dbfs before any feature"
    return described


def _kernel_ridge_fit(folder: Path) -> dict | None:
    """The kernel ridge member's chosen settings and blend weight (fit --kernel-ridge), if any."""
    for name in (METRICS, FINAL_INFO):
        try:
            found = json.loads((folder / name).read_text()).get("kernel_ridge")
        except (OSError, ValueError, AttributeError):
            continue
        if found is not None:
            return found
    return None


def _cv_metrics(metrics: dict | None, run: Path | None) -> dict | None:
    """The run's cross-validated accuracy: plain and within-passage, per dimension, the baselines'
    means on the same folds, and the held-out residuals' spread (pianokit.calibration)."""
    if not metrics or "baselines" not in metrics:
        return None
    from pianokit.calibration import residual_summary

    residuals = residual_summary(read_predictions(run)) if run is not None else {}
    model = metrics["model"]
    within = model.get("within_passage", {})
    return {
        "split": metrics.get("split"),
        "folds": metrics.get("folds"),
        "protocol": "leak-free folds: whole passage groups (overlapping passages) on one side of every split",
        "mean": model["mean"],
        "within_passage_mean": within.get("mean"),
        "per_dimension": {d: {**v, **({"within_r2": within["per_dimension"][d]["r2"],
                                       "within_r": within["per_dimension"][d]["r"]}
                                      if d in within.get("per_dimension", {}) else {})}
                          for d, v in model["per_dimension"].items()},
        "baselines_mean": {name: {"mean": b["mean"], "within_passage_mean": b.get("within_passage", {}).get("mean")}
                           for name, b in metrics["baselines"].items()},
        **({"residual_quantiles": residuals} if residuals else {}),
    }
