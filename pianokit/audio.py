"""Load a recording as mono float32 at a target rate, rejecting input that cannot be rated.

libsndfile (soundfile) reads WAV, FLAC, Ogg, MP3 and AIFF; phone and video formats (m4a / AAC, mp4,
Opus, WebM, WMA, AMR, 3GP) are decoded by the ffmpeg program when it is installed. Each channel's
DC offset (its mean over the file, a constant some converters add) is taken away first: level
normalisation and the silence found at the ends would read it as sound.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import functools
import json
import struct
from math import gcd

import numpy as np
import soundfile as sf

from pianokit.errors import InputError

FFMPEG_SUFFIXES = (".m4a", ".aac", ".mp4", ".opus", ".webm", ".wma", ".amr", ".3gp", ".mka")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", *FFMPEG_SUFFIXES)
MIN_RATE = 8000
MAX_RATE = 192000
SILENCE_PEAK = 1e-4  # -80 dBFS: anything quieter throughout is treated as silence
# A recording's ends: 50 ms frames more than END_DB below its loudest frame are silence there, and
# at most KEEP_START_S of it before the first sounding frame and KEEP_END_S after the last are kept:
# about what 95 % of the training renders have (clean MuseScore renders: 95th percentiles 1.0 and
# 0.3 s; the most 3.0 and 2.5 s). Kept up to those most, as before, silence moved the ratings by up
# to 0.4 within-passage SD; cut to these, 0.1, and held-out accuracy did not change
# (bench/results/keep_silence.md).
END_DB = 50.0
KEEP_START_S, KEEP_END_S = 1.0, 0.5
END_FRAME_S = 0.05
# Room tone at the ends (a recorder started before the playing and stopped after it) is no silence by
# END_DB, so it is found as steady noise: above TONE_BANDS_HZ[0] (rumble and hum, which swell and
# fade from frame to frame, filtered away) the first / last TONE_S of a recording is room tone when
# its frames stay within TONE_STEADY_DB and lie TONE_BELOW_DB under the loudest frame; the tone runs
# on, from that end, until a frame leaves the band from TONE_STEADY_DB under its quietest frame to
# TONE_RISE_DB over its loudest. It must be noise, not the last note dying away (read from the end, a
# decay rises like music over a tone): nothing is cut where the run leaves the band downwards, its
# median drifts more than TONE_DRIFT_DB from the first TONE_S's, or less than TONE_HISS_DB of its
# energy lies above TONE_BANDS_HZ[1] (hiss, pink and room noise: -4 to -1 dB; the dying notes of the
# training renders: -22 to -15 dB). Of a tone, the same KEEP_START_S / KEEP_END_S are kept as of silence.
TONE_BANDS_HZ = (150.0, 2000.0)
TONE_S, TONE_STEADY_DB, TONE_RISE_DB, TONE_BELOW_DB, TONE_DRIFT_DB, TONE_HISS_DB = 0.5, 3.0, 3.0, 20.0, 1.0, -10.0
# Channels correlating with the loudest one below this are turned over before the downmix: a channel
# wired or stored upside down would otherwise cancel the others (a stereo file whose channels are
# each other's negative would be silent as plain mono).
FLIP_BELOW_R = -0.1
# A file that ends more than this before the length its header announces is reported as cut short.
SHORTFALL_S = 0.25
OPEN_SIZES = (0, 0xFFFFFFFF)  # WAV data sizes left by writers that never go back to the header


def find_audio(folder: Path) -> list[Path]:
    """Audio files (by suffix) anywhere under ``folder``, sorted; InputError when there are none."""
    found = sorted(f for f in folder.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file())
    if not found:
        raise InputError(f"{folder}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder")
    return found


def _open(path: Path, min_duration: float) -> sf._SoundFileInfo:
    """Check that ``path`` is a readable audio file of a usable rate and length; return its info."""
    _check_file(path)
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable audio file ({_detail(exc)})") from None
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise InputError(f"{path}: sample rate {info.samplerate} Hz is outside {MIN_RATE}-{MAX_RATE} Hz")
    if info.frames <= 0:
        raise InputError(f"{path}: contains no audio samples")
    duration = info.frames / info.samplerate
    if duration < min_duration:
        raise InputError(f"{path}: {duration:.2f} s is shorter than the {min_duration:g} s minimum")
    return info


def missing(path: Path, what: str = "file") -> str:
    """Why ``path``, which does not exist, cannot be read: gone, or a link that leads nowhere."""
    if path.is_symlink():
        return f"{path}: a symbolic link to nothing (its target is missing, or a loop)"
    return f"{path}: no such {what}"


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(missing(path))
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected an audio file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (a device, pipe or socket), expected an audio file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: permission denied")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file")


def needs_ffmpeg(path: Path) -> bool:
    """Formats libsndfile cannot read, MP3 when ffmpeg is there (libsndfile's mpg123 decoder prints
    errors on some valid MP3s and has crashed the process on others), and a WAV whose header was
    never finished (libsndfile reads no samples where it announces none; ffmpeg reads to the end)."""
    suffix = path.suffix.lower()
    return (suffix in FFMPEG_SUFFIXES or (suffix == ".mp3" and shutil.which("ffmpeg") is not None)
            or unfinished_wav(path))


def wav_data_chunk(path: Path) -> tuple[int, int, int] | None:
    """A WAV file's data chunk: (bytes its header announces, bytes that follow up to the end of the
    file, bytes per frame); None for other files and headers too broken to tell."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size, align = os.fstat(f.fileno()).st_size, 0
            while len(chunk := f.read(8)) == 8:
                name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if name == b"fmt ":
                    align = struct.unpack("<H", f.read(14)[12:14])[0]
                    f.seek(length - 14 + (length & 1), os.SEEK_CUR)
                elif name == b"data":
                    return (length, size - f.tell(), align) if align else None
                else:
                    f.seek(length + (length & 1), os.SEEK_CUR)
    except (OSError, struct.error, ValueError):
        return None
    return None


def unfinished_wav(path: Path) -> bool:
    """A WAV file whose header announces no samples while sample data follows it: a recording that
    was stopped before its writer went back to fill in the length."""
    chunk = wav_data_chunk(path) if path.is_file() else None
    return chunk is not None and chunk[0] == 0 and chunk[1] >= chunk[2]


def shortfall(declared: int | None, readable: int, rate: int) -> str | None:
    """What to say of a file that holds ``readable`` of the ``declared`` frames its header announces
    (None when it is whole, to SHORTFALL_S, or its header does not tell)."""
    if declared is None or declared - readable <= SHORTFALL_S * rate:
        return None
    return (f"the audio ends at {readable / rate:.1f} s but its header announces {declared / rate:.1f} s: "
            "cut short (an interrupted recording or copy?)")


def _declared_frames(path: Path, info) -> int | None:
    """Frames the file's header announces, where it says so exactly: a WAV's data chunk size
    (libsndfile counts only what the file holds) or a FLAC's STREAMINFO; None for other formats
    (libsndfile guesses an MP3's length from its bit rate: 24.7 s for a 10.8 s VBR file)."""
    chunk = wav_data_chunk(path)
    if chunk is not None:
        return None if chunk[0] in OPEN_SIZES else chunk[0] // chunk[2]
    return info.frames if info.format == "FLAC" else None


def _ffmpeg_stream(exe: str, path: Path) -> tuple[int | None, int | None]:
    """The first audio stream's sample rate and channel count, from the ffprobe beside ``exe``
    (None where unknown)."""
    probe = shutil.which("ffprobe") or str(Path(exe).with_name("ffprobe"))
    try:
        proc = subprocess.run([probe, "-v", "error", "-select_streams", "a:0", "-show_entries",
                               "stream=sample_rate,channels", "-of", "json", str(path)], capture_output=True, text=True)
        stream = json.loads(proc.stdout)["streams"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return None, None
    rate, channels = int(stream.get("sample_rate", 0)), int(stream.get("channels", 0))
    return (rate if MIN_RATE <= rate <= MAX_RATE else None), (channels if channels > 0 else None)


def decode_with_ffmpeg(path: Path, sample_rate: int, min_duration: float) -> tuple[np.ndarray, str | None]:
    """The whole file as mono float32 at ``sample_rate``: decoded by the ffmpeg program at its own rate
    and resampled like every other file (``resample``); and what to say of a file that decoded with
    errors or whose WAV header was never finished (else None)."""
    _check_file(path)
    exe = shutil.which("ffmpeg")
    unfinished = unfinished_wav(path)
    if exe is None:
        what = "a WAV file whose header was never finished (it announces no samples) needs" if unfinished else \
            f"{path.suffix} files need"
        raise InputError(f"{path}: {what} ffmpeg, which is not installed (apt-get install ffmpeg, "
                         "brew install ffmpeg); or convert the file to WAV or FLAC")
    rate, channels = _ffmpeg_stream(exe, path)
    rate, channels = rate or sample_rate, channels or 1  # unknown: let ffmpeg resample and downmix
    proc = subprocess.run([exe, "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", str(channels), "-ar",
                           str(rate), "-f", "f32le", "-acodec", "pcm_f32le", "-"], capture_output=True)
    data = np.frombuffer(proc.stdout, dtype="<f4")
    data = data[: len(data) - len(data) % channels].reshape(-1, channels)
    if proc.returncode != 0 or data.size == 0:
        detail = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"{path}: not a readable audio file (ffmpeg: {detail[-1][:160] if detail else 'no audio'})")
    if len(data) < min_duration * rate:
        raise InputError(f"{path}: {len(data) / rate:.2f} s is shorter than the {min_duration:g} s minimum")
    errors = proc.stderr.decode(errors="replace").strip().splitlines()
    note = "its WAV header was never finished (it announces no samples): the recording may have been interrupted" \
        if unfinished else \
        (f"decoded with errors ({errors[-1][:120]}): part of the audio may be missing or damaged" if errors else None)
    return _mono(path, data, rate, sample_rate), note


def _mono(path: Path, data: np.ndarray, rate: int, sample_rate: int, signs: np.ndarray | None = None,
          offset: np.ndarray | None = None) -> np.ndarray:
    """Finite ``data`` (samples x channels) less each channel's DC ``offset``, downmixed (``downmix``
    with ``signs``) and resampled to ``sample_rate``, as contiguous float32. Without ``offset`` and
    ``signs``, those of these samples (the channel means; ``channel_signs``)."""
    if not np.all(np.isfinite(data)):
        raise InputError(f"{path}: audio contains NaN or infinite samples")
    data = data - (data.mean(axis=0, dtype=np.float64) if offset is None else offset).astype(np.float32)
    if signs is None:
        signs = channel_signs(data.T.astype(np.float64) @ data)
    return np.ascontiguousarray(resample(downmix(data, signs), rate, sample_rate), dtype=np.float32)


def channel_signs(gram: np.ndarray) -> np.ndarray:
    """+1 or -1 per channel, from the channels' summed products (``gram``, channels x channels):
    -1 for a channel whose correlation with the loudest channel is below FLIP_BELOW_R."""
    power = np.diag(gram)
    ref = int(np.argmax(power))
    r = gram[:, ref] / np.sqrt(np.maximum(power * power[ref], 1e-30))
    return np.where(r < FLIP_BELOW_R, -1.0, 1.0)


def downmix(data: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Mono mean of ``data`` (samples x channels), each channel turned over where its sign is -1."""
    return (data @ signs.astype(data.dtype)) / data.shape[1]


def _detail(exc: Exception) -> str:
    return str(exc).splitlines()[-1] if str(exc) else type(exc).__name__


def _read_mono(path: Path, start: int, stop: int, rate: int, sample_rate: int,
               signs: np.ndarray | None = None, offset: np.ndarray | None = None) -> np.ndarray:
    """Samples [start, stop) as mono float32 at ``sample_rate`` (``_mono``)."""
    try:
        data, _ = sf.read(path, start=start, stop=stop, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a readable audio file ({_detail(exc)})") from None
    if data.shape[0] == 0:
        raise InputError(f"{path}: audio data is truncated (no samples from {start / rate:.1f} s)")
    return _mono(path, data, rate, sample_rate, signs, offset)


PASSBAND = 0.97  # of the lower Nyquist frequency: the filter's -6 dB point; flat to 0.95, -100 dB at 1.0


@functools.lru_cache(maxsize=8)
def _lowpass(up: int, down: int) -> np.ndarray:
    from scipy.signal import firwin

    factor = max(up, down)
    return firwin(256 * factor + 1, PASSBAND / factor, window=("kaiser", 10.0))  # resample_poly scales by up


def resample(y: np.ndarray, rate: int, target: int) -> np.ndarray:
    """``y`` at ``rate`` -> ``target`` Hz, keeping the band up to 95% of the lower Nyquist frequency.

    The training audio is rendered at 22.05 kHz with content up to its Nyquist frequency; a 44.1 or
    48 kHz recording resampled with a usual high-quality filter (soxr HQ: flat to 91%) loses the
    10-11 kHz band, which moved spectral-contrast and zero-crossing features by several training SDs
    (bench/results/sample_rates*.md). This polyphase Kaiser FIR keeps that band and still suppresses
    aliasing by 100 dB.
    """
    if rate == target:
        return y
    from scipy.signal import resample_poly

    common = gcd(rate, target)
    up, down = target // common, rate // common
    return resample_poly(y, up, down, window=_lowpass(up, down)).astype(np.float32)


def _check_not_silent(path: Path, peak: float) -> None:
    if peak < SILENCE_PEAK:
        raise InputError(f"{path}: audio is silent (peak below -80 dBFS)")


def _check_not_too_long(path: Path, duration: float, max_duration: float | None) -> None:
    if max_duration is not None and duration > max_duration:
        raise InputError(f"{path}: {duration:.0f} s is longer than the {max_duration:g} s maximum; cut it into "
                         "shorter pieces")


def load_audio(path: str | os.PathLike, sample_rate: int, min_duration: float = 1.0,
               max_duration: float | None = None) -> np.ndarray:
    """Read any file soundfile understands (or ffmpeg, for FFMPEG_SUFFIXES), take each channel's DC
    offset (its mean) away, downmix to mono (``downmix``: a channel of opposite polarity is turned
    over first) and resample to ``sample_rate`` (``resample``).

    Raises InputError (one line naming the file) for a missing, unreadable, corrupt, empty,
    too-short, too-long (over ``max_duration``: refused before its samples are read, where the
    header tells the length) or all-silent file, a rate outside 8-192 kHz, and for what
    ``read_segments`` rates with a note: a file cut short of the length its header announces, a WAV
    whose header was never finished, a file ffmpeg decodes with errors (a training recording must be
    whole).
    """
    path = Path(path)
    if needs_ffmpeg(path):
        mono, note = decode_with_ffmpeg(path, sample_rate, min_duration)
        _check_not_too_long(path, len(mono) / sample_rate, max_duration)
    else:
        info = _open(path, min_duration)
        _check_not_too_long(path, info.frames / info.samplerate, max_duration)
        note = shortfall(_declared_frames(path, info), info.frames, info.samplerate)
        mono = None if note else _read_mono(path, 0, info.frames, info.samplerate, sample_rate)
    if note:
        raise InputError(f"{path}: {note}; refused, as a training recording must be whole")
    _check_not_silent(path, float(np.max(np.abs(mono))))
    return mono


def _frame_rms(y: np.ndarray, frame: int) -> np.ndarray:
    """RMS of consecutive ``frame``-sample frames of ``y`` (the last one may be shorter)."""
    k = -(-len(y) // frame)
    padded = np.zeros(k * frame, dtype=np.float64)
    padded[: len(y)] = y
    counts = np.full(k, frame, dtype=np.float64)
    counts[-1] = len(y) - (k - 1) * frame
    return np.sqrt((padded.reshape(k, frame) ** 2).sum(axis=1) / counts)


def tone_filters(rate: int) -> list[np.ndarray]:
    """The high-passes (second-order sections) at TONE_BANDS_HZ under which room tone is looked for."""
    from scipy.signal import butter

    return [butter(4, hz, "highpass", fs=rate, output="sos") for hz in TONE_BANDS_HZ]


def highpassed(y: np.ndarray, sos: np.ndarray, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``y`` (samples x channels) through ``sos``, continuing from ``state``, or started as if the
    first sample had always been there (a DC offset makes no start-up swing); and the new state."""
    from scipy.signal import sosfilt, sosfilt_zi

    if state is None:
        state = sosfilt_zi(sos)[:, :, None] * y[:1][None]
    return sosfilt(sos, y, axis=0, zi=state)


def _room_tone_frames(power: np.ndarray, hiss: np.ndarray, edge: int) -> int:
    """How many frames at the start of a recording are room tone (TONE_* above), from the mean power
    of its frames above the two TONE_BANDS_HZ; 0 where the first ``edge`` frames are not."""
    levels = 10 * np.log10(np.maximum(power, 1e-20))
    head = levels[:edge]
    if len(levels) <= 2 * edge or head.max() - head.min() > TONE_STEADY_DB \
            or head.max() > levels.max() - TONE_BELOW_DB:
        return 0
    left = np.flatnonzero((levels < head.min() - TONE_STEADY_DB) | (levels > head.max() + TONE_RISE_DB))
    if left.size == 0 or levels[left[0]] < head.min():
        return 0
    run = slice(0, int(left[0]))
    if abs(np.median(levels[run]) - np.median(head)) > TONE_DRIFT_DB \
            or hiss[run].sum() < power[run].sum() * 10 ** (TONE_HISS_DB / 10):
        return 0
    return run.stop


def sounding_span(frame_rms: np.ndarray, frame: int, length: int, rate: int,
                  tone_power: tuple[np.ndarray, np.ndarray]) -> tuple[int, int]:
    """[start, stop) samples of a recording of ``length`` samples at ``rate`` without the silence at
    its ends beyond KEEP_START_S / KEEP_END_S (see END_DB), from the RMS of its ``frame``-sample frames,
    nor the room tone there (see TONE_S), from ``tone_power``, the mean power of the same frames above
    each of TONE_BANDS_HZ."""
    loud = np.flatnonzero(frame_rms > frame_rms.max() * 10 ** (-END_DB / 20))
    if loud.size == 0:
        return 0, length
    power, hiss = tone_power
    edge = max(1, int(round(TONE_S * rate / frame)))
    first = max(int(loud[0]), _room_tone_frames(power, hiss, edge))
    last = min(int(loud[-1]), len(power) - 1 - _room_tone_frames(power[::-1], hiss[::-1], edge))
    start = max(0, first * frame - int(KEEP_START_S * rate))
    stop = min(length, (last + 1) * frame + int(KEEP_END_S * rate))
    return start, stop


def trim_ends(y: np.ndarray, rate: int) -> tuple[np.ndarray, int]:
    """``y`` without the long silence or room tone at its ends (``sounding_span``), and the first kept sample."""
    frame = int(round(END_FRAME_S * rate))
    tone = tuple(_frame_rms(highpassed(y[:, None], sos)[0][:, 0], frame) ** 2 for sos in tone_filters(rate))
    start, stop = sounding_span(_frame_rms(y, frame), frame, len(y), rate, tone)
    return y[start:stop], start


def _file_span(path: Path, info) -> tuple[int, int, np.ndarray, np.ndarray, int]:
    """``sounding_span`` of a file's downmix, its ``channel_signs``, its channels' DC offsets (means)
    and the frames that could be read, from one pass block by block (bounded memory): the channels'
    sums and products are summed per frame, so the frame RMS of the downmix without the offsets
    follows from the offsets and signs the whole file gives. A file that breaks off (a cut-short
    FLAC) counts up to the last whole block, of about a second."""
    frame = int(round(END_FRAME_S * info.samplerate))
    grams, sums, counts = [], [], []
    filters = tone_filters(info.samplerate)
    states, tone_grams = [None] * len(filters), [[] for _ in filters]

    def framed(block: np.ndarray) -> np.ndarray:
        padded = np.zeros((-(-len(block) // frame) * frame, block.shape[1]))
        padded[: len(block)] = block
        return padded.reshape(-1, frame, block.shape[1])
    try:
        for block in sf.blocks(path, blocksize=frame * 20, dtype="float32", always_2d=True):
            frames = framed(block)
            grams.append(frames.transpose(0, 2, 1) @ frames)
            for k, sos in enumerate(filters):
                high, states[k] = highpassed(block, sos, states[k])
                high = framed(high)
                tone_grams[k].append(high.transpose(0, 2, 1) @ high)
            sums.append(frames.sum(axis=1))
            counts.append(np.minimum(frame, len(block) - frame * np.arange(len(frames))))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        if not grams:
            raise InputError(f"{path}: not a readable audio file ({_detail(exc)})") from None
    gram, sums, counts = np.concatenate(grams), np.concatenate(sums), np.concatenate(counts)
    if not np.all(np.isfinite(gram)):
        raise InputError(f"{path}: audio contains NaN or infinite samples")
    readable = int(counts.sum())
    offset = sums.sum(axis=0) / readable
    centred = (gram - sums[:, :, None] * offset[None, None, :] - offset[None, :, None] * sums[:, None, :]
               + counts[:, None, None] * np.outer(offset, offset)[None])
    signs = channel_signs(centred.sum(axis=0))

    def power(per_frame: np.ndarray) -> np.ndarray:
        return np.maximum(np.einsum("c,kcd,d->k", signs, per_frame, signs) / signs.size ** 2, 0) / counts
    tone = tuple(power(np.concatenate(g)) for g in tone_grams)
    span = sounding_span(np.sqrt(power(centred)), frame, readable, info.samplerate, tone)
    return (*span, signs, offset, readable)


def equal_segments(length: int, limit: int) -> list[tuple[int, int]]:
    """[start, stop) bounds cutting ``length`` samples into the fewest equal parts of at most ``limit``."""
    count = max(1, -(-length // max(1, limit)))
    bounds = np.linspace(0, length, count + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def read_segments(path: str | os.PathLike, sample_rate: int, segment_seconds: float,
                  min_duration: float = 1.0, notes: list[str] | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (start seconds in the file, mono segment at ``sample_rate``) for equal segments of at
    most ``segment_seconds`` of the file without the long silence at its ends (``trim_ends``),
    reading one segment at a time so memory stays bounded for long files. An all-silent file
    raises InputError after its last segment. A damaged file is read as far as it goes, and what is
    wrong with it (cut short of the length its header announces, a WAV header never finished,
    decoding errors) is added to ``notes``."""
    path = Path(path)
    if needs_ffmpeg(path):  # decoded whole: ffmpeg streams cannot be sought by sample
        decoded, note = decode_with_ffmpeg(path, sample_rate, min_duration)
        mono, first = trim_ends(decoded, sample_rate)
        for start, stop in equal_segments(len(mono), int(segment_seconds * sample_rate)):
            yield (first + start) / sample_rate, mono[start:stop]
        _check_not_silent(path, float(np.max(np.abs(mono))))
    else:
        info = _open(path, min_duration)
        first, last, signs, offset, readable = _file_span(path, info)
        if readable < min_duration * info.samplerate:
            raise InputError(f"{path}: only {readable / info.samplerate:.2f} s can be read, less than the "
                             f"{min_duration:g} s minimum (a damaged file?)")
        note = shortfall(_declared_frames(path, info), readable, info.samplerate)
        peak = 0.0
        for start, stop in equal_segments(last - first, int(segment_seconds * info.samplerate)):
            mono = _read_mono(path, first + start, first + stop, info.samplerate, sample_rate, signs, offset)
            peak = max(peak, float(np.max(np.abs(mono))))
            yield (first + start) / info.samplerate, mono
        _check_not_silent(path, peak)
    if note and notes is not None:
        notes.append(note)
