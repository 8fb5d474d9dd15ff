"""Join a feature store with its labelled manifest, and cut it into cross-validation folds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pianokit.dataset import read_manifest
from pianokit.dimensions import DIMENSIONS
from pianokit.errors import InputError
from pianokit.store import FeatureStore

SPLITS = ("passage", "performer")
PERFORMER_TEST_GROUPS = (1, 2)


@dataclass
class TrainingData:
    """Labelled examples in one order: ids, ratings (n, 19), features (n, F), mels [(T, n_mels)]."""

    store: FeatureStore
    table: pd.DataFrame
    labels: np.ndarray
    features: np.ndarray
    mels: list[np.ndarray] | None

    @property
    def ids(self) -> list[str]:
        return list(self.table["segment_id"])


def load_training_data(store_dir: str | os.PathLike, manifest: str | os.PathLike | None = None,
                       with_mels: bool = True) -> TrainingData:
    """Labelled rows of ``manifest`` (default: the manifest.csv saved in the store) that the store holds."""
    store = FeatureStore.open(store_dir)
    manifest = Path(manifest) if manifest else store.root / "manifest.csv"
    if not manifest.is_file():
        raise InputError(f"{manifest}: no labelled manifest; pass --manifest (extract --manifest saves one)")
    table = read_manifest(manifest, labelled=True)
    known = set(store.table["id"].astype(str))
    table = table[table["segment_id"].astype(str).isin(known)].reset_index(drop=True)
    if len(table) < 8:
        raise InputError(f"{store.root}: only {len(table)} labelled recordings in the store; need at least 8")
    ids = list(table["segment_id"].astype(str))
    labels = table[list(DIMENSIONS)].to_numpy(np.float32)
    features = store.features(ids)
    mels = [store.mel(i).T.astype(np.float16) for i in ids] if with_mels else None
    return TrainingData(store, table, labels, features, mels)


@dataclass(frozen=True)
class Fold:
    index: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def _require(table: pd.DataFrame, columns: tuple[str, ...], split: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"the manifest has no {', '.join(missing)} column(s), needed by --split {split}")


def group_holdout(groups: np.ndarray, candidates: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices (from ``candidates``) of a random ``fraction`` of their groups."""
    unique = np.unique(groups[candidates])
    rng = np.random.default_rng(seed)
    chosen = rng.choice(unique, size=max(1, int(round(fraction * len(unique)))), replace=False)
    return candidates[np.isin(groups[candidates], chosen)]


def make_folds(table: pd.DataFrame, split: str = "passage", n_folds: int = 4, seed: int = 0,
               val_fraction: float = 0.15) -> list[Fold]:
    """Cross-validation folds following DESIGN.md.

    passage: test = fold_passage == k; early-stopping validation = a random ``val_fraction`` of the
    remaining passages, so the same notes never sit in two of train/val/test.
    performer: test = performer groups {1, 2} for every fold; fold k validates on groups
    {2k+3, 2k+4} and trains on the rest.
    """
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; choose {' or '.join(SPLITS)}")
    index = np.arange(len(table))
    folds = []
    if split == "passage":
        _require(table, ("passage", "fold_passage"), split)
        fold_ids = sorted(table["fold_passage"].unique())
        if n_folds > len(fold_ids):
            raise InputError(f"--folds {n_folds} but the manifest has only {len(fold_ids)} passage folds")
        passages = table["passage"].to_numpy()
        for k in fold_ids[:n_folds]:
            test = index[table["fold_passage"].to_numpy() == k]
            rest = index[table["fold_passage"].to_numpy() != k]
            val = group_holdout(passages, rest, val_fraction, seed + int(k))
            folds.append(Fold(int(k), np.setdiff1d(rest, val), val, test))
    else:
        _require(table, ("performer_group",), split)
        groups = table["performer_group"].to_numpy()
        test = index[np.isin(groups, PERFORMER_TEST_GROUPS)]
        for k in range(n_folds):
            val = index[np.isin(groups, (2 * k + 3, 2 * k + 4))]
            if len(val) == 0 or len(test) == 0:
                raise InputError(f"performer fold {k}: no segments in performer groups {2 * k + 3}, {2 * k + 4} or 1, 2")
            train = np.setdiff1d(index, np.concatenate([val, test]))
            folds.append(Fold(k, train, val, test))
    return folds
