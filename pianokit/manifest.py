"""Manifest I/O: any labelled (or unlabelled) list of recordings as CSV, read with one-line errors and
written atomically. Paths in a manifest are relative to its folder."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pianokit.atomic import atomic_path, write_text
from pianokit.dimensions import DIMENSIONS
from pianokit.errors import InputError
from pianokit.safety import check_id, printable

PATH_COLUMNS = ("audio", "midi")


def read_csv(path: str | os.PathLike, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV, failing with one line if it is missing, unparsable or lacks a required column.
    Spreadsheet exports are read too: a byte-order mark, UTF-16 ("Unicode text"), ';' or tab
    separators, and decimal commas in number columns of a file that is not comma-separated."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    encoding, sep = _dialect(path)
    try:
        df = pd.read_csv(path, sep=sep, encoding=encoding, dtype={c: str for c in ("segment_id", "audio", "midi")})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError, ValueError) as exc:
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: not a readable CSV ({printable(detail, 120)})") from None
    if sep != ",":
        _read_decimal_commas(df)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    return df


def _dialect(path: Path) -> tuple[str, str]:
    """(encoding, separator): UTF-16 when the file starts with its byte-order mark, else UTF-8 (a BOM
    skipped); ',' unless the header line has none and has ';' or a tab."""
    with open(path, "rb") as f:
        head = f.read(65536)
    encoding = "utf-16" if head[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    header = head.decode(encoding, errors="ignore").lstrip("\ufeff").split("\n", 1)[0]
    if "," in header:
        return encoding, ","
    return encoding, next((sep for sep in (";", "\t") if sep in header), ",")


def _read_decimal_commas(df: pd.DataFrame) -> None:
    """Columns of numbers written with a decimal comma (0,5) made numeric, in place."""
    for column in df.columns:
        if column in ("segment_id", "audio", "midi") or not pd.api.types.is_string_dtype(df[column]):
            continue
        text = df[column].dropna().astype(str).str.strip()
        if len(text) and text.str.fullmatch(r"[-+]?\d*,?\d+").all() and text.str.contains(",").any():
            df[column] = pd.to_numeric(df[column].str.strip().str.replace(",", ".", regex=False))


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def absolute_paths(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its PATH_COLUMNS made absolute (in place; blanks kept)."""
    for column in PATH_COLUMNS:
        if column in df.columns:
            df[column] = [str(Path(p).resolve()) if isinstance(p, str) and p else p for p in df[column]]
    return df


def save_store_manifest(df: pd.DataFrame, store: str | os.PathLike) -> Path | None:
    """Write STORE/manifest.csv, paths made absolute. A different manifest already there is kept as
    STORE/manifest.previous.csv, whose path is returned (None when nothing was replaced)."""
    target, previous = Path(store, "manifest.csv"), Path(store, "manifest.previous.csv")
    text = absolute_paths(df).to_csv(index=False)
    old = target.read_text() if target.is_file() else text
    if old != text:
        write_text(previous, old)
    write_text(target, text)
    return previous if old != text else None


def check_ratings(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Ratings must be numbers, present, finite and within [0, 1]; they are made float in place."""
    for column in DIMENSIONS:
        values = pd.to_numeric(df[column], errors="coerce")
        if (values.isna() & df[column].notna()).any():
            raise InputError(f"{path}: non-numeric rating in column {column}")
        df[column] = values.astype(float)
    ratings = df[list(DIMENSIONS)]
    if ratings.isna().any().any():
        bad = ratings.columns[ratings.isna().any()].tolist()
        raise InputError(f"{path}: missing (NaN) ratings in column(s) {', '.join(bad)}")
    if not ((ratings >= 0) & (ratings <= 1)).all().all():
        raise InputError(f"{path}: ratings must lie in [0, 1] (PercePiano's mean rating / 7)")


def read_manifest(path: str | os.PathLike, labelled: bool = True) -> pd.DataFrame:
    """A manifest: segment_id and audio (relative to the manifest's folder), plus ratings if ``labelled``.

    An optional ``midi`` column (also relative to the manifest) feeds the symbolic reference baseline.
    """
    required = ("segment_id", "audio", *DIMENSIONS) if labelled else ("segment_id", "audio")
    df = read_csv(path, required)
    if df.empty:
        raise InputError(f"{path}: no rows, only a header; list one recording per row")
    df["segment_id"] = [check_id(i, path) if isinstance(i, str) else check_id(None, path) for i in df["segment_id"]]
    empty = [i for i, a in enumerate(df["audio"]) if not isinstance(a, str) or not a.strip()]
    if empty:
        raise InputError(f"{path}: empty audio cell in data row {empty[0] + 1}")
    if df["segment_id"].duplicated().any():
        dup = df.loc[df["segment_id"].duplicated(), "segment_id"].iloc[0]
        raise InputError(f"{path}: duplicate segment_id {dup!r}")
    if labelled:
        check_ratings(df, path)
    base = Path(path).parent
    for column in PATH_COLUMNS:
        if column in df.columns:
            df[column] = [p if not isinstance(p, str) or Path(p).is_absolute() else str(base / p)
                          for p in df[column]]
    return df
