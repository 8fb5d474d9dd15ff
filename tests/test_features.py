import numpy as np
import pytest

from conftest import SR, click_track, sine
from pianokit.features import BASIC_FEATURES, EXTENDED_FEATURES, FeatureConfig, extract, normalise_level


def features_of(y, config=None):
    config = config or FeatureConfig()
    vector, mel = extract(y, config)
    return dict(zip(config.features, vector)), mel


def test_feature_lists():
    assert 75 <= len(EXTENDED_FEATURES) <= 85
    assert len(BASIC_FEATURES) == 10 and set(BASIC_FEATURES) <= set(EXTENDED_FEATURES)
    assert len(set(EXTENDED_FEATURES)) == len(EXTENDED_FEATURES)


def test_sine_440_centroid_chroma_and_mel_peak():
    config = FeatureConfig()
    f, mel = features_of(sine(440, 3), config)
    assert f["spectral_centroid_mean"] == pytest.approx(440, rel=0.05)
    chroma = [f[f"chroma_{p}"] for p in ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")]
    assert int(np.argmax(chroma)) == 9  # A
    mel_freqs = __import__("librosa").mel_frequencies(config.n_mels + 2, fmin=config.fmin, fmax=config.fmax)[1:-1]
    peak_bin = int(np.argmax(mel.mean(axis=1)))
    assert abs(mel_freqs[peak_bin] - 440) < (mel_freqs[peak_bin + 1] - mel_freqs[peak_bin - 1])
    assert mel.shape == (128, config.frames(3.0))


def test_click_track_tempo_and_onsets():
    f, _ = features_of(click_track(120, 10))
    assert f["tempo"] == pytest.approx(120, abs=2)
    assert f["onset_rate"] == pytest.approx(2.0, abs=0.3)
    assert f["ioi_mean"] == pytest.approx(0.5, abs=0.03)


def test_recording_level_does_not_change_features_but_dynamics_within_do():
    noise = np.random.default_rng(3).standard_normal(SR * 4).astype(np.float32)
    y = sine(440, 4, amp=0.2) + 0.1 * sine(660, 4) + 0.002 * noise  # a noise floor keeps every band non-empty
    y[: SR * 2] *= 0.25  # a soft first half: 12 dB of dynamics inside the recording
    config = FeatureConfig()
    base, mel = extract(y, config)
    for gain_db in (-30, -6, 12):
        vector, mel_g = extract(y * np.float32(10 ** (gain_db / 20)), config)
        np.testing.assert_allclose(vector, base, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(mel_g, mel, atol=0.05)
    f, _ = features_of(y, config)
    assert f["rms_db_range"] == pytest.approx(12, abs=1.0)
    assert np.percentile(librosa_rms_db(normalise_level(y, config)), 95) == pytest.approx(config.level_dbfs, abs=0.1)


def librosa_rms_db(y):
    import librosa

    return librosa.amplitude_to_db(librosa.feature.rms(y=y, frame_length=2048, hop_length=512)[0], ref=1.0)


def test_silence_is_left_alone_by_level_normalisation():
    y = np.zeros(SR, dtype=np.float32)
    assert not normalise_level(y, FeatureConfig()).any()


def test_features_finite_on_noise():
    vector, _ = extract(np.random.default_rng(1).standard_normal(SR * 2).astype(np.float32) * 0.1, FeatureConfig())
    assert np.all(np.isfinite(vector))


def test_config_roundtrip_and_fingerprint():
    config = FeatureConfig()
    assert FeatureConfig.from_dict(config.to_dict()) == config
    assert FeatureConfig(n_mels=64).fingerprint() != config.fingerprint()
    with pytest.raises(ValueError):
        FeatureConfig.from_dict({"bogus": 1})


def test_feature_subset_order():
    config = FeatureConfig(features=BASIC_FEATURES)
    vector, _ = extract(sine(440, 2), config)
    full, _ = extract(sine(440, 2), FeatureConfig())
    index = [EXTENDED_FEATURES.index(n) for n in BASIC_FEATURES]
    np.testing.assert_allclose(vector, full[index])


@pytest.mark.parametrize("frames", [1, 3, 7, 15, 16, 200])
def test_hpss_median_filter_equals_scipy(frames):
    from scipy.ndimage import median_filter

    from pianokit.features import HPSS_KERNEL, _median_filter

    power = np.random.default_rng(frames).random((128, frames)).astype(np.float32) ** 4
    power[:, frames // 2] = 0.0
    for axis, size in ((1, (1, HPSS_KERNEL)), (0, (HPSS_KERNEL, 1))):
        np.testing.assert_array_equal(_median_filter(power, axis), median_filter(power, size=size, mode="reflect"))


def test_features_ignore_a_noise_floor_below_the_feature_floor_while_the_model_mel_keeps_it():
    t = np.arange(SR // 2) / SR
    notes = [np.sin(2 * np.pi * f * t) * np.exp(-4 * t) for f in (262, 330, 392, 523, 440, 349, 294, 262)]
    y = (0.3 * np.concatenate(notes)).astype(np.float32)
    hiss = y + 1e-5 * np.random.default_rng(0).standard_normal(len(y)).astype(np.float32)  # ~80 dB down
    mfcc = [i for i, name in enumerate(EXTENDED_FEATURES) if name.startswith("mfcc")]
    moved, mels = {}, {}
    for floor in (-100.0, -80.0):
        config = FeatureConfig(features=EXTENDED_FEATURES, feature_floor_db=floor)
        (clean, mels[floor]), (noisy, _) = extract(y, config), extract(hiss, config)
        moved[floor] = np.abs(clean[mfcc] - noisy[mfcc]).mean()
    assert moved[-80.0] < 0.1 * moved[-100.0]
    np.testing.assert_array_equal(mels[-80.0], mels[-100.0])
    assert mels[-80.0].min() == pytest.approx(FeatureConfig().mel_floor_db)


def test_a_version_4_config_reads_with_the_floor_it_was_made_with():
    old = FeatureConfig().to_dict()
    del old["feature_floor_db"]
    old["version"] = 4
    assert FeatureConfig.from_dict(old).feature_floor_db == old["mel_floor_db"]
    with pytest.raises(ValueError, match="feature_floor_db"):
        FeatureConfig.from_dict({**FeatureConfig().to_dict(), "feature_floor_db": 5})


def test_the_noise_floor_is_drawn_as_the_configs_feature_version_drew_it():
    from pianokit.conditions import noise_floor
    from pianokit.features import prepare

    y = sine(440, 3.0001)
    v5, v6 = FeatureConfig(noise_floor_db=35.0, version=5), FeatureConfig(noise_floor_db=35.0)
    assert v6.version == 6
    level = normalise_level(y, v6)
    np.testing.assert_array_equal(prepare(y, v5), noise_floor(level, SR, 35.0, exact_length=True))
    np.testing.assert_array_equal(prepare(y, v6), noise_floor(level, SR, 35.0, exact_length=False))
    assert not np.allclose(prepare(y, v5), prepare(y, v6), atol=1e-6)
    np.testing.assert_array_equal(prepare(y, FeatureConfig(version=5)), prepare(y, FeatureConfig()))


def test_zero_crossing_rate_is_librosas_exactly():
    """Counted from a running sum, the rate equals librosa's frame by frame on audio with exact zeros,
    negative zeros and samples at the +-1e-10 threshold, at lengths shorter than a frame too."""
    import librosa

    from pianokit.features import _zero_crossing_rate

    rng = np.random.default_rng(0)
    for n in (1, 700, 2048, 2049, 40_000, 123_457):
        y = (rng.standard_normal(n) * rng.choice([1.0, 1e-9])).astype(np.float32)
        for value, share in ((0.0, 0.1), (-0.0, 0.05), (1e-10, 0.05), (-1e-10, 0.05)):
            y[rng.random(n) < share] = value
        for audio in (y, y.astype(np.float64)):
            expected = librosa.feature.zero_crossing_rate(audio, frame_length=2048, hop_length=512)
            got = _zero_crossing_rate(audio, 2048, 512)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)


def test_centroid_and_bandwidth_are_librosas_exactly():
    """One normalisation for both gives librosa's own centroid and bandwidth, bit for bit, on a
    centred STFT's magnitudes (Fortran order, as librosa.stft returns them) and on silent frames."""
    import librosa

    from pianokit.features import _centroid_bandwidth

    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal(SR * 3)).astype(np.float32)
    y[SR:SR + 4096] = 0.0
    magnitude = np.abs(librosa.stft(y, n_fft=2048, hop_length=512))
    for S in (magnitude, np.ascontiguousarray(magnitude)):
        centroid, bandwidth = _centroid_bandwidth(S, SR)
        expected = librosa.feature.spectral_centroid(S=S, sr=SR)
        np.testing.assert_array_equal(centroid, expected)
        np.testing.assert_array_equal(bandwidth, librosa.feature.spectral_bandwidth(S=S, sr=SR, centroid=expected))
