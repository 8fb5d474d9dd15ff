"""pianokit.sampler: MIDI rendered from a folder of recorded notes (here: decaying sines)."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import tiny_midi
from pianokit import sampler
from pianokit.dataset import prepare_percepiano
from pianokit.errors import InputError
from pianokit.render import find_soundfont, render_midi
from test_dataset import STEMS, make_source

SR = 22050


def decaying_sine(freq: float, amplitude: float, seconds: float = 4.0, rate: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t) * np.exp(-t / 3.0)).astype(np.float32)


def bank_folder(root):
    """A4 and C5 recorded in two layers (amplitude 0.1 soft, 0.4 loud), 44.1 kHz, as Ogg and FLAC."""
    root.mkdir(parents=True, exist_ok=True)
    for name, freq in (("A4", 440.0), ("C5", 523.25)):
        for layer, amplitude in ((1, 0.1), (2, 0.4)):
            fmt = "OGG" if name == "A4" else "FLAC"
            sf.write(root / f"{name}v{layer}.{fmt.lower()}", decaying_sine(freq, amplitude), 44100, format=fmt)
    (root / "NOTICE").write_text("test tones")
    return root


def pitch_hz(y: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)), n=8 * len(y)))
    return float(np.argmax(spectrum) * SR / (8 * len(y)))


def level(y: np.ndarray, start: float, end: float) -> float:
    """RMS between ``start`` and ``end`` seconds (silence after the end of ``y``)."""
    window = np.pad(y, (0, int(end * SR)))[int(start * SR):int(end * SR)]
    return float(np.sqrt(np.mean(window ** 2)))


def test_note_names_and_layers(tmp_path):
    assert sampler.note_number("A", "", "4") == 69
    assert sampler.note_number("D", "#", "1") == 27
    assert sampler.note_number("C", "", "8") == 108
    bank = sampler.SampleBank(bank_folder(tmp_path / "bank"), SR)
    assert bank.layers == [1, 2]
    assert [bank.layer_for(v) for v in (1, 64, 65, 127)] == [1, 1, 2, 2]


def test_nearest_recording_is_resampled_to_the_key(tmp_path):
    bank = sampler.SampleBank(bank_folder(tmp_path / "bank"), SR)
    for key in (69, 70, 71, 72, 73):  # A4, A#4 and B4 from A4 or C5; C5; C#5 from C5
        assert pitch_hz(bank.note(key, 1)[:SR]) == pytest.approx(440.0 * 2 ** ((key - 69) / 12), rel=0.004)


def test_velocity_picks_the_layer(tmp_path):
    bank = sampler.SampleBank(bank_folder(tmp_path / "bank"), SR)
    soft = sampler.synthesise([(0.0, 1.0, 69, 30)], [], bank, gain=1.0)
    loud = sampler.synthesise([(0.0, 1.0, 69, 120)], [], bank, gain=1.0)
    assert level(loud, 0.0, 0.5) / level(soft, 0.0, 0.5) == pytest.approx(4.0, rel=0.05)


def test_dampers_and_sustain_pedal(tmp_path):
    bank = sampler.SampleBank(bank_folder(tmp_path / "bank"), SR)
    dry = sampler.synthesise([(0.0, 0.5, 69, 100)], [], bank, gain=1.0)
    pedalled = sampler.synthesise([(0.0, 0.5, 69, 100)], [(0.0, 127), (1.5, 0)], bank, gain=1.0)
    ringing = level(pedalled, 1.2, 1.4)
    assert level(dry, 0.4, 0.5) > 0.1 and level(dry, 1.2, 1.4) < 1e-3 * level(dry, 0.4, 0.5)
    assert ringing > 0.5 * level(pedalled, 0.4, 0.5)  # held by the pedal, only the recording's own decay
    assert level(pedalled, 2.5, 2.7) < 1e-3 * ringing  # the dampers fell when the pedal was lifted
    top = sampler.synthesise([(0.0, 0.5, 89, 100)], [], bank, gain=1.0)  # no dampers from F6 up
    below = sampler.synthesise([(0.0, 0.5, 88, 100)], [], bank, gain=1.0)
    assert level(top, 0.8, 1.0) > 0.3 * level(top, 0.4, 0.5)
    assert level(below, 0.8, 1.0) < 1e-3 * level(below, 0.4, 0.5)


def test_sounding_end():
    assert sampler.sounding_end(1.0, []) == 1.0
    assert sampler.sounding_end(1.0, [(0.0, 127), (2.0, 0)]) == 2.0
    assert sampler.sounding_end(1.0, [(0.0, 127), (0.5, 0), (3.0, 127)]) == 1.0
    assert sampler.sounding_end(1.0, [(0.0, 127)]) == float("inf")


def test_render_midi_with_a_sample_folder(tmp_path):
    folder = bank_folder(tmp_path / "bank")
    midi = tiny_midi(tmp_path / "m.mid", notes=((69, 0.0, 0.5), (71, 0.5, 1.0)), pedal=False)
    out = render_midi(midi, tmp_path / "out" / "m.wav", folder, sample_rate=SR)
    y, rate = sf.read(out)
    assert rate == SR and y.ndim == 1
    assert pitch_hz(y[int(0.05 * SR):int(0.45 * SR)]) == pytest.approx(440.0, rel=0.004)
    assert pitch_hz(y[int(0.75 * SR):int(0.95 * SR)]) == pytest.approx(493.88, rel=0.004)
    assert not list((tmp_path / "out").glob("*.tmp*"))


def test_prepare_percepiano_with_samples_needs_no_fluidsynth(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")  # no fluidsynth on the path
    folder = bank_folder(tmp_path / "bank")
    manifest, failures = prepare_percepiano(make_source(tmp_path / "src"), tmp_path / "out", folder, progress=False)
    assert failures == []
    assert sorted(p.name for p in (tmp_path / "out" / "audio").glob("*.wav")) == sorted(f"{s}.wav" for s in STEMS)
    assert set(pd.read_csv(tmp_path / "out" / "manifest.csv")["soundfont"]) == {"bank"}


def test_folders_without_samples_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="without piano samples"):
        find_soundfont(tmp_path / "empty")
    with pytest.raises(InputError, match="no piano samples"):
        sampler.SampleBank(tmp_path / "empty", SR)
    folder = bank_folder(tmp_path / "bank")
    (folder / "A4v1.ogg").write_bytes(b"not audio")
    with pytest.raises(InputError, match="A4v1.ogg: unreadable sample"):
        sampler.SampleBank(folder, SR).note(69, 1)
