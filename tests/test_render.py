import numpy as np
import pytest
import soundfile as sf

from conftest import needs_fluidsynth, tiny_midi
from pianokit.errors import InputError
from pianokit.render import find_soundfont, render_midi, trim_trailing_silence


def test_trim_keeps_leading_silence_and_short_tail():
    sr = 1000
    y = np.concatenate([np.zeros(500), np.ones(1000) * 0.5, np.zeros(3000)]).astype(np.float32)
    out = trim_trailing_silence(y, sr)
    assert len(out) == 500 + 1000 + 250
    assert np.all(out[:500] == 0)


def test_missing_soundfont(tmp_path):
    with pytest.raises(InputError, match="SoundFont not found"):
        find_soundfont(tmp_path / "none.sf2")


@needs_fluidsynth
def test_render_tiny_midi(tmp_path):
    midi = tiny_midi(tmp_path / "tiny.mid")
    out = render_midi(midi, tmp_path / "out" / "tiny.wav", find_soundfont(), sample_rate=22050)
    y, sr = sf.read(out)
    info = sf.info(out)
    assert sr == 22050 and info.channels == 1 and info.subtype == "PCM_16"
    assert 2.0 <= len(y) / sr < 4.0  # 2 s of notes, release tail, trailing silence trimmed
    assert np.max(np.abs(y)) > 0.01
    assert not list((tmp_path / "out").glob(".render-*"))


@needs_fluidsynth
def test_gain_is_fixed_not_normalised(tmp_path):
    loud = tiny_midi(tmp_path / "loud.mid")
    soft = tmp_path / "soft.mid"
    soft.write_bytes(loud.read_bytes().replace(bytes([0x90, 60, 90]), bytes([0x90, 60, 30]))
                     .replace(bytes([0x90, 64, 90]), bytes([0x90, 64, 30]))
                     .replace(bytes([0x90, 67, 90]), bytes([0x90, 67, 30])))
    font = find_soundfont()
    peak_loud = np.abs(sf.read(render_midi(loud, tmp_path / "l.wav", font))[0]).max()
    peak_soft = np.abs(sf.read(render_midi(soft, tmp_path / "s.wav", font))[0]).max()
    assert peak_loud > 2 * peak_soft


@needs_fluidsynth
def test_sustain_pedal_lengthens_notes(tmp_path):
    notes = ((48, 0.0, 0.2), (76, 0.4, 2.0))  # a short low C3, then a long E5
    font = find_soundfont()
    pedal = sf.read(render_midi(tiny_midi(tmp_path / "p.mid", notes, pedal=True), tmp_path / "p.wav", font))[0]
    dry = sf.read(render_midi(tiny_midi(tmp_path / "d.mid", notes, pedal=False), tmp_path / "d.wav", font))[0]
    sr = 22050
    window = slice(int(0.5 * sr), int(1.0 * sr))  # C3 still sounds here only if the pedal holds it

    def c3_energy(y):
        segment = np.pad(y, (0, sr))[window]
        spectrum = np.abs(np.fft.rfft(segment))
        freqs = np.fft.rfftfreq(len(segment), 1 / sr)
        return spectrum[(freqs > 120) & (freqs < 140)].sum()

    assert c3_energy(pedal) > 3 * c3_energy(dry)


@needs_fluidsynth
def test_bad_midi_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not a midi file")
    with pytest.raises(InputError, match="bad.mid"):
        render_midi(bad, tmp_path / "bad.wav", find_soundfont())
    assert not (tmp_path / "bad.wav").exists()
