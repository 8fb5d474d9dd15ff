"""Join a feature store with its labelled manifest, and cut it into cross-validation folds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pianokit.manifest import read_manifest
from pianokit.dimensions import DIMENSIONS
from pianokit.errors import InputError
from pianokit.store import FeatureStore
from pianokit.variants import role_mask

SPLITS = ("passage", "performer")
PERFORMER_TEST_GROUPS = (1, 2)


@dataclass
class TrainingData:
    """Labelled examples in one order: ids, ratings (n, 19), features (n, F), mels [(T, n_mels)], and
    MIDI-derived features (n, S) for the symbolic reference when the manifest names MIDI files."""

    store: FeatureStore
    table: pd.DataFrame
    labels: np.ndarray
    features: np.ndarray
    mels: list[np.ndarray] | None
    symbolic: np.ndarray | None = None
    not_extracted: int = 0

    @property
    def ids(self) -> list[str]:
        return list(self.table["segment_id"])

    @property
    def passages(self) -> np.ndarray:
        """The id of the music each row plays, for the within-passage metric (passage, else segment)."""
        column = "passage" if "passage" in self.table.columns else "segment_id"
        return self.table[column].astype(str).to_numpy()

    def groups(self, columns: tuple[str, ...]) -> np.ndarray:
        """One label per row joining the manifest ``columns`` (e.g. source_id: the segment a render or
        augmented variant was made from; a missing source_id is the row's own segment_id)."""
        own = self.table["segment_id"]
        source = self.table.get("source_id", own)
        blank = source.isna() | (source.astype(str).str.strip() == "")
        table = self.table.assign(source_id=source.where(~blank, own))
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise InputError(f"the manifest has no {', '.join(missing)} column(s), needed by --consistency-by")
        return table[list(columns)].astype(str).agg("\x1f".join, axis=1).to_numpy()


def load_training_data(store_dir: str | os.PathLike, manifest: str | os.PathLike | None = None,
                       with_mels: bool = True) -> TrainingData:
    """Labelled rows of ``manifest`` (default: the manifest.csv saved in the store) that the store holds;
    ``not_extracted`` counts the others."""
    store = FeatureStore.open(store_dir)
    manifest = Path(manifest) if manifest else store.root / "manifest.csv"
    if not manifest.is_file():
        raise InputError(f"{manifest}: no labelled manifest; pass --manifest (extract --manifest saves one)")
    table = read_manifest(manifest, labelled=True)
    known = set(store.table["id"].astype(str))
    in_store = table["segment_id"].astype(str).isin(known)
    table = table[in_store].reset_index(drop=True)
    if len(table) < 8:
        raise InputError(f"{store.root}: only {len(table)} labelled recordings in the store; need at least 8")
    ids = list(table["segment_id"].astype(str))
    labels = table[list(DIMENSIONS)].to_numpy(np.float32)
    features = store.features(ids)
    mels = [store.mel(i).T.astype(np.float16) for i in ids] if with_mels else None
    return TrainingData(store, table, labels, features, mels, symbolic_features(table, store.root),
                        int((~in_store).sum()))


def symbolic_features(table: pd.DataFrame, store_root: Path) -> np.ndarray | None:
    """MIDI-derived features per row (cached in STORE/symbolic.csv); None without a usable midi column."""
    from pianokit import symbolic

    if "midi" not in table.columns:
        return None
    paths = {str(i): str(m) for i, m in zip(table["segment_id"], table["midi"]) if isinstance(m, str) and m}
    if not paths:
        return None
    found = symbolic.feature_table(paths, store_root / "symbolic.csv")
    return found.reindex(table["segment_id"].astype(str)).to_numpy(np.float64)


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
    """Indices (from ``candidates``) of a random ``fraction`` of their groups (whole groups only)."""
    unique = np.unique(groups[candidates])
    rng = np.random.default_rng(seed)
    chosen = rng.choice(unique, size=max(1, int(round(fraction * len(unique)))), replace=False)
    return candidates[np.isin(groups[candidates], chosen)]


def straddling_groups(groups: np.ndarray, fold: Fold) -> list:
    """Groups with segments on more than one side of ``fold`` (train / val / test); empty when leak-free."""
    sides = [set(groups[idx]) for idx in (fold.train, fold.val, fold.test)]
    return sorted({g for i, a in enumerate(sides) for b in sides[i + 1:] for g in a & b}, key=str)


def check_no_straddle(table: pd.DataFrame, folds: list[Fold], column: str) -> None:
    """Refuse folds where one ``column`` group (e.g. overlapping passages) sits on two sides of a split."""
    groups = table[column].astype(str).to_numpy()
    for fold in folds:
        bad = straddling_groups(groups, fold)
        if bad:
            raise InputError(f"fold {fold.index}: {column} {bad[0]!r} (and {len(bad) - 1} more) has segments on "
                             "both sides of a train/validation/test split; the folds leak")


def make_folds(table: pd.DataFrame, split: str = "passage", n_folds: int = 4, seed: int = 0,
               val_fraction: float = 0.15) -> list[Fold]:
    """Cross-validation folds following the benchmark protocol (docs/training.md).

    passage: test = fold_passage == k; early-stopping validation = a random ``val_fraction`` of the
    remaining *passage groups* (passages whose notes overlap), so the same notes never sit in two of
    train/val/test. A fold column that splits a passage group is refused.
    performer: test = performer groups {1, 2} for every fold; fold k validates on groups
    {2k+3, 2k+4} and trains on the rest. Performer groups never straddle a split.
    """
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; choose {' or '.join(SPLITS)}")
    index = np.arange(len(table))
    folds = []
    if split == "passage":
        _require(table, ("passage_group", "fold_passage"), split)
        fold_ids = sorted(table["fold_passage"].unique())
        if n_folds > len(fold_ids):
            raise InputError(f"--folds {n_folds} but the manifest has only {len(fold_ids)} passage folds")
        groups = table["passage_group"].astype(str).to_numpy()
        fold_of = table["fold_passage"].to_numpy()
        for k in fold_ids[:n_folds]:
            test, rest = index[fold_of == k], index[fold_of != k]
            val = group_holdout(groups, rest, val_fraction, seed + int(k))
            folds.append(Fold(int(k), np.setdiff1d(rest, val), val, test))
        check_no_straddle(table, folds, "passage_group")
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
        check_no_straddle(table, folds, "performer_group")
    return _apply_roles(table, folds)


def _apply_roles(table: pd.DataFrame, folds: list[Fold]) -> list[Fold]:
    """Keep only trainable rows in train/validation and only evaluated rows in test (manifest
    ``train`` / ``eval`` columns, pianokit.variants); a fold left without either is refused."""
    trainable, evaluated = role_mask(table, "train"), role_mask(table, "eval")
    out = []
    for fold in folds:
        kept = Fold(fold.index, fold.train[trainable[fold.train]], fold.val[trainable[fold.val]],
                    fold.test[evaluated[fold.test]])
        emptied = [len(a) and not len(b) for a, b in zip((fold.train, fold.val, fold.test), (kept.train, kept.val, kept.test))]
        if any(emptied):
            raise InputError(f"fold {fold.index}: no rows left to train, validate or test on after the manifest's "
                             "train/eval columns")
        out.append(kept)
    return out


def split_groups(table: pd.DataFrame) -> np.ndarray:
    """What a split must keep whole, per row: the passage group, else the passage, else the row."""
    for column in ("passage_group", "passage", "segment_id"):
        if column in table.columns:
            return table[column].astype(str).to_numpy()
    return np.arange(len(table)).astype(str)


def final_holdout(table: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Early-stopping rows for a model fit on all trainable data: whole passage groups (else passages,
    else rows), drawn among rows the manifest lets train."""
    return group_holdout(split_groups(table), np.flatnonzero(role_mask(table, "train")), fraction, seed)


def trainable_rows(table: pd.DataFrame) -> np.ndarray:
    """Indices of the rows a model may be trained on (all, unless the manifest has a train column)."""
    return np.flatnonzero(role_mask(table, "train"))
