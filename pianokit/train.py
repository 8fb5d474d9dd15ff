"""`pianokit fit`: tf.data pipelines, cross-validated training, early stopping and metrics, written
into a run folder (layout: pianokit.run_folder). Finished folds are skipped on a rerun."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from pianokit.atomic import atomic_path, write_text
from pianokit.contract import Window
from pianokit.dimensions import DIMENSIONS, unknown_augmentation
from pianokit.distribute import STRATEGIES, make_strategy, scope
from pianokit.errors import InputError
from pianokit.feature_names import EXTENDED_FEATURES, resolve_features
from pianokit.inference import concat, mean_by_owner, recording_ratings, segment_inputs
from pianokit.losses import PassageLoss, masked_mse
from pianokit.metrics import aggregate, evaluate
from pianokit.safety import exclusive, own_folder
from pianokit.models import ARCHITECTURES, check_arch, defaults, needs_fixed_frames, uses_cached_embeddings
from pianokit.models.common import EMBEDDING_INPUT, FEATURE_INPUT
from pianokit.models.layers import WeightedSum
from pianokit.models.spec import ModelSpec
from pianokit import interrupt
from pianokit import run_folder as rf
from pianokit.baselines import predict_all
from pianokit.training_data import Fold, final_holdout, load_training_data, make_folds, trainable_rows


@dataclass
class FitConfig:
    arch: str
    store: str
    manifest: str | None = None
    split: str = "passage"
    folds: int = 4
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 10
    seed: int = 0
    augment: tuple[str, ...] = ()
    max_semitones: float = 2.0
    stretch_range: tuple[float, float] = (0.9, 1.1)
    crop_seconds: float = 12.0
    target: str | None = None
    hparams: dict = field(default_factory=dict)
    final: bool = False
    val_fraction: float = 0.15
    warmup_epochs: int = 5
    fine_tune_blocks: int = 2
    ensemble: int = 1
    passage_weight: float = 0.0
    consistency_weight: float = 0.0
    consistency_by: tuple[str, ...] = ("source_id",)
    kernel_ridge: bool = False
    kernel_components: int = 0
    feature_set: str = "extended"
    strategy: str = "none"
    command: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def validate(self) -> None:
        try:
            check_arch(self.arch)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        message = unknown_augmentation(self.augment)
        if message:
            raise InputError(message)
        if self.augment and not ARCHITECTURES[self.arch].uses_mel:
            raise InputError(f"--augment needs a spectrogram model; {self.arch} uses features only")
        if self.strategy not in STRATEGIES:
            raise InputError(f"unknown --strategy {self.strategy!r}; choose {' or '.join(STRATEGIES)}")
        try:
            resolve_features(self.feature_set)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if self.feature_set != "extended" and ARCHITECTURES[self.arch].features != EXTENDED_FEATURES:
            raise InputError(f"--features {self.feature_set} applies to multitask and hybrid, not {self.arch}")
        unknown = sorted(set(self.hparams) - set(defaults(self.arch)))
        if unknown:
            raise InputError(f"unknown --param {unknown[0]!r} for {self.arch}; its parameters: "
                             f"{', '.join(sorted(defaults(self.arch)))}")
        if not self.passage_weight >= 0:
            raise InputError("--passage-weight must be 0 or more")
        if not self.consistency_weight >= 0:
            raise InputError("--consistency-weight must be 0 or more")
        if self.kernel_ridge and not ARCHITECTURES[self.arch].features:
            raise InputError(f"--kernel-ridge reads the hand-made features; {self.arch} uses spectrograms only")
        if self.kernel_components < 0:
            raise InputError("--kernel-components must be 0 or more")
        if self.kernel_components and not self.kernel_ridge:
            raise InputError("--kernel-components is a setting of --kernel-ridge; add --kernel-ridge")
        if self.kernel_components and not uses_cached_embeddings(self.arch, {**defaults(self.arch), **self.hparams}):
            raise InputError("--kernel-components reads a frozen backbone's cached embeddings: use --arch hybrid "
                             "--branch efficientnet --param frozen=true")
        if self.target is not None and self.target not in DIMENSIONS:
            raise InputError(f"unknown --target {self.target!r}; see 'pianokit fit --help' for the 19 names")

    @property
    def targets(self) -> tuple[str, ...]:
        if self.arch == "mlp":
            return (self.target or DIMENSIONS[0],)
        return DIMENSIONS


class Trainer:
    """Runs one FitConfig into one run folder."""

    def __init__(self, config: FitConfig, out: str | os.PathLike, progress: bool = True):
        config.validate()
        self.config, self.out, self.progress = config, Path(out), progress
        self.arch = ARCHITECTURES[config.arch]
        self.embedded = uses_cached_embeddings(config.arch, {**defaults(config.arch), **config.hparams})
        self.uses_mel = self.arch.uses_mel and not self.embedded
        if self.embedded and config.augment:
            raise InputError("--augment acts on spectrograms; a frozen backbone trains on cached embeddings instead")
        self.data = load_training_data(config.store, config.manifest, with_mels=self.uses_mel)
        self.consistency_groups = None
        if config.consistency_weight:
            self.consistency_groups = self.data.groups(config.consistency_by)
            if len(set(self.consistency_groups)) == len(self.consistency_groups):
                raise InputError("--consistency-weight needs several recordings of a segment (a manifest whose "
                                 f"{'+'.join(config.consistency_by)} repeats: pianokit dataset augment / combine)")
        if self.data.not_extracted:
            print(f"warning: {self.data.not_extracted} labelled segment(s) of the manifest are not in {config.store}; "
                  "training without them (run 'pianokit extract' to add them)", file=sys.stderr)
        fc = self.data.store.config
        self.feature_config = fc
        self.crop_frames = fc.frames(config.crop_seconds)
        self.window = Window.for_crop(self.crop_frames)
        names = list(fc.features)
        self.model_features = resolve_features(config.feature_set) if self.arch.features == EXTENDED_FEATURES \
            else self.arch.features
        missing = [f for f in self.model_features if f not in names]
        if missing:
            raise InputError(f"{config.store}: store lacks feature(s) {', '.join(missing[:3])} needed by {config.arch}"
                             f"{' with --features ' + config.feature_set if config.feature_set != 'extended' else ''}; "
                             "extract into a new store with this pianokit")
        self.feature_index = [names.index(f) for f in self.model_features]
        self.target_index = [DIMENSIONS.index(t) for t in config.targets]
        self.embeddings = self._cached_embeddings() if self.embedded else None
        self.strategy = make_strategy(config.strategy)

    def _cached_embeddings(self) -> list[np.ndarray]:
        """Per recording, the frozen backbone's embedding of every evaluation window (cached in the store)."""
        from pianokit import embeddings

        params = {**defaults(self.config.arch), **self.config.hparams}
        spec = ModelSpec(self.config.arch, n_mels=self.feature_config.n_mels, crop_frames=self.crop_frames,
                         feature_names=(), targets=self.config.targets, hparams={})
        found = embeddings.ensure(self.data.store, self.data.ids, spec, params["backbone"], params["weights"],
                                  progress=self.progress)
        return [found[i] for i in self.data.ids]

    # ---- data -------------------------------------------------------------------------------------
    def _labels(self, idx: np.ndarray) -> np.ndarray:
        return self.data.labels[idx][:, self.target_index]

    def _features(self, idx: np.ndarray) -> np.ndarray:
        return self.data.features[idx][:, self.feature_index]

    def _loss_targets(self, labels: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """What the loss compares predictions with: the labels, then the passage number column (with
        --passage-weight) and the consistency group number column (with --consistency-weight) that
        PassageLoss reads."""
        extra = [column for column, weight in ((self.data.passages, self.config.passage_weight),
                                               (self.consistency_groups, self.config.consistency_weight)) if weight]
        codes = [pd.factorize(pd.Series(column))[0].astype(np.float32)[idx][:, None] for column in extra]
        return np.concatenate([labels, *codes], axis=1)

    def _ordered(self, elements: tuple, idx: np.ndarray, seed: int):
        """A dataset of ``elements`` (arrays or ragged tensors, one row per training row) in a fresh
        random order each epoch; with --consistency-weight, rows of one consistency group (one
        segment's recordings) come in runs of up to CONSISTENCY_GROUP (pianokit.batching), so batches
        hold several recordings of each."""
        import tensorflow as tf

        if not self.config.consistency_weight:
            return tf.data.Dataset.from_tensor_slices(elements).shuffle(len(idx), seed=seed)
        from pianokit.batching import CONSISTENCY_GROUP, grouped_order

        sources, rng = self.consistency_groups[idx], np.random.default_rng(seed)
        order = tf.data.Dataset.from_generator(lambda: iter([grouped_order(sources, CONSISTENCY_GROUP, rng)]),
                                               output_signature=tf.TensorSpec([len(idx)], tf.int64))
        order = order.unbatch().apply(tf.data.experimental.assert_cardinality(len(idx)))
        return order.map(lambda i: tuple(tf.gather(e, i) for e in elements))

    def _train_dataset(self, idx: np.ndarray, spec: ModelSpec, seed: int):
        """Shuffled batches of (inputs, loss targets); loss targets are the labels plus the group
        columns of _loss_targets (possibly zero columns wide)."""
        import tensorflow as tf

        from pianokit.augment import MelAugmenter

        labels, feats = self._labels(idx), self._features(idx)
        groups = self._loss_targets(labels, idx)[:, labels.shape[1]:]
        if self.embedded:
            return self._embedding_dataset(idx, labels, groups, feats, seed)
        if not self.arch.uses_mel:
            ds = self._ordered((feats, np.concatenate([labels, groups], axis=1)), idx, seed)
            ds = ds.map(lambda f, y: ({"features": f}, y))
            return ds.batch(self.config.batch_size).prefetch(tf.data.AUTOTUNE)
        fc, crop = self.feature_config, self.crop_frames
        mels = [self.data.mels[i] for i in idx]
        ragged = tf.RaggedTensor.from_row_lengths(np.concatenate(mels), [len(m) for m in mels])
        augmenter = None
        if self.config.augment:
            augmenter = MelAugmenter(
                fc.n_mels, fc.fmin, fc.fmax, fc.mel_floor_db,
                max_semitones=self.config.max_semitones if "pitch" in self.config.augment else 0.0,
                stretch=tuple(self.config.stretch_range) if "stretch" in self.config.augment else None,
                targets=self.config.targets,
            )
        use_features = bool(self.arch.features)

        def prepare(mel, f, y, p):
            mel = tf.cast(mel, tf.float32)
            if augmenter is not None:
                mel, y = augmenter(mel, y)
            length = tf.shape(mel)[0]
            mel = tf.pad(mel, [[0, tf.maximum(0, crop - length)], [0, 0]], constant_values=fc.mel_floor_db)
            mel = tf.image.random_crop(mel, [crop, fc.n_mels])
            inputs = {"mel": mel, "features": f} if use_features else {"mel": mel}
            return inputs, tf.concat([y, p], axis=0)

        ds = self._ordered((ragged, feats, labels, groups), idx, seed)
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.batch(self.config.batch_size).prefetch(tf.data.AUTOTUNE)

    def _embedding_dataset(self, idx: np.ndarray, labels: np.ndarray, groups: np.ndarray, feats: np.ndarray,
                           seed: int):
        """One randomly chosen window embedding per recording and epoch (the cached counterpart of a
        random crop)."""
        import tensorflow as tf

        parts = [self.embeddings[i] for i in idx]
        ragged = tf.RaggedTensor.from_row_lengths(np.concatenate(parts), [len(p) for p in parts])
        use_features = bool(self.arch.features)

        def pick(emb, f, y):
            chosen = emb[tf.random.uniform([], 0, tf.shape(emb)[0], dtype=tf.int32)]
            return ({"embedding": chosen, "features": f} if use_features else {"embedding": chosen}), y

        targets = np.concatenate([labels, groups], axis=1)
        ds = self._ordered((ragged, feats, targets), idx, seed)
        ds = ds.map(pick, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.batch(self.config.batch_size).prefetch(tf.data.AUTOTUNE)

    def _window_inputs(self, idx: np.ndarray) -> tuple[dict, np.ndarray]:
        """Evaluation inputs, cut as the scorer cuts them (pianokit.inference): every recording (one
        segment in the store) in its windows; owner index per window."""
        feats = self._features(idx) if self.arch.features else [None] * len(idx)
        if not self.arch.uses_mel:
            return {"features": feats}, np.arange(len(idx))
        floor = self.feature_config.mel_floor_db
        if self.embedded:
            parts = [segment_inputs(self.window, floor, embeddings=self.embeddings[i], features=f)
                     for i, f in zip(idx, feats)]
        else:
            parts = [segment_inputs(self.window, floor, mel=self.data.mels[i], features=f) for i, f in zip(idx, feats)]
        return concat(parts)

    def predict(self, model, idx: np.ndarray, windows: tuple[dict, np.ndarray] | None = None) -> np.ndarray:
        """Recording-level ratings as the scorer gives them: the mean over each recording's windows
        (``windows``: ``_window_inputs(idx)`` when already made), clipped to [0, 1]."""
        inputs, owner = windows if windows is not None else self._window_inputs(idx)
        return recording_ratings(model.predict(inputs, batch_size=64, verbose=0), owner, len(idx))

    # ---- training ---------------------------------------------------------------------------------
    def _spec(self, train_idx: np.ndarray) -> ModelSpec:
        hparams = dict(self.config.hparams)
        spec = ModelSpec(
            self.config.arch, n_mels=self.feature_config.n_mels, crop_frames=self.crop_frames,
            feature_names=self.model_features, targets=self.config.targets, hparams=hparams,
            feature_config=self.feature_config.to_dict(),
        )
        mels = [self.data.mels[i] for i in train_idx] if self.uses_mel else None
        return spec.with_statistics(self._features(train_idx), mels, self._labels(train_idx))

    def _fit_model(self, train_idx: np.ndarray, val_idx: np.ndarray, seed: int, log: Path, label: str = "",
                   share: float | None = None):
        """Fit ``--ensemble`` members with seeds seed, seed+1000, ...; several members are averaged
        in one functional model (so it exports as one ONNX graph), blended with a kernel ridge under
        --kernel-ridge, whose share is ``share`` when given, else the one the early-stopping rows
        choose. Returns (model, spec, the kernel ridge's settings and share, or None)."""
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
        spec = self._spec(train_idx)
        val_windows = self._window_inputs(val_idx)
        val_inputs, owner = val_windows
        val_data = (val_inputs, self._loss_targets(self._labels(val_idx), val_idx)[owner])
        members, history = [], []
        for member in range(self.config.ensemble):
            if self.progress:
                which = f", member {member + 1}/{self.config.ensemble}" if self.config.ensemble > 1 else ""
                print(f"{label}{which}: training on {len(train_idx)}, early stopping on {len(val_idx)}",
                      file=sys.stderr, flush=True)
            model, rows = self._fit_member(spec, train_idx, val_data, seed + 1000 * member)
            members.append(model)
            history += [{"member": member, **row} for row in rows]
        pd.DataFrame(history).to_csv(log, index=False)
        network = self._join(members)
        if not self.config.kernel_ridge:
            return network, spec, None
        fitted, projection, own = self._kernel_ridge(network, spec, train_idx, val_idx, seed, val_windows)
        weight = own if share is None else share
        info = {"alpha": fitted.alpha, "width": fitted.width, "centres": len(fitted.centres), "weight": weight}
        if projection is not None:
            info["components"] = self.config.kernel_components
        if share is not None:
            info["early_stopping_weight"] = own
        return (self._join(members, spec, fitted, weight, projection) if weight else network), spec, info

    def _join(self, members: list, spec: ModelSpec | None = None, fitted=None, weight: float = 0.0,
              projection=None):
        """The members as one model: their mean (layer 'ratings_mean', members named member0, ...),
        and with ``weight``, (1 - weight) x that mean + weight x the kernel ridge ``fitted`` (reading
        the embedding through ``projection`` when given). The mean stays at the top level, so the
        exported members' spread stays available. One member with no kernel ridge is returned as
        it is."""
        if len(members) == 1 and not weight:
            return members[0]
        inputs = {t.name: keras.Input(t.shape[1:], name=t.name) for t in members[0].inputs}
        if len(members) > 1:
            for i, m in enumerate(members):
                m.name = f"member{i}"
        outputs = [m(inputs) for m in members]
        out = outputs[0] if len(outputs) == 1 else keras.layers.Average(name="ratings_mean")(outputs)
        if not weight:
            return keras.Model(inputs, out, name=f"{self.config.arch}_ensemble")
        from pianokit.models.kernel import kernel_ridge_member

        member = kernel_ridge_member(spec, fitted, projection)
        kernel = member({t.name: inputs[t.name] for t in member.inputs})
        blended = WeightedSum([1.0 - weight, weight], name="ratings_blend")([out, kernel])
        return keras.Model(inputs, blended, name=f"{self.config.arch}_kernel_blend")

    def _kernel_ridge(self, network, spec: ModelSpec, train_idx: np.ndarray, val_idx: np.ndarray, seed: int,
                      val_windows: tuple[dict, np.ndarray]):
        """A kernel ridge (pianokit.kernel_ridge) and its share of the blend with ``network``, both
        chosen on the early-stopping rows (``val_windows``: their ``_window_inputs``), where it is
        scored as the graph applies it (every window, with --kernel-components); the kernel ridge is
        then fitted again on the training and early-stopping rows together. Returns (the fit, the
        projection or None, the share)."""
        from pianokit import kernel_ridge

        both = np.concatenate([train_idx, val_idx])
        labels, n = self._labels(both), len(train_idx)
        means = self._mean_embeddings(both) if self.config.kernel_components else None
        projection = self._kernel_projection(train_idx, None if means is None else means[:n])
        z, _ = self._kernel_inputs(spec, both, projection, means)
        val_z, owner = self._kernel_window_inputs(spec, val_idx, val_windows, projection)
        chosen = kernel_ridge.select(z[:n], labels[:n], val_z, labels[n:], seed, owner)
        weight = kernel_ridge.blend_weight(labels[n:], self.predict(network, val_idx, val_windows),
                                           self._kernel_ratings(chosen, val_z, owner))
        return kernel_ridge.fit(z, labels, chosen.alpha, chosen.width, seed), projection, weight

    def _mean_embeddings(self, idx: np.ndarray) -> np.ndarray:
        """Each recording's mean window embedding (the store's cache), one row per recording in ``idx``."""
        return np.stack([self.embeddings[i].mean(axis=0) for i in idx])

    def _kernel_projection(self, train_idx: np.ndarray, means: np.ndarray | None = None):
        """With --kernel-components, the embedding's principal components fitted on the mean
        embedding of each training recording (``means``: ``_mean_embeddings(train_idx)`` when
        already made); else None."""
        from pianokit.kernel_ridge import EmbeddingProjection

        if not self.config.kernel_components:
            return None
        try:
            return EmbeddingProjection.fit(self._mean_embeddings(train_idx) if means is None else means,
                                           self.config.kernel_components)
        except ValueError as exc:
            raise InputError(f"--kernel-components: {exc}") from None

    def _kernel_inputs(self, spec: ModelSpec, idx: np.ndarray, projection, means: np.ndarray | None = None,
                       windows: bool = False):
        """The kernel ridge's inputs for recordings ``idx``: their standardised features beside the
        ``projection`` of their mean embedding (``means``: ``_mean_embeddings(idx)`` when already
        made; one row each, owner None) or, with ``windows``, as ``_kernel_window_inputs``."""
        from pianokit.models.kernel import standardise

        if projection is None:
            return standardise(spec, self._features(idx)), None
        if windows:
            return self._kernel_window_inputs(spec, idx, self._window_inputs(idx), projection)
        means = self._mean_embeddings(idx) if means is None else means
        return np.hstack([standardise(spec, self._features(idx)), projection(means)]), None

    def _kernel_window_inputs(self, spec: ModelSpec, idx: np.ndarray, windows: tuple[dict, np.ndarray], projection):
        """The kernel ridge's inputs for recordings ``idx`` from their ``_window_inputs`` ``windows``:
        with a projection, each window's standardised features beside the projection of its
        embedding (owner: each window's recording); without one, each recording's standardised
        features (owner None)."""
        from pianokit.models.kernel import standardise

        if projection is None:
            return standardise(spec, self._features(idx)), None
        inputs, owner = windows
        return np.hstack([standardise(spec, inputs[FEATURE_INPUT]), projection(inputs[EMBEDDING_INPUT])]), owner

    @staticmethod
    def _kernel_ratings(fitted, z: np.ndarray, owner: np.ndarray | None) -> np.ndarray:
        """Recording ratings of the kernel ridge ``fitted`` from ``_kernel_inputs``, clipped to [0, 1]."""
        pred = fitted.predict(z)
        return np.clip(pred if owner is None else mean_by_owner(pred, owner, owner.max() + 1), 0.0, 1.0)

    def _fit_member(self, spec: ModelSpec, train_idx: np.ndarray, val_data, seed: int):
        from pianokit.models import build

        keras.utils.set_random_seed(seed)
        try:
            with scope(self.strategy):
                model = build(self.config.arch, spec)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        train_ds = self._train_dataset(train_idx, spec, seed)
        c = self.config
        loss = PassageLoss(c.passage_weight, consistency=c.consistency_weight) \
            if c.passage_weight or c.consistency_weight else masked_mse
        verbose = 2 if self.progress else 0
        history: list[dict] = []

        def run(epochs: int, lr: float, initial_epoch: int = 0) -> int:
            with scope(self.strategy):
                model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
                model.optimizer.build(model.trainable_variables)
            stop = keras.callbacks.EarlyStopping(patience=self.config.patience, restore_best_weights=True)
            h = model.fit(train_ds, validation_data=val_data, epochs=epochs, initial_epoch=initial_epoch,
                          callbacks=[stop, interrupt.keras_callback()], verbose=verbose, shuffle=False)
            history.extend({"epoch": initial_epoch + i, **{k: float(v[i]) for k, v in h.history.items()}}
                           for i in range(len(h.history["loss"])))
            return initial_epoch + len(h.history["loss"])

        if needs_fixed_frames(self.config.arch, spec.hparams) and not self.embedded:
            from pianokit.models.efficientnet import set_backbone_trainable

            set_backbone_trainable(model, None)
            done = run(min(self.config.warmup_epochs, self.config.epochs), self.config.learning_rate)
            set_backbone_trainable(model, self.config.fine_tune_blocks)
            if done < self.config.epochs:
                run(self.config.epochs, self.config.learning_rate / 10, initial_epoch=done)
        else:
            run(self.config.epochs, self.config.learning_rate)
        return model, history

    def _save_model(self, model, spec: ModelSpec, folder: Path) -> None:
        write_text(folder / rf.SPEC, json.dumps(spec.to_dict(), indent=2))
        with atomic_path(folder / rf.MODEL) as tmp:
            model.save(tmp)

    def run_fold(self, fold: Fold) -> dict:
        folder = rf.fold_dir(self.out, fold.index)
        done = folder / rf.METRICS
        if rf.is_done(folder):
            previous = json.loads(done.read_text())
            if "baselines" in previous:
                previous["baselines"] = self.baselines(fold)  # cheap: always from the current code and data
                write_text(done, json.dumps(previous, indent=2))
                return previous
        folder.mkdir(parents=True, exist_ok=True)
        model, spec, kernel = self._fit_model(fold.train, fold.val, self.config.seed + fold.index,
                                              folder / "history.csv", f"fold {fold.index + 1}/{self.config.folds}")
        self._save_model(model, spec, folder)
        truth = self._labels(fold.test)
        pred = self.predict(model, fold.test)
        passages = self.data.passages[fold.test]
        result = {
            "fold": fold.index,
            "n_train": len(fold.train), "n_val": len(fold.val), "n_test": len(fold.test),
            "epochs": len(pd.read_csv(folder / "history.csv")),
            "model": evaluate(truth, pred, self.config.targets, passages),
            "baselines": self.baselines(fold),
        }
        if kernel is not None:
            result["kernel_ridge"] = kernel
        ids = np.array(self.data.ids)[fold.test]
        preds = pd.DataFrame(pred, columns=[f"pred_{t}" for t in self.config.targets])
        preds.insert(0, "passage", passages)
        preds.insert(0, "fold", fold.index)
        preds.insert(0, "segment_id", ids)
        for i, t in enumerate(self.config.targets):
            preds[f"true_{t}"] = truth[:, i]
        write_text(folder / rf.PREDICTIONS, preds.to_csv(index=False))
        write_text(done, json.dumps(result, indent=2))
        return result

    def _baseline_features(self) -> np.ndarray:
        """The ridge baseline's inputs: the model's own features, or the 79 extended ones for a
        spectrogram-only model."""
        if self.feature_index:
            return self.data.features[:, self.feature_index]
        names = list(self.feature_config.features)
        return self.data.features[:, [names.index(f) for f in EXTENDED_FEATURES if f in names]]

    def baselines(self, fold: Fold) -> dict:
        """The in-house baselines (pianokit.baselines) fitted on this fold's training and validation rows."""
        fit_rows = np.concatenate([fold.train, fold.val])
        table = self.data.table
        preds = predict_all(self._labels(np.arange(len(table))), fit_rows, fold.test, table,
                            self._baseline_features(), self.data.symbolic)
        truth, passages = self._labels(fold.test), self.data.passages[fold.test]
        return {name: evaluate(truth, p, self.config.targets, passages) for name, p in preds.items()}

    def run(self) -> dict:
        """Cross-validate, optionally fit the final model, and write the run's summary files."""
        folds = make_folds(self.data.table, self.config.split, self.config.folds, self.config.seed,
                           self.config.val_fraction)
        components = self.config.kernel_components
        if components:
            most = min(min(len(f.train) for f in folds), self.embeddings[0].shape[1])
            if components > most:
                raise InputError(f"--kernel-components {components}: at most {most} here (the fewest recordings "
                                 "a fold trains on, or the embedding's size)")
        own_folder(self.out, rf.CONFIG, "pianokit fit run")
        self.out.mkdir(parents=True, exist_ok=True)
        with exclusive(self.out, "fit"):
            return self._run(folds)

    def _run(self, folds: list[Fold]) -> dict:
        config_path = self.out / rf.CONFIG
        free = ("command", "feature_config", "final")  # adding --final to a finished run is allowed
        settings = {k: v for k, v in self.config.to_dict().items() if k not in free}
        if config_path.is_file():
            # a setting added after the run was made counts as its default
            defaults = {f.name: f.default for f in dataclasses.fields(FitConfig) if f.default is not dataclasses.MISSING}
            previous = {**json.loads(json.dumps(defaults)), **json.loads(config_path.read_text())}
            if {k: v for k, v in previous.items() if k not in free} != json.loads(json.dumps(settings)):
                raise InputError(f"{self.out}: holds a run with other settings; use a new --out folder")
        write_text(config_path, json.dumps({**self.config.to_dict(), "feature_config":
                                               self.feature_config.to_dict()}, indent=2))
        results = []
        for f in folds:
            interrupt.check()
            results.append(self.run_fold(f))
        summary = summarise(results, self.config.targets)
        summary.update({"arch": self.config.arch, "split": self.config.split, "n": len(self.data.ids)})
        if self.config.final:
            summary["final"] = self.run_final([r["kernel_ridge"]["weight"] for r in results if "kernel_ridge" in r])
        write_text(self.out / rf.METRICS, json.dumps(summary, indent=2))
        write_text(self.out / "metrics.csv", metrics_table(results, self.config.targets).to_csv(index=False))
        return summary

    def run_final(self, fold_shares: list[float] | None = None) -> dict:
        """The model fitted on all trainable rows. Under --kernel-ridge its blend takes the median of
        ``fold_shares``, the shares the folds' early-stopping splits chose (one split's choice is
        noisy: bench/results/blend_share.md)."""
        folder = rf.final_dir(self.out)
        if (folder / rf.MODEL).is_file():
            return json.loads((folder / rf.FINAL_INFO).read_text())
        interrupt.check()
        everything = trainable_rows(self.data.table)
        val = final_holdout(self.data.table, self.config.val_fraction, self.config.seed + 1000)
        folder.mkdir(parents=True, exist_ok=True)
        share = float(np.median(fold_shares)) if fold_shares else None
        model, spec, kernel = self._fit_model(np.setdiff1d(everything, val), val, self.config.seed + 1000,
                                              folder / "history.csv", "final model", share)
        if kernel is not None and fold_shares:
            kernel["fold_weights"] = list(fold_shares)
        self._save_model(model, spec, folder)
        info = {"n_train": len(everything) - len(val), "n_val": len(val),
                "epochs": len(pd.read_csv(folder / "history.csv"))}
        if kernel is not None:
            info["kernel_ridge"] = kernel
        write_text(folder / rf.FINAL_INFO, json.dumps(info, indent=2))
        return info


def summarise(results: list[dict], targets) -> dict:
    """The model's and every baseline's metrics, each the mean over folds."""
    names = [n for n in results[0]["baselines"] if all(n in r["baselines"] for r in results)]
    return {"folds": len(results),
            "model": aggregate([r["model"] for r in results], targets),
            "baselines": {n: aggregate([r["baselines"][n] for r in results], targets) for n in names}}


def metrics_table(results: list[dict], targets) -> pd.DataFrame:
    """Long table: fold (or 'mean'), dimension, the model's r2, r, mae, within-passage r2 and r, and
    each baseline's r2 and within-passage r2."""
    rows = []
    for r in results:
        for t in targets:
            row = {"fold": str(r["fold"]), "dimension": t, **r["model"]["per_dimension"][t]}
            within = r["model"].get("within_passage", {}).get("per_dimension", {}).get(t, {})
            row.update({"within_r2": within.get("r2"), "within_r": within.get("r")})
            for name, b in r["baselines"].items():
                row[f"{name}_r2"] = b["per_dimension"][t]["r2"]
                row[f"{name}_within_r2"] = b.get("within_passage", {}).get("per_dimension", {}).get(t, {}).get("r2")
            rows.append(row)
    df = pd.DataFrame(rows)
    numeric = [c for c in df.columns if c not in ("fold", "dimension")]
    mean = df.groupby("dimension", sort=False)[numeric].mean().reset_index()
    mean.insert(0, "fold", "mean")
    return pd.concat([df, mean], ignore_index=True)


def fit(config: FitConfig, out: str | os.PathLike, progress: bool = True) -> dict:
    return Trainer(config, out, progress).run()
