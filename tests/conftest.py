"""Synthetic audio fixtures made by the tests themselves (no network, no shipped data)."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from pianokit.dimensions import DIMENSIONS
from pianokit.extract import run_extract

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config):
    """Under pytest-xdist, before the workers start: librosa's numba functions compiled and cached once
    (pianokit.features.compile_in_parent; a clean-clone run segfaulted a worker in peak_pick)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not getattr(config.option, "numprocesses", None):
        return
    from pianokit.features import FeatureConfig, compile_in_parent

    compile_in_parent(FeatureConfig())



def pytest_collection_modifyitems(items):
    """Tests marked slow (long training runs) may take an hour, not the 10 minutes pyproject.toml
    gives every other test before pytest-timeout fails it as hung."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(3600))


SR = 22050


def sine(freq: float = 440.0, seconds: float = 3.0, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def click_track(bpm: float = 120.0, seconds: float = 10.0, sr: int = SR) -> np.ndarray:
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    burst = (np.random.default_rng(0).standard_normal(int(0.01 * sr)) * np.hanning(int(0.01 * sr))).astype(np.float32)
    for start in np.arange(0, seconds - 0.02, 60.0 / bpm):
        i = int(start * sr)
        y[i : i + len(burst)] += 0.8 * burst
    return y


def write_wav(path: Path, y: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, subtype=subtype)
    return path


def tiny_midi(path: Path, notes=((60, 0.0, 0.5), (64, 0.5, 1.0), (67, 1.0, 2.0)), pedal: bool = True,
              velocity: int = 90) -> Path:
    """A one-track MIDI file (120 BPM, 480 ticks per beat) with the given (pitch, start_s, end_s) notes."""
    tpq, events = 480, []
    for pitch, start, end in notes:
        events.append((int(start * 2 * tpq), bytes([0x90, pitch, velocity])))
        events.append((int(end * 2 * tpq), bytes([0x80, pitch, 0])))
    if pedal:
        events += [(0, bytes([0xB0, 64, 127])), (int(notes[-1][2] * 2 * tpq), bytes([0xB0, 64, 0]))]
    events.sort(key=lambda e: e[0])
    track, now = b"", 0
    for tick, msg in events:
        delta, now = tick - now, tick
        var = [delta & 0x7F]
        while delta > 0x7F:
            delta >>= 7
            var.insert(0, (delta & 0x7F) | 0x80)
        track += bytes(var) + msg
    track += b"\x00\xff\x2f\x00"
    data = b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def labelled_manifest(path: Path, audio: list[Path], ratings: np.ndarray | None = None, **extra) -> Path:
    rng = np.random.default_rng(0)
    ratings = rng.uniform(0.2, 0.9, (len(audio), len(DIMENSIONS))) if ratings is None else ratings
    df = pd.DataFrame(ratings, columns=list(DIMENSIONS))
    df.insert(0, "audio", [str(a) for a in audio])
    df.insert(0, "segment_id", [a.stem for a in audio])
    for key, values in extra.items():
        df[key] = values
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def sine_wav(tmp_path) -> Path:
    return write_wav(tmp_path / "sine440.wav", sine())


@pytest.fixture
def bad_audio(tmp_path) -> dict[str, Path]:
    """Every kind of unusable audio file the loader must reject."""
    files = {
        "silent": write_wav(tmp_path / "silent.wav", np.zeros(SR * 2, dtype=np.float32)),
        "short": write_wav(tmp_path / "short.wav", sine(seconds=0.2)),
        "empty": tmp_path / "empty.wav",
        "corrupt": tmp_path / "corrupt.wav",
        "missing": tmp_path / "missing.wav",
        "directory": tmp_path / "adir.wav",
        "odd_rate": write_wav(tmp_path / "4k.wav", sine(seconds=2, sr=4000), sr=4000),
        "pipe": tmp_path / "pipe.wav",
        "dangling_link": tmp_path / "link.wav",
    }
    os.mkfifo(files["pipe"])  # was called an 'empty file'
    files["dangling_link"].symlink_to(tmp_path / "moved.wav")
    files["empty"].write_bytes(b"")
    files["corrupt"].write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is not audio" * 3)
    files["directory"].mkdir()
    return files


def soundfont_available() -> bool:
    from pianokit.render import DEBIAN_SOUNDFONTS

    return shutil.which("fluidsynth") is not None and any(Path(p).is_file() for p in DEBIAN_SOUNDFONTS)


needs_fluidsynth = pytest.mark.skipif(
    not soundfont_available(), reason="fluidsynth and a Debian SoundFont are not installed"
)


@pytest.fixture(scope="session")
def planted_store(tmp_path_factory):
    """48 three-partial tones (8 passages x 6 players, random pitch and recording level) whose
    timbre_soft_loud rating is a planted function of how hard the key was struck, heard as
    brightness (upper partials grow with it, as on a piano; the recording level is random and
    features are level-normalised), other ratings noise; extracted into a store with its manifest.
    Each tone also has a MIDI file whose key velocity follows the same strike (symbolic reference).
    Passages 2k and 2k+1 overlap (one passage_group), as PercePiano's 8- and 16-bar segments do."""
    root = tmp_path_factory.mktemp("planted")
    rng = np.random.default_rng(7)
    rows, inputs = [], []
    t = np.arange(int(1.5 * SR)) / SR
    for passage in range(8):
        for player in range(6):
            f0 = 200 * 2 ** rng.uniform(0, 1)
            loud = rng.uniform(0, 1)  # how hard the key was struck
            partials = [np.sin(2 * np.pi * k * f0 * t) * (0.05 + 0.9 * loud) ** (k - 1) for k in (1, 2, 3)]
            y = rng.uniform(0.02, 0.3) * sum(partials) * np.exp(-t)
            sid = f"p{passage}_{player}"
            path = write_wav(root / "audio" / f"{sid}.wav", y.astype("float32"))
            ratings = np.clip(0.5 + 0.02 * rng.standard_normal(19), 0, 1)
            ratings[DIMENSIONS.index("timbre_soft_loud")] = 0.15 + 0.7 * loud
            midi = tiny_midi(root / "midi" / f"{sid}.mid", velocity=int(20 + 100 * loud),
                             notes=((int(57 + 12 * np.log2(f0 / 220)), 0.0, 1.5),))
            rows.append({"segment_id": sid, "audio": str(path), "midi": str(midi), "player": str(player),
                         "passage": f"p{passage}", "passage_group": f"g{passage // 2}",
                         "fold_passage": (passage // 2) % 4, "performer_group": player + 1,
                         **dict(zip(DIMENSIONS, ratings))})
            inputs.append((sid, path))
    store = root / "store"
    run_extract(inputs, store, jobs=1, progress=False)
    pd.DataFrame(rows).to_csv(store / "manifest.csv", index=False)
    return store


def piano_phrase(rng: np.random.Generator, seconds: float = 3.0, sr: int = SR) -> np.ndarray:
    """Struck, decaying harmonic notes at random pitches and times, each cut by a 30 ms damper release:
    a dry piano-like phrase."""
    y = np.zeros(int(seconds * sr))
    start = 0.0
    while start < seconds - 0.3:
        f0 = 440.0 * 2 ** ((rng.integers(48, 84) - 69) / 12)
        length = rng.uniform(0.15, 0.6)
        t = np.arange(int((length + 0.03) * sr)) / sr
        note = sum(np.sin(2 * np.pi * k * f0 * t) * 0.5 ** k for k in (1, 2, 3, 4)) * np.exp(-t / rng.uniform(0.4, 1.2))
        note *= np.clip((length + 0.03 - t) / 0.03, 0, 1) * rng.uniform(0.2, 1.0)
        i = int(start * sr)
        y[i:i + len(note)] += note[: len(y) - i]
        start += rng.uniform(0.1, 0.4)
    return (0.3 * y / np.abs(y).max()).astype(np.float32)


def in_room(y: np.ndarray, rt60: float, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """``y`` through a direct sound plus an exponentially decaying noise tail of ``rt60`` seconds
    (direct-to-reverberant ratio 0 dB), cut to its length, peak kept."""
    from scipy.signal import fftconvolve

    t = np.arange(int(1.5 * rt60 * sr)) / sr
    tail = rng.standard_normal(len(t)) * np.exp(-6.91 * t / rt60)
    tail[: int(0.005 * sr)] = 0.0
    ir = tail / np.sqrt(np.sum(tail**2))
    ir[0] += 1.0
    wet = fftconvolve(y, ir)[: len(y)]
    return (wet * np.abs(y).max() / np.abs(wet).max()).astype(np.float32)
