"""PercePiano: read the source folder, render it, and write its labelled manifest (pianokit.manifest)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pianokit.dimensions import DIMENSIONS
from pianokit.errors import InputError
from pianokit.parallel import run_parallel
from pianokit.render import find_fluidsynth, find_soundfont, render_midi
from pianokit.soundfont import for_rendering
from pianokit.manifest import check_ratings, read_csv, write_csv_atomic
from pianokit.safety import own_folder, stop_if_disk_full

SOURCE_FILES = ("midi", "manifest.csv", "folds.csv", "labels_mean.json")
SOURCE_MANIFEST_COLUMNS = ("segment_id", "piece", "player", "has_label", *DIMENSIONS)
FOLD_COLUMNS = ("segment_id", "passage", "passage_group", "fold_passage", "performer_group")
MANIFEST_COLUMNS = ("segment_id", "audio", "midi", "piece", "player", "performer", "passage", "passage_group",
                    "fold_passage", "performer_group")


def segment_id(midi: Path) -> str:
    """The segment id of a MIDI file (one upstream file name has a stray leading space)."""
    return midi.stem.strip()


@dataclass(frozen=True)
class Source:
    """A folder laid out like ../shared/percepiano."""

    root: Path

    @classmethod
    def open(cls, root: str | os.PathLike) -> "Source":
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"{root}: no such directory")
        missing = [name for name in SOURCE_FILES if not (root / name).exists()]
        if missing:
            raise InputError(f"{root}: not a PercePiano folder (missing {', '.join(missing)})")
        return cls(root)

    def midi_files(self) -> list[Path]:
        return sorted((self.root / "midi").glob("*.mid"))

    def labelled_segments(self) -> pd.DataFrame:
        """Source manifest rows with labels, joined to both fold columns."""
        manifest = read_csv(self.root / "manifest.csv", SOURCE_MANIFEST_COLUMNS)
        folds = read_csv(self.root / "folds.csv", FOLD_COLUMNS)
        labelled = manifest[manifest["has_label"] == 1]
        df = labelled.merge(folds, on="segment_id", how="left", validate="one_to_one")
        if df["fold_passage"].isna().any():
            seg = df.loc[df["fold_passage"].isna(), "segment_id"].iloc[0]
            raise InputError(f"{self.root / 'folds.csv'}: no fold for segment {seg!r}")
        check_ratings(df, self.root / "manifest.csv")
        return df


def performer(piece: str, player: object) -> str:
    """A pianist's identity: PercePiano numbers its players separately for the Beethoven and the
    Schubert recordings (its performer groups pair Beethoven player 2 with Schubert player 1), so the
    composer is part of who plays."""
    return f"{str(piece).split('_')[0]}_{player}"


def build_manifest(segments: pd.DataFrame, midi: dict[str, str], audio_dir_name: str = "audio",
                   soundfont: str = "") -> pd.DataFrame:
    """The labelled manifest; ``midi`` maps segment ids to MIDI paths relative to the manifest's folder,
    ``soundfont`` names the piano that rendered the audio."""
    out = segments.copy()
    out["soundfont"] = soundfont
    out["audio"] = [f"{audio_dir_name}/{seg}.wav" for seg in out["segment_id"]]
    out["midi"] = [midi.get(seg, "") for seg in out["segment_id"]]
    out["performer"] = [performer(piece, player) for piece, player in zip(out["piece"], out["player"])]
    out["fold_passage"] = out["fold_passage"].astype(int)
    out["performer_group"] = out["performer_group"].astype(int)
    return out[[*MANIFEST_COLUMNS, "soundfont", *DIMENSIONS]]


def prepare_percepiano(
    source: str | os.PathLike,
    out: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    jobs: int = 1,
    sample_rate: int = 22050,
    progress: bool = True,
) -> tuple[pd.DataFrame, list[tuple[Path, str]]]:
    """Render every MIDI of ``source`` into ``out/audio`` (skipping finished files) and write
    ``out/manifest.csv`` of the labelled segments. Returns (manifest, failures)."""
    src = Source.open(source)
    segments = src.labelled_segments()
    font = find_soundfont(soundfont)
    if not font.is_dir():
        find_fluidsynth()
    out = own_folder(out, "audio", "pianokit dataset folder")
    audio_dir = out / "audio"
    todo = [m for m in src.midi_files() if not (audio_dir / f"{segment_id(m)}.wav").exists()]
    render = functools.partial(_render_one, audio_dir=audio_dir, soundfont=for_rendering(font) if todo else font,
                               sample_rate=sample_rate)
    failures = []
    for midi, _, error in run_parallel(render, todo, jobs, "render", threads=True, progress=progress):
        if error:
            failures.append((midi, error))
            stop_if_disk_full(audio_dir, error, "the files rendered so far are kept")
    midi = {segment_id(m): os.path.relpath(m.resolve(), out.resolve()) for m in src.midi_files()}
    manifest = build_manifest(segments, midi, soundfont=font.name)
    rendered = [(out / a).exists() for a in manifest["audio"]]
    write_csv_atomic(manifest[rendered], out / "manifest.csv")
    return manifest[rendered], failures


def _render_one(midi: Path, audio_dir: Path, soundfont: Path, sample_rate: int) -> Path:
    return render_midi(midi, audio_dir / f"{segment_id(midi)}.wav", soundfont, sample_rate=sample_rate)
