"""Training variants of a labelled manifest: augmented recordings, and several renders in one manifest.

Every variant keeps its source segment's labels, passage and fold columns, so the leak-free folds
keep all variants of one passage group on the same side of every split. Two manifest columns say
how a row is used (both default to 1 when absent): ``train`` (may be trained on) and ``eval``
(is scored in the test folds). ``source_id`` names the segment a variant was made from.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pianokit import conditions
from pianokit.atomic import atomic_path
from pianokit.manifest import absolute_paths, read_manifest, write_csv_atomic
from pianokit.errors import InputError
from pianokit.parallel import run_parallel
from pianokit.safety import check_id, makeable, own_folder, stop_if_disk_full

VARIANT_SEPARATOR = "@"
ROLE_COLUMNS = ("train", "eval")


def variant_seed(seed: int, segment_id: str, copy: int) -> np.random.Generator:
    """The generator of one variant: depends on the seed, the segment and the copy, not on run order."""
    return np.random.default_rng([seed, copy, *segment_id.encode()])


def variant_recipe(seed: int, segment_id: str, copy: int, compress_share: float = 0.0,
                   phone_share: float = conditions.PHONE_SHARE) -> conditions.Recipe:
    """The recording recipe of one variant (pianokit.conditions.random_recipe from its own generator)."""
    return conditions.random_recipe(variant_seed(seed, segment_id, copy), compress_share, phone_share)


def _augment_one(job: tuple[str, str, int], audio_dir: Path, seed: int, compress_share: float = 0.0,
                 phone_share: float = conditions.PHONE_SHARE) -> dict:
    import soundfile as sf

    segment_id, audio, copy = job
    variant_id = check_id(f"{segment_id}{VARIANT_SEPARATOR}aug{copy}")
    target = audio_dir / f"{variant_id}.flac"
    recipe = variant_recipe(seed, segment_id, copy, compress_share, phone_share)
    if not target.is_file():
        try:
            y, sr = sf.read(audio, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise InputError(f"{audio}: unreadable audio ({exc})") from None
        out = conditions.apply(y.mean(axis=1), sr, recipe)
        with atomic_path(target) as tmp:
            sf.write(tmp, np.clip(out, -1, 1), sr, format="FLAC", subtype="PCM_16")
    return {"variant_id": variant_id, "audio": str(target.resolve()), "augmentation": recipe.to_json()}


def augment_manifest(manifest: str | os.PathLike, out: str | os.PathLike, copies: int = 1, seed: int = 0,
                     jobs: int = 1, progress: bool = True, compress_share: float = 0.0,
                     phone_share: float = conditions.PHONE_SHARE) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Write ``copies`` randomly recorded variants of every row of ``manifest`` to ``out/audio`` (FLAC)
    and ``out/manifest.csv``; finished files are kept, so a rerun resumes. ``compress_share`` of the
    variants also go through a phone's dynamic range compression, ``phone_share`` through a phone call.
    Returns (manifest, failures)."""
    if copies < 1:
        raise InputError("--copies must be at least 1")
    for option, share in (("--compress-share", compress_share), ("--phone-share", phone_share)):
        if not 0 <= share <= 1:
            raise InputError(f"{option} must lie between 0 and 1")
    source = read_manifest(manifest, labelled=True)
    out = own_folder(out, "audio", "pianokit dataset folder")
    _check_kept_variants(out, seed, compress_share, phone_share)
    worker = functools.partial(_augment_one, audio_dir=out / "audio", seed=seed, compress_share=compress_share,
                               phone_share=phone_share)
    return write_variants(source, out, worker, copies, seed, jobs, progress, "augment")


def _check_kept_variants(out: Path, seed: int, compress_share: float, phone_share: float) -> None:
    """Refuse to resume into a folder whose kept files were drawn otherwise (another --seed,
    --compress-share or --phone-share): they would be listed under recipes they were not made with."""
    previous = out / "manifest.csv"
    if not previous.is_file():
        return
    table = pd.read_csv(previous, usecols=lambda c: c in ("segment_id", "audio", "augmentation"))
    for variant_id, audio, made in zip(table.get("segment_id", ()), table.get("audio", ()),
                                       table.get("augmentation", ())):
        segment_id, _, copy = str(variant_id).rpartition(f"{VARIANT_SEPARATOR}aug")
        if not copy.isdigit() or not Path(str(audio)).is_file():
            continue
        if variant_recipe(seed, segment_id, int(copy), compress_share, phone_share).to_json() != made:
            raise InputError(f"{out}: holds variants made with another --seed, --compress-share or --phone-share "
                             f"(e.g. {variant_id}); choose a new --out folder or the settings it was made with")


def write_variants(source: pd.DataFrame, out: Path, worker, copies: int, seed: int, jobs: int = 1,
                   progress: bool = True, desc: str = "augment") -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Run ``worker((segment_id, audio, copy))`` for copies 1..``copies`` of every row of ``source`` and
    write ``out/manifest.csv``: each row as its source's, with the worker's ``variant_id``, ``audio``
    and ``augmentation``, plus ``source_id`` and ``augment_seed``. Returns (manifest, failures)."""
    (out / "audio").mkdir(parents=True, exist_ok=True)
    jobs_list = [(sid, audio, k) for k in range(1, copies + 1) for sid, audio in zip(source["segment_id"], source["audio"])]
    done, failures = {}, []
    for (sid, audio, k), result, error in run_parallel(worker, jobs_list, jobs, desc, progress=progress):
        if error:
            failures.append((audio, error))
            stop_if_disk_full(out / "audio", error, "the recordings made so far are kept")
        else:
            done[(sid, k)] = result
    rows = []
    by_id = source.set_index("segment_id", drop=False)
    for (sid, k), result in sorted(done.items()):
        row = by_id.loc[sid].to_dict()
        row.update(segment_id=result["variant_id"], audio=result["audio"], source_id=row.get("source_id", sid),
                   augmentation=result["augmentation"], augment_seed=seed)
        rows.append(row)
    table = absolute_paths(pd.DataFrame(rows, columns=[*source.columns, *(
        c for c in ("source_id", "augmentation", "augment_seed") if c not in source.columns)]))
    write_csv_atomic(table, out / "manifest.csv")
    return table, failures


def combine_manifests(named: dict[str, str | os.PathLike], train: list[str] | None = None,
                      eval_names: list[str] | None = None) -> pd.DataFrame:
    """One manifest from several (e.g. one per piano): ids become ``<id>@<name>``, a ``source`` column
    holds the name, ``source_id`` the original segment id; ``train`` / ``eval`` mark the names given
    (all names train and all evaluate when a list is None)."""
    if not named:
        raise InputError("give at least one NAME=MANIFEST")
    unknown = [n for n in (train or []) + (eval_names or []) if n not in named]
    if unknown:
        raise InputError(f"{unknown[0]!r} is not one of the manifest names ({', '.join(named)})")
    parts = []
    for name, path in named.items():
        check_id(name)
        if VARIANT_SEPARATOR in name:
            raise InputError(f"manifest name {name!r} must not contain {VARIANT_SEPARATOR!r}")
        df = read_manifest(path, labelled=True)
        if "source_id" not in df.columns:
            df["source_id"] = df["segment_id"]
        df["segment_id"] = [check_id(f"{i}{VARIANT_SEPARATOR}{name}") for i in df["segment_id"]]
        df["source"] = name
        df["train"] = int(train is None or name in train)
        df["eval"] = int(eval_names is None or name in eval_names)
        parts.append(df)
    table = pd.concat(parts, ignore_index=True)
    if not table["train"].any() or not table["eval"].any():
        raise InputError("the combined manifest needs at least one training and one evaluation source")
    return absolute_paths(table)


def role_mask(table: pd.DataFrame, role: str) -> np.ndarray:
    """Rows that may be used for ``role`` ('train' or 'eval'): the column's 1s, every row without it."""
    if role not in ROLE_COLUMNS:
        raise ValueError(role)
    if role not in table.columns:
        return np.ones(len(table), dtype=bool)
    values = pd.to_numeric(table[role], errors="coerce")
    if values.isna().any() or not values.isin([0, 1]).all():
        raise InputError(f"the manifest's {role} column must hold only 0 and 1")
    return values.to_numpy() == 1


def write_combined(table: pd.DataFrame, out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.exists():
        raise InputError(f"{out}: already exists; choose a new file")
    makeable(out)
    write_csv_atomic(table, out)
    return out


def describe_training_audio(table: pd.DataFrame) -> dict:
    """What audio a model learned from and was scored on, per source of the manifest: rows, roles,
    SoundFont, augmentation (with the ranges pianokit.conditions.RANDOM_RECIPE draws from)."""
    sources = table["source"].astype(str) if "source" in table.columns else pd.Series("all", index=table.index)
    train, evaluated = role_mask(table, "train"), role_mask(table, "eval")
    out: dict = {"sources": {}}
    for name in sorted(set(sources)):
        rows = (sources == name).to_numpy()
        part = table[rows]
        entry = {"rows": int(rows.sum()), "trained_on": bool(train[rows].any()), "evaluated": bool(evaluated[rows].any())}
        if "soundfont" in part.columns:
            entry["soundfont"] = sorted({str(f) for f in part["soundfont"].dropna()})[:5]
        if "augmentation" in part.columns and part["augmentation"].notna().any():
            entry["augmented_rows"] = int(part["augmentation"].notna().sum())
            entry["augment_seeds"] = sorted({int(s) for s in part.get("augment_seed", pd.Series(dtype=float)).dropna()})[:5]
            recipes = part["augmentation"].dropna().astype(str)
            entry["compressed_rows"] = int(recipes.str.contains('"compress"').sum())
            entry["phone_rows"] = int(recipes.str.contains('"phone": true').sum())
        out["sources"][name] = entry
    if any("augmented_rows" in e for e in out["sources"].values()):
        out["augmentation_ranges"] = json_ready(conditions.RANDOM_RECIPE)
    return out


def json_ready(value):
    """Tuples to lists, recursively, for JSON metadata."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value
