"""Recording conditions used for augmentation and the robustness bench do what they claim."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from conftest import SR, sine
from pianokit import conditions

pytest.importorskip("pedalboard")
pytest.importorskip("pyroomacoustics")


def band_db(y, lo, hi):
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    return 10 * np.log10(spectrum[(freqs >= lo) & (freqs < hi)].sum() + 1e-20)


@pytest.mark.parametrize("rt60", [0.3, 0.8, 2.0])
def test_rooms_reverberate_for_about_the_asked_time(rt60):
    from pyroomacoustics.experimental import measure_rt60

    ir = conditions.room_impulse_response(rt60, SR, np.random.default_rng(0))
    measured = measure_rt60(ir, fs=SR)
    assert 0.6 * rt60 < measured < 1.6 * rt60


def test_reverb_keeps_level_and_adds_a_tail():
    y = sine(440, 1.0)
    y[SR // 2:] = 0
    wet = conditions.reverberate(y, SR, 0.8, np.random.default_rng(1))
    assert len(wet) == len(y) + int(0.4 * SR)
    assert np.sqrt(np.mean(wet ** 2)) == pytest.approx(np.sqrt(np.mean(y ** 2)), rel=1e-3)
    assert np.abs(wet[int(0.6 * SR): int(0.7 * SR)]).max() > 10 * np.abs(y[int(0.6 * SR): int(0.7 * SR)]).max()


@pytest.mark.parametrize("colour", conditions.NOISE_COLOURS)
@pytest.mark.parametrize("snr", [20, 30])
def test_noise_is_added_at_the_asked_snr(colour, snr):
    y = sine(440, 2.0)
    noisy = conditions.add_noise(y, SR, snr, colour, np.random.default_rng(2))
    measured = 10 * np.log10(np.mean(y ** 2) / np.mean((noisy - y) ** 2))
    assert measured == pytest.approx(snr, abs=0.1)


def test_noise_colours_differ_in_slope():
    rng = np.random.default_rng(3)
    tilt = {c: band_db(conditions.noise(SR * 2, SR, c, rng), 50, 200) - band_db(conditions.noise(SR * 2, SR, c, rng),
                                                                                  4000, 8000)
            for c in conditions.NOISE_COLOURS}
    assert tilt["white"] < tilt["pink"] < tilt["room"]
    with pytest.raises(ValueError):
        conditions.noise(100, SR, "purple", rng)


def test_phone_band_keeps_voice_band_and_cuts_the_rest():
    for freq, kept in ((100, False), (1000, True), (6000, False)):
        y = sine(freq, 1.0)
        out = conditions.phone(y, SR, codec=False)
        loss = band_db(y, 0, SR / 2) - band_db(out, 0, SR / 2)
        assert (loss < 3) == kept, (freq, loss)


@pytest.mark.parametrize("codec", [lambda y: conditions.mp3(y, SR, 9), lambda y: conditions.ogg(y, SR, 0.0)])
def test_codecs_keep_length_and_music(codec):
    y = sine(440, 2.0) + sine(660, 2.0, amp=0.1)
    out = codec(y)
    assert len(out) == len(y) and not np.array_equal(out, y)
    assert np.corrcoef(out, y)[0, 1] > 0.9


def test_recipes_are_seeded_and_applied_deterministically():
    y = sine(440, 2.0) + 0.01 * np.random.default_rng(0).standard_normal(2 * SR).astype(np.float32)
    a = conditions.random_recipe(np.random.default_rng(5))
    assert a == conditions.random_recipe(np.random.default_rng(5))
    recipes = [conditions.random_recipe(np.random.default_rng(s)) for s in range(40)]
    assert len({r.to_json() for r in recipes}) == 40
    assert any(r.rt60 for r in recipes) and any(r.noise for r in recipes) and any(r.codec for r in recipes)
    out = conditions.apply(y, SR, a)
    np.testing.assert_array_equal(out, conditions.apply(y, SR, a))
    assert 20 * np.log10(np.abs(out).max()) == pytest.approx(a.peak_dbfs, abs=0.01)


def test_ogg_survives_a_long_recording():
    """libvorbis puts one write's samples on the stack: 100 s written at once crashed the process."""
    script = ("import numpy as np; from pianokit import conditions; "
              "y = (0.1 * np.random.default_rng(0).standard_normal(22050 * 100)).astype('float32'); "
              "out = conditions.ogg(y, 22050, 0.0); print(len(out), float(np.corrcoef(out, y)[0, 1]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    length, corr = proc.stdout.split()
    assert int(length) == 22050 * 100 and float(corr) > 0.5


@pytest.mark.parametrize("exact_length", [True, False])
@pytest.mark.parametrize("colour", ["pink", "room"])
def test_noise_is_the_numpy_fft_definition(colour, exact_length):
    """A seed gives the noise of the numpy.fft formula on an awkward (prime) length: shaped at that
    length itself with exact_length (version-5 noise floors stay reproducible), else at the next
    fast FFT length and cut."""
    from scipy.fft import next_fast_len

    n, rng = 220_013, np.random.default_rng(3)
    m = n if exact_length else next_fast_len(n, real=True)
    assert exact_length or m > n
    white = rng.standard_normal(m)
    spectrum = np.fft.rfft(white)
    bins = np.maximum(np.arange(len(spectrum)), 1)
    if colour == "pink":
        expected = np.fft.irfft(spectrum / np.sqrt(bins), m)[:n]
    else:
        brown = np.fft.irfft(spectrum / bins, m)[:n]
        brown /= np.std(brown) + 1e-12
        t = np.arange(n) / SR
        mains = rng.choice([50.0, 60.0])
        hum = sum(np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
        expected = brown + 0.3 * hum + 0.1 * white[:n]
    got = conditions.noise(n, SR, colour, np.random.default_rng(3), exact_length=exact_length)
    assert got.shape == (n,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("exact_length", [True, False])
def test_the_noise_floor_is_pink_at_the_asked_level_and_the_same_every_time(exact_length):
    y = sine(440, 4.0001)
    floored = conditions.noise_floor(y, SR, 30, exact_length)
    added = floored - y
    assert 10 * np.log10(np.mean(y ** 2) / np.mean(added ** 2)) == pytest.approx(30, abs=0.1)
    assert np.array_equal(floored, conditions.noise_floor(y, SR, 30, exact_length))
    assert np.allclose(conditions.noise_floor(2 * y, SR, 30, exact_length) - 2 * y, 2 * added, atol=1e-6)  # follows the level
    assert not np.allclose(conditions.noise_floor(y, SR, 30, not exact_length), floored, atol=1e-6)
    spectrum = np.abs(np.fft.rfft(added)) ** 2
    freqs = np.fft.rfftfreq(len(added), 1 / SR)
    low, high = spectrum[(freqs > 100) & (freqs < 200)].mean(), spectrum[(freqs > 1000) & (freqs < 2000)].mean()
    assert 10 * np.log10(low / high) == pytest.approx(10, abs=2)  # 1/f: 10 dB per decade


def test_compression_narrows_the_dynamic_range_and_keeps_the_peak():
    """A loud chord then a soft one 24 dB down: through 4:1 compression 24 dB under the peak the soft
    chord comes up by about 15 dB against the loud one (the loud one is pushed down by 3/4 of its
    excess over the threshold); the peak is kept, and a 1:1 ratio changes nothing."""
    t = np.arange(SR) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392)).astype(np.float32) / 3
    y = np.concatenate([0.8 * chord, 0.8 * 10 ** (-24 / 20) * chord])
    out = conditions.compress(y, SR, 24, 4)
    assert np.max(np.abs(out)) == pytest.approx(np.max(np.abs(y)), rel=1e-4)

    def gap(z):
        return 20 * np.log10(np.sqrt(np.mean(z[SR // 2:SR] ** 2)) / np.sqrt(np.mean(z[SR + SR // 2:] ** 2)))

    assert gap(y) == pytest.approx(24, abs=0.1)
    assert 6 < gap(out) < 11
    assert np.allclose(conditions.compress(y, SR, 60, 1), y, atol=1e-4)


def test_another_phone_share_changes_only_the_phone_step_of_each_recipe():
    """`dataset augment --phone-share`: the default share draws what recipes always drew; another
    share flips the phone step of about that share of recipes and nothing else in any of them."""
    default = [conditions.random_recipe(np.random.default_rng(s)) for s in range(2000)]
    assert default == [conditions.random_recipe(np.random.default_rng(s), 0.0, conditions.PHONE_SHARE)
                       for s in range(2000)]
    assert abs(np.mean([r.phone for r in default]) - conditions.PHONE_SHARE) < 0.02
    for share in (0.0, 0.3, 1.0):
        drawn = [conditions.random_recipe(np.random.default_rng(s), 0.3, share) for s in range(2000)]
        assert abs(np.mean([r.phone for r in drawn]) - share) < 0.03
        for r, plain in zip(drawn, [conditions.random_recipe(np.random.default_rng(s), 0.3) for s in range(2000)]):
            assert dataclasses.replace(r, phone=plain.phone) == plain
            if share >= conditions.PHONE_SHARE:
                assert r.phone or not plain.phone  # a larger share keeps every phone call the default drew


def test_compression_is_drawn_last_so_the_other_steps_stay_as_before():
    """With no compression share a recipe draws what it drew before the step existed (and its JSON
    reads the same); with a share of 1 every recipe adds compression on top of the same other steps,
    and applying it narrows the recording's dynamics."""
    t = np.arange(SR) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392)).astype(np.float32) / 3
    y = np.concatenate([0.8 * chord, 0.05 * chord])
    for seed in range(20):
        plain = conditions.random_recipe(np.random.default_rng(seed))
        assert plain == conditions.random_recipe(np.random.default_rng(seed), 0.0)
        assert plain.compress is None and '"compress"' not in plain.to_json()
        squeezed = conditions.random_recipe(np.random.default_rng(seed), 1.0)
        low, ratio = squeezed.compress
        assert 6 <= low <= 30 and 1.5 <= ratio <= 8 and '"compress"' in squeezed.to_json()
        assert dataclasses.replace(squeezed, compress=None) == plain
    recipe = conditions.Recipe(compress=(24.0, 6.0), peak_dbfs=-3.0)

    def gap(z):
        return np.log10(np.mean(z[SR // 2:SR] ** 2) / np.mean(z[SR + SR // 2:] ** 2))

    assert gap(conditions.apply(y, SR, recipe)) < gap(conditions.apply(y, SR, conditions.Recipe(peak_dbfs=-3.0))) - 1


@pytest.mark.parametrize("rt60", [0.3, 1.2])
def test_faster_reverberant_tails_are_the_librarys_bit_for_bit(monkeypatch, rt60):
    """pianokit.late_reverb's stand-ins for pyroomacoustics' two Python loops give the very same
    impulse responses as the library's own (same draws, same arithmetic, same order of additions)."""
    import contextlib

    import pyroomacoustics
    from pyroomacoustics.simulation import rt

    from pianokit import late_reverb

    if not pyroomacoustics.__version__.startswith("0.10."):
        pytest.skip(f"pyroomacoustics {pyroomacoustics.__version__}: its own loops run (the stand-ins follow 0.10)")
    with late_reverb.faster():
        assert (rt.poisson_sequence, rt.directional_sequence) == (late_reverb.poisson_sequence,
                                                                  late_reverb.directional_sequence)
    assert rt.poisson_sequence is not late_reverb.poisson_sequence
    for seed in range(3):
        fast = conditions.room_impulse_response(rt60, SR, np.random.default_rng(seed))
        with monkeypatch.context() as patch:
            patch.setattr(late_reverb, "faster", contextlib.nullcontext)
            library = conditions.room_impulse_response(rt60, SR, np.random.default_rng(seed))
        np.testing.assert_array_equal(fast, library)


def test_the_noise_floor_kept_for_a_fast_length_is_the_drawn_one_for_every_length_it_serves():
    """Recordings whose lengths share a fast FFT length reuse one draw of the floor's noise: each gets
    exactly what add_noise draws for it, and the kept noise cannot be changed by a caller."""
    from scipy.fft import next_fast_len

    conditions._floor_noise.cache_clear()
    rng = np.random.default_rng(5)
    m = next_fast_len(200_001, real=True)
    for n in (m, m - 1, 200_001, *rng.integers(m - 2000, m, 3)):
        y = (0.1 * rng.standard_normal(int(n))).astype(np.float32)
        drawn = conditions.add_noise(y, SR, 35.0, "pink", np.random.default_rng(conditions.NOISE_FLOOR_SEED))
        np.testing.assert_array_equal(conditions.noise_floor(y, SR, 35.0), drawn)
    assert conditions._floor_noise.cache_info().misses == 1
    with pytest.raises(ValueError):
        conditions._floor_noise(m)[0] = 1.0
