import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import SR, sine, write_wav
from pianokit.audio import load_audio
from pianokit.errors import InputError


def test_mono_at_target_rate(sine_wav):
    y = load_audio(sine_wav, SR)
    assert y.dtype == np.float32 and y.ndim == 1
    assert len(y) == 3 * SR
    assert np.max(np.abs(y)) == pytest.approx(0.3, abs=1e-3)


def test_stereo_44k_is_downmixed_and_resampled(tmp_path):
    left, right = sine(440, 2, 44100, 0.4), sine(440, 2, 44100, 0.2)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, right], axis=1), sr=44100)
    y = load_audio(path, SR)
    assert len(y) == 2 * SR
    assert np.max(np.abs(y)) == pytest.approx(0.3, abs=0.01)
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * SR / len(y) == pytest.approx(440, abs=1)


@pytest.mark.parametrize("rate", [8000, 96000, 192000])
def test_extreme_rates_accepted(tmp_path, rate):
    y = load_audio(write_wav(tmp_path / f"r{rate}.wav", sine(440, 1.5, rate), sr=rate), SR)
    assert len(y) == int(1.5 * SR)


def test_flac_and_ogg(tmp_path):
    for name in ("a.flac", "a.ogg"):
        path = tmp_path / name
        import soundfile as sf

        sf.write(path, sine(), SR)
        assert len(load_audio(path, SR)) == pytest.approx(3 * SR, abs=2048)


def test_six_channels(tmp_path):
    y = np.tile(sine(440, 2)[:, None], (1, 6))
    assert len(load_audio(write_wav(tmp_path / "six.wav", y), SR)) == 2 * SR


@pytest.mark.parametrize(
    "kind, message",
    [
        ("silent", "silent"),
        ("short", "shorter than the 1 s minimum"),
        ("empty", "empty file"),
        ("corrupt", "not a readable audio file"),
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("odd_rate", "outside 8000-192000 Hz"),
    ],
)
def test_bad_audio_rejected_with_one_line(bad_audio, kind, message):
    with pytest.raises(InputError) as err:
        load_audio(bad_audio[kind], SR)
    text = str(err.value)
    assert message in text and str(bad_audio[kind]) in text and "\n" not in text


def test_min_duration_is_configurable(tmp_path):
    path = write_wav(tmp_path / "half.wav", sine(seconds=0.5))
    assert len(load_audio(path, SR, min_duration=0.25)) == SR // 2


needs_ffmpeg = pytest.mark.skipif(__import__("shutil").which("ffmpeg") is None, reason="ffmpeg is not installed")


def encode(wav, suffix, *codec):
    out = wav.with_suffix(suffix)
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", str(wav), *codec, str(out)], check=True)
    return out


@needs_ffmpeg
@pytest.mark.parametrize("suffix, codec", [(".m4a", ["-c:a", "aac", "-b:a", "96k"]), (".opus", ["-c:a", "libopus"])])
def test_phone_formats_are_decoded_with_ffmpeg(tmp_path, suffix, codec):
    from pianokit.audio import find_audio, read_segments

    wav = write_wav(tmp_path / "memo.wav", sine(440, 3.0, sr=44100), sr=44100)
    memo = encode(wav, suffix, *codec)
    y = load_audio(memo, SR)
    assert abs(len(y) - 3 * SR) < 0.1 * SR
    spectrum = np.abs(np.fft.rfft(y[SR // 2: SR // 2 + SR]))
    assert abs(np.argmax(spectrum) - 440) <= 2  # 1 s of audio: 1 Hz bins
    segments = list(read_segments(memo, SR, 1.0))
    assert len(segments) == -(-len(y) // SR) and all(len(part) <= SR for _, part in segments)
    np.testing.assert_array_equal(np.concatenate([part for _, part in segments]), y)
    assert memo in find_audio(tmp_path)


@needs_ffmpeg
def test_a_corrupt_or_silent_m4a_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.m4a"
    bad.write_bytes(b"\x00\x00\x00\x18ftypM4A not really audio" * 4)
    with pytest.raises(InputError, match="bad.m4a: not a readable audio file"):
        load_audio(bad, SR)
    silent = encode(write_wav(tmp_path / "quiet.wav", np.zeros(2 * SR, dtype=np.float32)), ".m4a", "-c:a", "aac")
    with pytest.raises(InputError, match="silent"):
        load_audio(silent, SR)


def test_without_ffmpeg_an_m4a_gets_a_clear_line(tmp_path, monkeypatch):
    import shutil

    memo = tmp_path / "memo.m4a"
    memo.write_bytes(b"\x00\x00\x00\x18ftypM4A " * 8)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InputError, match=r"memo.m4a: \.m4a files need ffmpeg, which is not installed"):
        load_audio(memo, SR)


@pytest.mark.parametrize("rate", [44100, 48000, 96000, 176400, 192000])
def test_resampling_keeps_the_band_the_training_renders_have(rate):
    """Up to 10.5 kHz (95% of 22.05 kHz's Nyquist) a tone keeps its level within 0.1 dB; above the
    new Nyquist frequency it is suppressed by 100 dB instead of folding back into the band."""
    from pianokit.audio import resample

    t = np.arange(rate * 3) / rate

    def level(freq):
        z = resample(np.sin(2 * np.pi * freq * t).astype(np.float32), rate, SR)[3000:-3000]
        return 20 * np.log10(np.sqrt(np.mean(z ** 2)) / np.sqrt(0.5))

    for freq in (100, 1000, 5000, 10000, 10500):
        assert abs(level(freq)) < 0.1, freq
    assert level(11600) < -100 and level(15000) < -100


def test_a_44k_recording_keeps_its_10_khz_content(tmp_path):
    y = sine(10300, 2, sr=44100, amp=0.3) + sine(440, 2, sr=44100, amp=0.3)
    loaded = load_audio(write_wav(tmp_path / "hi.wav", y, sr=44100, subtype="FLOAT"), SR)
    spectrum = np.abs(np.fft.rfft(loaded))
    freqs = np.fft.rfftfreq(len(loaded), 1 / SR)
    ratio = spectrum[np.argmin(np.abs(freqs - 10300))] / spectrum[np.argmin(np.abs(freqs - 440))]
    assert 0.97 < ratio < 1.03


@needs_ffmpeg
def test_an_m4a_is_resampled_like_a_wav(tmp_path):
    """ffmpeg decodes at the file's own rate; the loader's resampler keeps the 10-11 kHz band."""
    y = sine(10300, 3, sr=48000, amp=0.3) + sine(440, 3, sr=48000, amp=0.3)
    wav = write_wav(tmp_path / "hi.wav", y, sr=48000, subtype="FLOAT")
    m4a = encode(wav, ".m4a", "-c:a", "aac", "-b:a", "256k")
    for loaded, tolerance in ((load_audio(wav, SR), 0.01), (load_audio(m4a, SR), 0.15)):  # AAC alters levels a little
        middle = loaded[SR // 2:-SR // 2] * np.hanning(len(loaded) - SR)
        spectrum, freqs = np.abs(np.fft.rfft(middle)), np.fft.rfftfreq(len(middle), 1 / SR)
        ratio = spectrum[np.abs(freqs - 10300) < 5].max() / spectrum[np.abs(freqs - 440) < 5].max()
        assert abs(ratio - 1) < tolerance


def _decaying_chord(seconds: float, sr: int = SR) -> np.ndarray:
    """A C major chord dying away, without DC (which the loader takes away)."""
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.exp(-t / 3) * sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392)) / 3
    return (y - y.mean()).astype(np.float32)


def test_long_silence_at_the_ends_is_cut_to_what_training_recordings_have(tmp_path):
    """Digital silence before the first sound and after the last is kept up to KEEP_START_S /
    KEEP_END_S (about what 95 % of the training renders have), in a file as in memory; shorter
    silence is untouched."""
    from pianokit.audio import KEEP_END_S, KEEP_START_S, read_segments, trim_ends

    music = _decaying_chord(6.0)
    padded = np.concatenate([np.zeros(20 * SR, np.float32), music, np.zeros(10 * SR, np.float32)])
    kept, first = trim_ends(padded, SR)
    assert first / SR == pytest.approx(20 - KEEP_START_S, abs=0.05)
    assert len(kept) / SR == pytest.approx(KEEP_START_S + 6 + KEEP_END_S, abs=0.1)
    assert np.array_equal(kept, padded[first:first + len(kept)])
    [(start, segment)] = list(read_segments(write_wav(tmp_path / "p.wav", padded, subtype="FLOAT"), SR, 120))
    assert start == pytest.approx(first / SR, abs=1e-3) and np.allclose(segment, kept, atol=1e-6)
    short = np.concatenate([np.zeros(int(0.9 * KEEP_START_S * SR), np.float32), music,
                            np.zeros(int(0.9 * KEEP_END_S * SR), np.float32)])
    assert len(trim_ends(short, SR)[0]) == len(short)


def test_trimming_reads_long_files_in_pieces_and_keeps_quiet_music(tmp_path):
    """A soft passage 40 dB under a loud one is music, not silence at an end; a file longer than one
    read block is trimmed as in memory."""
    from pianokit.audio import KEEP_START_S, read_segments, trim_ends

    quiet = 0.01 * _decaying_chord(4.0)
    y = np.concatenate([np.zeros(15 * SR, np.float32), quiet, _decaying_chord(8.0), quiet, np.zeros(15 * SR, np.float32)])
    y = np.tile(y, 5)  # 230 s: several read blocks
    kept, first = trim_ends(y, SR)
    assert first == pytest.approx((15 - KEEP_START_S) * SR, abs=0.06 * SR)  # KEEP_START_S before the first soft chord
    pieces = list(read_segments(write_wav(tmp_path / "long.wav", y, subtype="FLOAT"), SR, 30))
    assert pieces[0][0] == pytest.approx(first / SR, abs=1e-3)
    assert np.allclose(np.concatenate([p for _, p in pieces]), kept, atol=1e-6)


def _room_tone(seconds: float, colour: str, dbfs: float = -65.0, seed: int = 0) -> np.ndarray:
    from pianokit import conditions

    tone = conditions.noise(int(seconds * SR), SR, colour, np.random.default_rng(seed))
    return (tone * 10 ** (dbfs / 20) / np.sqrt(np.mean(tone ** 2))).astype(np.float32)


@pytest.mark.parametrize("colour", ["white", "pink", "room"])
def test_room_tone_at_the_ends_is_cut_like_silence(tmp_path, colour):
    """A recorder left running before and after the playing: steady noise (hiss, pink noise, or
    rumble with mains hum) for 8 s at each end, and under the music, is cut to about KEEP_START_S
    before the first sound and little more than KEEP_END_S after the last; a stereo file with a DC
    offset is cut as the same audio in memory."""
    from pianokit.audio import KEEP_END_S, KEEP_START_S, read_segments, trim_ends

    music = _decaying_chord(6.0)
    y = _room_tone(22.0, colour)
    y[8 * SR:14 * SR] += music
    kept, first = trim_ends(y, SR)
    assert first / SR == pytest.approx(8 - KEEP_START_S, abs=0.06)
    assert 6 + KEEP_START_S <= len(kept) / SR <= 6 + KEEP_START_S + KEEP_END_S + 0.1
    path = write_wav(tmp_path / "tone.wav", np.stack([y + 0.05, y], axis=1), subtype="FLOAT")
    [(start, segment)] = list(read_segments(path, SR, 120))
    assert start == pytest.approx(first / SR, abs=0.06) and len(segment) == pytest.approx(len(kept), abs=0.06 * SR)


def test_music_over_room_tone_is_kept(tmp_path):
    """Room tone is only cut where nothing rises over it: a soft note 6 dB over the tone after 4 s of
    tone alone is kept, and so is the start of a recording that starts on a held chord, or whose first
    half second is no steady tone (noise fading in). A note dying away slowly at the end, 40 dB under
    the music with a second string beating against it, is steady too but is no noise: kept."""
    from pianokit.audio import trim_ends

    y = _room_tone(26.0, "white", seed=1)
    y[8 * SR:14 * SR] += _decaying_chord(6.0)
    soft = _decaying_chord(2.0)
    soft *= 10 ** ((-65 + 6) / 20) / np.sqrt(np.mean(soft[: SR // 2] ** 2))
    y[18 * SR:20 * SR] += soft
    kept, first = trim_ends(y, SR)
    assert first + len(kept) >= 20 * SR
    held = np.concatenate([_decaying_chord(6.0), _room_tone(8.0, "white")]) + _room_tone(14.0, "white", seed=2)
    assert trim_ends(held, SR)[1] == 0
    fading_in = _room_tone(20.0, "white", seed=3)
    fading_in[: SR // 2] *= np.linspace(0.1, 1.0, SR // 2, dtype=np.float32)
    fading_in[8 * SR:14 * SR] += _decaying_chord(6.0)
    assert trim_ends(fading_in, SR)[1] == 0
    t = np.arange(6 * SR) / SR
    dying = 0.01 * np.exp(-t / 40) * (np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 440.4 * t))
    ending = np.concatenate([_decaying_chord(6.0), dying.astype(np.float32)])
    assert len(trim_ends(ending, SR)[0]) == len(ending)


def test_a_channel_of_opposite_polarity_is_turned_over_before_the_downmix(tmp_path):
    """A stereo file whose channels are each other's negative (a mic cable or a track stored upside
    down) is the music, not silence; so is a 6-channel file with one channel turned over. In a file
    read whole, read in segments after its silent ends are found, and in memory alike."""
    from pianokit.audio import KEEP_START_S, read_segments

    music = np.concatenate([np.zeros(20 * SR, np.float32), _decaying_chord(6.0), np.zeros(10 * SR, np.float32)])
    path = write_wav(tmp_path / "antiphase.wav", np.stack([music, -music], axis=1), subtype="FLOAT")
    assert np.allclose(load_audio(path, SR), music, atol=1e-6)
    [(start, segment)] = list(read_segments(path, SR, 120))
    assert start == pytest.approx(20 - KEEP_START_S, abs=0.06)
    assert np.allclose(segment, music[int(round(start * SR)):][: len(segment)], atol=1e-6)
    six = np.tile(music[:, None], (1, 6)) * np.array([1, 1, -1, 1, 0.5, -0.5], np.float32)
    expected = music * (1 + 1 + 1 + 1 + 0.5 + 0.5) / 6
    assert np.allclose(load_audio(write_wav(tmp_path / "six.wav", six, subtype="FLOAT"), SR), expected, atol=1e-6)


def test_unrelated_channels_are_averaged_as_they_are(tmp_path):
    """Only a clearly negative correlation turns a channel over: two different notes, or one note
    with a little of the other channel's opposite in it, are plain averages."""
    left, right = sine(440, 2, SR, 0.4), sine(660, 2, SR, 0.4)
    assert np.allclose(load_audio(write_wav(tmp_path / "two.wav", np.stack([left, right], axis=1),
                                            subtype="FLOAT"), SR), (left + right) / 2, atol=1e-6)
    mixed = right - 0.05 * left
    assert np.allclose(load_audio(write_wav(tmp_path / "mixed.wav", np.stack([left, mixed], axis=1),
                                            subtype="FLOAT"), SR), (left + mixed) / 2, atol=1e-6)


@needs_ffmpeg
def test_an_m4a_with_opposite_channels_is_not_silent(tmp_path):
    music = 0.5 * _decaying_chord(3.0)
    wav = write_wav(tmp_path / "anti.wav", np.stack([music, -music], axis=1))
    y = load_audio(encode(wav, ".m4a", "-c:a", "aac", "-b:a", "128k"), SR)
    assert np.sqrt(np.mean(y ** 2)) == pytest.approx(np.sqrt(np.mean(music ** 2)), rel=0.1)


def _header_data_size(path, size: int) -> None:
    """Overwrite the data chunk size in the header of the WAV file ``path`` (fmt chunk of 16 bytes)."""
    raw = bytearray(path.read_bytes())
    assert raw[36:40] == b"data"
    raw[40:44] = size.to_bytes(4, "little")
    path.write_bytes(bytes(raw))


def _read_with_notes(path):
    from pianokit.audio import read_segments

    notes = []
    y = np.concatenate([part for _, part in read_segments(path, SR, 1.0, notes=notes)])
    return y, notes


def test_a_wav_cut_short_is_read_as_far_as_it_goes_and_said_so(tmp_path):
    whole = write_wav(tmp_path / "whole.wav", sine(440, 4.0))
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + 2 * int(2.5 * SR)])  # the header still announces 4 s
    y, notes = _read_with_notes(cut)
    assert len(y) == int(2.5 * SR)
    assert len(notes) == 1 and "ends at 2.5 s" in notes[0] and "announces 4.0 s" in notes[0]
    with pytest.raises(InputError, match="cut.wav: the audio ends at 2.5 s .*training recording must be whole"):
        load_audio(cut, SR)
    assert _read_with_notes(whole)[1] == []
    nearly = tmp_path / "nearly.wav"  # a few ms short: nothing worth saying
    nearly.write_bytes(whole.read_bytes()[: 44 + 2 * (4 * SR - 100)])
    assert _read_with_notes(nearly)[1] == [] and len(load_audio(nearly, SR)) == 4 * SR - 100


def test_a_flac_cut_short_is_read_up_to_the_break(tmp_path):
    import soundfile as sf

    whole = tmp_path / "whole.flac"
    rng = np.random.default_rng(0)
    sf.write(whole, sine(440, 6.0) + 0.01 * rng.standard_normal(6 * SR), SR)  # noise: no frame compresses to nothing
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    y, notes = _read_with_notes(cut)
    assert 2.5 * SR < len(y) < 4.5 * SR
    np.testing.assert_allclose(y, load_audio(whole, SR)[: len(y)], atol=1e-4)  # the same but for the DC taken away
    assert len(notes) == 1 and "announces 6.0 s" in notes[0] and "cut short" in notes[0]


def test_a_wav_that_announces_an_open_length_is_read_to_its_end(tmp_path):
    path = write_wav(tmp_path / "stream.wav", sine(440, 2.0))
    _header_data_size(path, 0xFFFFFFFF)  # as written by a pipe that cannot go back
    y, notes = _read_with_notes(path)
    assert len(y) == 2 * SR and notes == []


@needs_ffmpeg
def test_a_wav_whose_header_was_never_finished_is_read_whole_and_said_so(tmp_path):
    path = write_wav(tmp_path / "unfinished.wav", sine(440, 2.0))
    _header_data_size(path, 0)  # the recorder stopped before writing the length
    y, notes = _read_with_notes(path)
    assert len(y) == 2 * SR and np.max(np.abs(y)) == pytest.approx(0.3, abs=1e-3)
    assert len(notes) == 1 and "never finished" in notes[0]
    with pytest.raises(InputError, match="unfinished.wav: its WAV header was never finished"):
        load_audio(path, SR)


def test_without_ffmpeg_an_unfinished_wav_gets_a_clear_line(tmp_path, monkeypatch):
    import shutil

    path = write_wav(tmp_path / "unfinished.wav", sine(440, 2.0))
    _header_data_size(path, 0)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="unfinished.wav: a WAV file whose header was never finished .* needs ffmpeg"):
        _read_with_notes(path)


@needs_ffmpeg
def test_ffmpeg_decoding_errors_are_said(tmp_path):
    import soundfile as sf

    whole = tmp_path / "whole.flac"
    rng = np.random.default_rng(0)
    sf.write(whole, sine(440, 6.0) + 0.01 * rng.standard_normal(6 * SR), SR)
    damaged = tmp_path / "damaged.mka"  # ffmpeg reads the FLAC inside whatever the name says
    damaged.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    y, notes = _read_with_notes(damaged)
    assert 2.5 * SR < len(y) < 4.5 * SR
    assert len(notes) == 1 and notes[0].startswith("decoded with errors")
    clean = encode(write_wav(tmp_path / "memo.wav", sine(440, 3.0)), ".m4a", "-c:a", "aac")
    assert _read_with_notes(clean)[1] == []


def test_a_dc_offset_is_taken_away_before_anything_else(tmp_path):
    """A constant added to each channel (a recorder's converter offset) is not sound: the loader gives
    the music without it, in a file read whole and in segments, and the silence at the ends is still
    found under it."""
    from pianokit.audio import read_segments, trim_ends

    music = _decaying_chord(6.0)
    padded = np.concatenate([np.zeros(20 * SR, np.float32), music, np.zeros(10 * SR, np.float32)])
    reference = load_audio(write_wav(tmp_path / "plain.wav", padded, subtype="FLOAT"), SR)
    stereo = np.stack([padded + 0.2, padded - 0.05], axis=1)
    path = write_wav(tmp_path / "offset.wav", stereo, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, SR), reference, atol=1e-5)
    kept, first = trim_ends(reference, SR)
    [(start, segment)] = list(read_segments(path, SR, 120))
    assert start == pytest.approx(first / SR, abs=1e-3)
    np.testing.assert_allclose(segment, kept, atol=1e-5)
    with pytest.raises(InputError, match="silent"):
        load_audio(write_wav(tmp_path / "constant.wav", np.full(2 * SR, 0.3, np.float32), subtype="FLOAT"), SR)


@needs_ffmpeg
def test_an_mp3_whose_length_the_header_only_guesses_is_not_held_against_it(tmp_path):
    """Without a Xing header libsndfile guesses a VBR MP3's length from its bit rate (here far too
    long); only lengths a header states exactly (WAV, FLAC) are compared with the audio."""
    import soundfile as sf

    from pianokit.audio import _declared_frames

    example = Path(__file__).resolve().parent.parent / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"
    copy = tmp_path / "memo.wav"
    copy.write_bytes(example.read_bytes())
    mp3 = encode(copy, ".mp3", "-c:a", "libmp3lame", "-q:a", "7", "-write_xing", "0")
    assert sf.info(mp3).duration > sf.info(example).duration + 5  # the guess this test is about
    assert _declared_frames(mp3, sf.info(mp3)) is None
    flac = encode(copy, ".flac")
    assert _declared_frames(flac, sf.info(flac)) == _declared_frames(copy, sf.info(copy)) == sf.info(copy).frames
