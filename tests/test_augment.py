import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import librosa  # noqa: E402

from conftest import sine  # noqa: E402
from pianokit.augment import MelAugmenter  # noqa: E402
from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.features import FeatureConfig, log_mel  # noqa: E402

CONFIG = FeatureConfig()
CENTRES = librosa.mel_frequencies(CONFIG.n_mels + 2, fmin=CONFIG.fmin, fmax=CONFIG.fmax)[1:-1]


def augmenter(**kw):
    return MelAugmenter(CONFIG.n_mels, CONFIG.fmin, CONFIG.fmax, CONFIG.mel_floor_db, **kw)


def peak_bin(mel_tm):
    return int(np.argmax(np.asarray(mel_tm).mean(axis=0)))


@pytest.mark.parametrize("semitones", [-7, -3, -1, 1, 2, 5, 12])
def test_pitch_shift_moves_a_sine_peak(semitones):
    mel = log_mel(sine(440, 2), CONFIG).T
    shifted = augmenter().pitch_shift(tf.constant(mel), float(semitones)).numpy()
    target = 440 * 2 ** (semitones / 12)
    expected = int(np.argmin(np.abs(CENTRES - target)))
    assert abs(peak_bin(shifted) - expected) <= 1
    real = log_mel(sine(target, 2), CONFIG).T  # the same sine actually played higher
    assert abs(peak_bin(shifted) - peak_bin(real)) <= 1
    assert peak_bin(shifted) != peak_bin(mel)


def test_pitch_shift_zero_is_identity():
    mel = log_mel(sine(440, 2), CONFIG).T
    np.testing.assert_allclose(augmenter().pitch_shift(tf.constant(mel), 0.0).numpy(), mel, atol=1e-3)


@pytest.mark.parametrize("rate", [0.8, 0.9, 1.1, 1.25])
def test_time_stretch_frame_count(rate):
    mel = log_mel(sine(440, 3), CONFIG).T
    out = augmenter().time_stretch(tf.constant(mel), rate).numpy()
    assert out.shape == (round(len(mel) / rate), CONFIG.n_mels)
    assert peak_bin(out) == peak_bin(mel)


def test_stretch_masks_tempo_label_only():
    aug = augmenter(stretch=(1.2, 1.3))
    labels = tf.constant(np.full(19, 0.5, "float32"))
    mel, out = aug(tf.constant(log_mel(sine(440, 2), CONFIG).T), labels)
    out = out.numpy()
    tempo = DIMENSIONS.index("music_making_fast_slow")
    assert np.isnan(out[tempo]) and np.isfinite(np.delete(out, tempo)).all()
    assert 0.7 * CONFIG.frames(2) <= mel.shape[0] <= 0.85 * CONFIG.frames(2)


def test_pitch_only_keeps_labels():
    aug = augmenter(max_semitones=2)
    labels = tf.constant(np.full(19, 0.5, "float32"))
    _, out = aug(tf.constant(log_mel(sine(440, 2), CONFIG).T), labels)
    assert np.isfinite(out.numpy()).all()
