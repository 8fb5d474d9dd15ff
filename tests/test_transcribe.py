import numpy as np
import pytest

from conftest import SR, needs_fluidsynth, tiny_midi
from pianokit import symbolic, transcribe
from pianokit.features import FeatureConfig, extract, normalise_level
from pianokit.feature_names import EXTENDED_FEATURES, TRANSCRIPTION_FEATURES


def tone(pitch: int, seconds: float, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f0 = 440 * 2 ** ((pitch - 69) / 12)
    return amp * sum(a * np.sin(2 * np.pi * k * f0 * t) for k, a in ((1, 1), (2, 0.5), (3, 0.25))) * np.exp(-3 * t)


def melody(pitches, step=0.6, amps=None) -> np.ndarray:
    y = np.zeros(int((0.5 + step * len(pitches)) * SR))
    for i, p in enumerate(pitches):
        start = int((0.25 + step * i) * SR)
        note = tone(p, step - 0.05, amps[i] if amps else 0.2)
        y[start:start + len(note)] += note
    return y.astype(np.float32)


def test_notes_of_a_harmonic_melody_are_found_at_their_pitch_and_time():
    notes = transcribe.decode_notes(**{k: v for k, v in transcribe.posteriors(melody([60, 64, 67, 72])).items()
                                       if k in ("note", "onset")})
    assert notes["pitch"].tolist() == [60, 64, 67, 72]
    np.testing.assert_allclose(notes["onset"], [0.25, 0.85, 1.45, 2.05], atol=0.03)


def test_louder_notes_get_a_larger_velocity_proxy():
    y = melody([60, 62, 64, 65], amps=[0.02, 0.05, 0.2, 0.5])
    notes = transcribe.decode_notes(**{k: v for k, v in transcribe.posteriors(y).items() if k in ("note", "onset")})
    loud = transcribe.note_loudness_db(y, notes, SR)
    assert len(loud) == 4 and np.all(np.diff(loud) > 3)


def test_features_follow_tempo_and_resampling():
    slow = dict(zip(TRANSCRIPTION_FEATURES, transcribe.features(melody([60, 62, 64, 65, 67], step=0.8), SR)))
    fast = dict(zip(TRANSCRIPTION_FEATURES, transcribe.features(melody([60, 62, 64, 65, 67], step=0.4), SR)))
    assert slow["tr_note_count"] == fast["tr_note_count"] == 5
    assert slow["tr_ioi_mean"] == pytest.approx(0.8, abs=0.03) and fast["tr_ioi_mean"] == pytest.approx(0.4, abs=0.03)
    import soxr

    at_44k = soxr.resample(melody([60, 62, 64, 65, 67], step=0.8), SR, 44100)
    resampled = dict(zip(TRANSCRIPTION_FEATURES, transcribe.features(at_44k, 44100)))
    assert resampled["tr_note_count"] == 5 and resampled["tr_ioi_mean"] == pytest.approx(0.8, abs=0.03)


def test_silence_gives_zeros_not_errors():
    vector = transcribe.features(np.zeros(SR * 2, dtype=np.float32), SR)
    assert len(vector) == len(TRANSCRIPTION_FEATURES) and np.all(vector == 0)


def test_extract_adds_transcription_features_only_when_asked():
    y = melody([60, 64, 67])
    extended, _ = extract(y, FeatureConfig(features=EXTENDED_FEATURES))
    both, _ = extract(y, FeatureConfig())
    assert len(extended) == len(EXTENDED_FEATURES) and len(both) == len(EXTENDED_FEATURES) + len(TRANSCRIPTION_FEATURES)
    np.testing.assert_allclose(both[:len(EXTENDED_FEATURES)], extended, rtol=1e-6)
    heard = normalise_level(y, FeatureConfig())  # extract works on level-normalised audio
    np.testing.assert_allclose(both[len(EXTENDED_FEATURES):], transcribe.features(heard, SR).astype(np.float32),
                               rtol=1e-6)


@needs_fluidsynth
def test_transcription_of_a_rendered_midi_matches_the_midi(tmp_path):
    """A FluidSynth piano rendering of a known MIDI file is transcribed back to (nearly) its notes."""
    import soundfile as sf

    from pianokit.render import find_soundfont, render_midi

    notes = tuple((60 + (i * 5) % 17, 0.4 * i, 0.4 * i + 0.35) for i in range(12))
    midi = tiny_midi(tmp_path / "m.mid", notes=notes, pedal=False)
    wav = render_midi(midi, tmp_path / "m.wav", find_soundfont())
    y, sr = sf.read(wav, dtype="float32")
    got = transcribe.decode_notes(**{k: v for k, v in transcribe.posteriors(y, sr).items() if k in ("note", "onset")})
    truth, _ = symbolic.read_notes(midi)
    matched = sum(any(abs(o - t.onset) < 0.05 and p == t.pitch for o, p in zip(got["onset"], got["pitch"]))
                  for t in truth.itertuples())
    assert matched >= 0.8 * len(truth) and len(got) <= 1.3 * len(truth)


def test_velocity_proxy_reads_the_full_stft_at_each_onset():
    """Only the frames at note onsets are computed; the values are those of the whole centred STFT,
    including notes at the very start and past the end."""
    import librosa

    y = melody([48, 60, 72, 84, 96], step=0.3)
    seconds = len(y) / SR
    onset = np.array([0.0, 0.25, 0.85, seconds - 0.001, seconds + 1.0])
    notes = transcribe.Notes(onset, onset + 0.2, np.array([48, 60, 21, 108, 72]), np.ones(5), np.ones(5))
    spec = np.abs(librosa.stft(y, n_fft=2048, hop_length=transcribe.FFT_HOP))
    span = int(round(0.05 * SR / transcribe.FFT_HOP))
    expected = []
    for start, pitch in zip(onset, notes.pitch):
        frame = min(int(start * SR / transcribe.FFT_HOP), spec.shape[1] - 1)
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        bins = [round(h * f0 / (SR / 2048)) for h in (1, 2)]
        peak = max(spec[max(b - 1, 0):b + 2, frame:frame + span].max() for b in bins if b < spec.shape[0])
        expected.append(20 * np.log10(max(peak, 1e-6)))
    np.testing.assert_array_equal(transcribe.note_loudness_db(y, notes, SR), expected)
