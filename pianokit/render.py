"""Render MIDI to mono WAV with the FluidSynth command-line program."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from pianokit.atomic import atomic_path
from pianokit.errors import InputError
from pianokit.soundfont import for_rendering

# Debian's SoundFonts. The compressed .sf3 MuseScore fonts, whose piano is closer to PercePiano's
# audio, are decompressed once into a cached .sf2 (pianokit.soundfont): pass those with --soundfont.
DEBIAN_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
    "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
)
INSTALL_HINT = (
    "install one with 'apt-get install fluidsynth musescore-general-soundfont-small' "
    "(or fluid-soundfont-gm), or pass --soundfont PATH"
)
DEFAULT_GAIN = 0.5
TRIM_THRESHOLD = 10 ** (-70 / 20)  # trailing audio below -70 dBFS is cut
TAIL_SECONDS = 0.25


def find_fluidsynth() -> str:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise InputError("fluidsynth not found: install it with 'apt-get install fluidsynth'")
    return exe


def find_soundfont(path: str | os.PathLike | None = None) -> Path:
    """The given SoundFont or folder of piano samples (pianokit.sampler), or the first Debian
    SoundFont installed."""
    from pianokit.sampler import is_sample_folder

    if path is not None:
        path = Path(path)
        if path.is_dir() and not is_sample_folder(path):
            raise InputError(f"{path}: a folder without piano samples named like A0v1.ogg (pianokit.sampler)")
        if not path.exists():
            raise InputError(f"{path}: SoundFont not found")
        return path
    for candidate in DEBIAN_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise InputError(f"no SoundFont found: {INSTALL_HINT}")


def trim_trailing_silence(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """Cut trailing samples below -70 dBFS, keeping a short tail; leading silence is kept (it is timing)."""
    loud = np.flatnonzero(np.abs(y) >= TRIM_THRESHOLD)
    if len(loud) == 0:
        return y
    end = min(len(y), loud[-1] + 1 + int(TAIL_SECONDS * sample_rate))
    return y[:end]


def render_midi(
    midi: str | os.PathLike,
    out: str | os.PathLike,
    soundfont: str | os.PathLike,
    sample_rate: int = 22050,
    gain: float = DEFAULT_GAIN,
) -> Path:
    """Render ``midi`` to a mono 16-bit WAV at ``out`` (written atomically).

    ``soundfont`` may be a folder of recorded notes instead: pianokit.sampler renders it. Otherwise
    FluidSynth honours the sustain pedal (CC64) by default; the gain is fixed for every file so
    loudness differences between performances survive; chorus and reverb are off for a dry signal.
    A compressed SoundFont is played from its decompressed copy (the same samples, decoded once).
    """
    if Path(soundfont).is_dir():
        from pianokit import sampler

        return sampler.render(midi, out, soundfont, sample_rate)
    midi, out, soundfont = Path(midi), Path(out), for_rendering(soundfont)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".render-") as tmp:
        raw = Path(tmp) / "raw.wav"
        cmd = [
            find_fluidsynth(), "-ni", "-q", "-g", str(gain), "-r", str(sample_rate),
            "-o", "synth.chorus.active=0", "-o", "synth.reverb.active=0",
            "-o", "synth.dynamic-sample-loading=1",
            "-F", str(raw), "-T", "wav", str(soundfont), str(midi),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not raw.exists() or raw.stat().st_size <= 44:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise InputError(f"{midi}: FluidSynth failed ({detail[-1] if detail else 'no audio written'})")
        stereo, rate = sf.read(raw, dtype="float32", always_2d=True)
        if stereo.size == 0 or np.max(np.abs(stereo)) < TRIM_THRESHOLD:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            reason = detail[-1] if detail else "no notes sounded"
            raise InputError(f"{midi}: FluidSynth rendered silence ({reason}); is it a valid MIDI file?")
        return write_render(stereo.mean(axis=1), rate, out)


def write_render(mono: np.ndarray, sample_rate: int, out: Path) -> Path:
    """A rendered mono signal as the 16-bit WAV ``out`` (written atomically), trailing silence cut."""
    with atomic_path(out) as tmp:
        sf.write(tmp, np.clip(trim_trailing_silence(mono, sample_rate), -1.0, 1.0), sample_rate,
                 subtype="PCM_16", format="WAV")
    return out
