"""The feature store: a folder any tool can read.

    STORE/config.json     the FeatureConfig that made it
    STORE/features.csv    one row per recording: id, audio, source stat, duration, frames, features
    STORE/features.part-NNNNNN.csv   rows an extraction has checkpointed but not yet folded into
                          features.csv (only while it runs, or after it was killed; the next run folds them)
    STORE/mels/<id>.npy   float16 log-mel spectrogram, shape (n_mels, frames)
    STORE/failures.csv    files the last extraction could not read, with the reason
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pianokit.atomic import atomic_path, write_text
from pianokit.errors import InputError, os_reason
from pianokit.contract import check_computable
from pianokit.features import FeatureConfig
from pianokit.safety import check_id, is_safe_id, own_folder, printable

META_COLUMNS = ("id", "audio", "source_size", "source_mtime_ns", "duration_s", "frames")
PART_GLOB = "features.part-*.csv"


class FeatureStore:
    """Read and write one feature store folder."""

    def __init__(self, root: str | os.PathLike, config: FeatureConfig):
        self.root = Path(root)
        self.config = config
        self._table: pd.DataFrame | None = None
        self._sources: dict[str, tuple[int, int]] | None = None  # id -> (size, mtime) of its audio

    @classmethod
    def open(cls, root: str | os.PathLike) -> "FeatureStore":
        root = Path(root)
        cfg_path = root / "config.json"
        if not cfg_path.is_file():
            raise InputError(f"{root}: not a feature store (no config.json); run 'pianokit extract' first")
        try:
            config = FeatureConfig.from_dict(json.loads(cfg_path.read_text()))
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            raise InputError(f"{cfg_path}: unreadable FeatureConfig ({printable(exc, 160)})") from None
        check_computable(config.version, f"{root}: store made by", "extract into a new store")
        return cls(root, config)

    @classmethod
    def create(cls, root: str | os.PathLike, config: FeatureConfig) -> "FeatureStore":
        """Open ``root`` for writing with ``config``; refuses a store made with other settings."""
        root = own_folder(root, "config.json", "feature store")
        if (root / "config.json").exists():
            store = cls.open(root)
            if store.config.version != config.version:
                raise InputError(f"{root}: store was made by feature code version {store.config.version} and this "
                                 f"pianokit extracts version {config.version}; use a new --out folder (the store "
                                 "still trains, and models trained on it still score)")
            if store.config != config:
                had, asked = store.config.to_dict(), config.to_dict()
                differ = ", ".join(f"{k} {printable(had.get(k, 'none'), 40)} here, {printable(asked.get(k, 'none'), 40)} asked"
                                   for k in sorted(set(had) | set(asked)) if had.get(k) != asked.get(k))
                raise InputError(
                    f"{root}: store was made with another FeatureConfig ({printable(differ, 200)}); give the same "
                    "settings or use a new --out folder"
                )
            return store
        try:
            (root / "mels").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{root}: cannot create the feature store ({os_reason(exc)})") from None
        write_text(root / "config.json", json.dumps(config.to_dict(), indent=2))
        return cls(root, config)

    def remove_own_files(self, root_created: bool) -> None:
        """Undo a store this run created and filled with nothing: remove only the files a store is made
        of, never anything else, and the folder itself only if this run created it and it is empty."""
        for name in ("features.csv", "failures.csv", "config.json", ".pianokit.lock"):
            (self.root / name).unlink(missing_ok=True)
        for part in self._parts():
            part.unlink(missing_ok=True)
        for folder in (self.root / "mels", *((self.root,) if root_created else ())):
            try:
                folder.rmdir()
            except OSError:
                pass

    @property
    def table(self) -> pd.DataFrame:
        if self._table is None:
            path = self.root / "features.csv"
            tables = [self._read(p) for p in (path, *self._parts()) if p.is_file()]
            table = self._frame([]) if not tables else tables[0] if len(tables) == 1 else self._merged(tables)
            numeric = [*META_COLUMNS[2:], *self.config.features]
            if len(table) and not all(pd.api.types.is_numeric_dtype(table[c]) for c in numeric):
                bad = next(c for c in numeric if not pd.api.types.is_numeric_dtype(table[c]))
                raise InputError(f"{path}: column {bad} holds non-numbers; delete the store and extract again")
            bad_ids = [i for i in table["id"] if not is_safe_id(i)]
            if bad_ids:
                raise InputError(f"{path}: unusable id {printable(bad_ids[0], 60)!r}")
            self._table = table
        return self._table

    def mel_path(self, item_id: str) -> Path:
        return self.root / "mels" / f"{check_id(item_id, self.root)}.npy"

    def mel(self, item_id: str) -> np.ndarray:
        path = self.mel_path(item_id)
        if not path.is_file():
            raise InputError(f"{path}: missing from the feature store; rerun 'pianokit extract'")
        return np.load(path).astype(np.float32)

    def features(self, ids, names=None) -> np.ndarray:
        """Feature matrix (len(ids), len(names)) in the order asked."""
        names = list(names or self.config.features)
        table = self.table.set_index("id")
        missing = [i for i in ids if i not in table.index]
        if missing:
            raise InputError(f"{self.root}: {len(missing)} id(s) not in the store, e.g. {missing[0]!r}")
        return table.loc[list(ids), names].to_numpy(dtype=np.float32)

    def is_current(self, item_id: str, audio: Path) -> bool:
        """True when ``item_id`` was extracted from ``audio`` as it is now."""
        if self._sources is None:
            t = self.table
            self._sources = dict(zip(t["id"], zip(t["source_size"].astype(int), t["source_mtime_ns"].astype(int))))
        known = self._sources.get(item_id)
        if known is None or not self.mel_path(item_id).is_file():
            return False
        stat = audio.stat()
        return known == (stat.st_size, stat.st_mtime_ns)

    def write_mel(self, item_id: str, mel: np.ndarray) -> None:
        with atomic_path(self.mel_path(item_id)) as tmp, tmp.open("wb") as fh:
            np.save(fh, mel.astype(np.float16))

    def update(self, rows: list[dict]) -> None:
        """Replace or add rows, rewrite features.csv atomically with them and any checkpointed rows,
        and remove the part files that held those."""
        parts = self._parts()
        if not rows and not parts:
            return
        self._add(rows)
        with atomic_path(self.root / "features.csv") as tmp:
            self._table.to_csv(tmp, index=False)
        for part in parts:
            part.unlink(missing_ok=True)

    def checkpoint(self, rows: list[dict]) -> None:
        """Replace or add rows, saved atomically as a new part file beside features.csv: a cost that
        grows with the rows, not with the store (rewriting features.csv at 14k rows takes 2 s).
        ``table`` reads the parts; ``update`` folds them into features.csv."""
        if not rows:
            return
        self._add(rows)
        parts = self._parts()
        number = int(parts[-1].stem.rsplit("-", 1)[1]) + 1 if parts else 0
        with atomic_path(self.root / f"features.part-{number:06d}.csv") as tmp:
            self._frame(rows).to_csv(tmp, index=False)

    def _add(self, rows: list[dict]) -> None:
        self._table = self._merged([self.table, self._frame(rows)])
        self._sources = None

    def _frame(self, rows: list[dict]) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=[*META_COLUMNS, *self.config.features])

    @staticmethod
    def _merged(tables: list[pd.DataFrame]) -> pd.DataFrame:
        """The tables' rows, a later table's row replacing an earlier one with its id, sorted by id."""
        frames = [df for df in tables if not df.empty] or tables[:1]
        table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return table.drop_duplicates("id", keep="last").sort_values("id", ignore_index=True)

    def _parts(self) -> list[Path]:
        return sorted(self.root.glob(PART_GLOB))

    def _read(self, path: Path) -> pd.DataFrame:
        try:
            table = pd.read_csv(path, dtype={"id": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError):
            raise InputError(f"{path}: not a readable feature table; delete the store and extract again") from None
        missing = [c for c in (*META_COLUMNS, *self.config.features) if c not in table.columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing[:5])}")
        return table

    def write_failures(self, failures: list[tuple[str, str, str]]) -> None:
        df = pd.DataFrame(failures, columns=["id", "audio", "error"])
        with atomic_path(self.root / "failures.csv") as tmp:
            df.to_csv(tmp, index=False)
