"""Compressed SoundFonts are decompressed once and render the same audio as the original."""

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import needs_fluidsynth, tiny_midi
from pianokit import soundfont
from pianokit.errors import InputError
from pianokit.render import render_midi

SF3 = Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")
needs_sf3 = pytest.mark.skipif(not SF3.is_file(), reason="needs musescore-general-soundfont-small (apt-get)")


def fluidsynth_wav(font: Path, midi: Path, out: Path) -> np.ndarray:
    subprocess.run(["fluidsynth", "-ni", "-q", "-r", "22050", "-o", "synth.reverb.active=0", "-o",
                    "synth.chorus.active=0", "-F", str(out), "-T", "wav", str(font), str(midi)], check=True)
    return sf.read(out)[0]


@needs_fluidsynth
@needs_sf3
def test_decompressed_soundfont_plays_the_same_notes_and_is_cached_once(tmp_path, monkeypatch):
    monkeypatch.setattr(soundfont, "CACHE", tmp_path / "cache")
    assert soundfont.is_compressed(SF3)
    plain = soundfont.for_rendering(SF3)
    assert plain.parent == tmp_path / "cache" and plain.suffix == ".sf2" and not soundfont.is_compressed(plain)
    stamp = plain.stat().st_mtime_ns
    assert soundfont.for_rendering(SF3) == plain and plain.stat().st_mtime_ns == stamp  # made once
    # low, middle and high notes with and without the pedal: the decoded samples, their loops and
    # the instrument zones must all be where FluidSynth finds them in the .sf3
    midi = tiny_midi(tmp_path / "m.mid", notes=((33, 0.0, 1.5), (60, 0.5, 2.0), (64, 0.5, 2.0), (96, 1.0, 3.0)))
    original = fluidsynth_wav(SF3, midi, tmp_path / "sf3.wav")
    decoded = fluidsynth_wav(plain, midi, tmp_path / "sf2.wav")
    assert original.shape == decoded.shape and np.abs(original).max() > 0.01
    assert np.abs(original - decoded).max() < 2e-4  # a 16-bit step or so: the same samples
    rendered = render_midi(midi, tmp_path / "r.wav", SF3)  # render_midi plays the cached copy
    assert sf.info(rendered).channels == 1 and plain.stat().st_mtime_ns == stamp


def test_plain_soundfonts_are_used_as_they_are(tmp_path):
    sf2 = tmp_path / "plain.sf2"
    body = b"sfbk" + b"LIST" + struct.pack("<I", 16) + b"INFO" + b"ifil" + struct.pack("<IHH", 4, 2, 1)
    sf2.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    assert not soundfont.is_compressed(sf2)
    assert soundfont.for_rendering(sf2, cache=tmp_path / "cache") == sf2
    assert not (tmp_path / "cache").exists()


def test_a_file_that_is_no_soundfont_is_refused_in_one_line(tmp_path):
    text = tmp_path / "notes.sf3"
    text.write_text("not a SoundFont")
    with pytest.raises(InputError, match="not a SoundFont"):
        soundfont.decompress(text, tmp_path / "out.sf2")
    truncated = tmp_path / "cut.sf3"
    body = b"sfbk" + b"LIST" + struct.pack("<I", 16) + b"INFO" + b"ifil" + struct.pack("<IHH", 4, 3, 1)
    truncated.write_bytes(b"RIFF" + struct.pack("<I", len(body) + 1000) + body)
    assert soundfont.is_compressed(truncated)
    with pytest.raises(InputError, match="list missing"):
        soundfont.for_rendering(truncated, cache=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.sf2"))
