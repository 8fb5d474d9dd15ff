"""Recording conditions applied to clean audio: gain, microphone colour, a room, noise, a phone, a codec.

Used twice, with different random draws: to build augmented training variants
(``random_recipe`` + ``apply``) and by bench/robustness.py to test fixed conditions. Rooms come from
pyroomacoustics (image sources for the early reflections plus ray tracing for the tail, in a
shoebox sized and damped for the wanted RT60); filters and the MP3 / GSM codecs from Spotify's
pedalboard; Ogg Vorbis from libsndfile. All are training-time dependencies, never the scorer's; the
scorer uses only ``noise_floor`` (numpy and scipy, which librosa brings).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

NOISE_COLOURS = ("white", "pink", "room")
OGG_BLOCK = 65536
NOISE_FLOOR_SEED = 20261129


def gain(y: np.ndarray, db: float) -> np.ndarray:
    return y * np.float32(10 ** (db / 20))


def room_impulse_response(rt60: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """An impulse response of a random shoebox room whose reverberation time is about ``rt60`` s.

    pyroomacoustics draws its rays from global generators (numpy's and its C++ one); they are
    seeded here from ``rng``, so the same ``rng`` state gives the same room and the same response.
    """
    import pyroomacoustics as pra

    from pianokit import late_reverb

    pra.random.seed(int(rng.integers(2**31)))

    scale = float(np.clip(rt60, 0.15, 3.0)) ** 0.8
    dims = np.array([rng.uniform(6, 10), rng.uniform(4, 8), rng.uniform(2.6, 3.6)]) * max(1.0, 1.6 * scale)
    absorption, _ = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=sr, materials=pra.Material(float(np.clip(absorption, 0.01, 1.0))),
                       max_order=3, ray_tracing=True, air_absorption=True)
    room.set_ray_tracing(receiver_radius=0.5, n_rays=4000, energy_thres=1e-5)
    source = dims * np.array([rng.uniform(0.2, 0.4), rng.uniform(0.3, 0.7), 0.0]) + [0, 0, 1.0]
    distance = rng.uniform(1.0, 4.0)
    angle = rng.uniform(-0.6, 0.6)
    mic = source + [distance * np.cos(angle), distance * np.sin(angle), 0.4]
    room.add_source(np.minimum(source, dims - 0.3))
    room.add_microphone(np.clip(mic, 0.3, dims - 0.3))
    with late_reverb.faster():
        room.compute_rir()
    ir = np.asarray(room.rir[0][0], dtype=np.float64)
    return ir / (np.max(np.abs(ir)) + 1e-12)


def reverberate(y: np.ndarray, sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """``y`` played in a room (RMS kept), with the first part of the reverberant tail after it."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(y, room_impulse_response(rt60, sr, rng))[: len(y) + int(0.5 * rt60 * sr)]
    return (wet * np.sqrt(np.mean(y ** 2) / (np.mean(wet ** 2) + 1e-20))).astype(np.float32)


def noise(n: int, sr: int, colour: str, rng: np.random.Generator, exact_length: bool = False) -> np.ndarray:
    """Seeded noise: white, pink (1/f power), or room-like (brown rumble, mains hum and a little hiss).

    Pink and room noise are shaped in the frequency domain at the next fast FFT length
    (scipy.fft.next_fast_len) and cut to ``n``: at a recording's own length, often with large prime
    factors, the transforms take up to ten times longer. ``exact_length`` shapes at ``n`` itself,
    as the noise floor of feature version 5 did (``noise_floor``)."""
    from scipy import fft

    if colour not in NOISE_COLOURS:
        raise ValueError(f"unknown noise colour {colour!r}; choose from {', '.join(NOISE_COLOURS)}")
    if colour == "white":
        return rng.standard_normal(n)
    m = n if exact_length else fft.next_fast_len(n, real=True)
    white = rng.standard_normal(m)
    spectrum = fft.rfft(white)
    bins = np.maximum(np.arange(len(spectrum)), 1)
    if colour == "pink":
        return fft.irfft(spectrum / np.sqrt(bins), m)[:n]
    brown = fft.irfft(spectrum / bins, m)[:n]
    brown /= np.std(brown) + 1e-12
    t = np.arange(n) / sr
    mains = rng.choice([50.0, 60.0])
    hum = sum(np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
    return brown + 0.3 * hum + 0.1 * white[:n]


def add_noise(y: np.ndarray, sr: int, snr_db: float, colour: str, rng: np.random.Generator,
              exact_length: bool = False) -> np.ndarray:
    """``y`` plus noise ``snr_db`` below its mean power (``noise``)."""
    return _mixed(y, noise(len(y), sr, colour, rng, exact_length), snr_db)


def _mixed(y: np.ndarray, n: np.ndarray, snr_db: float) -> np.ndarray:
    return (y + n * np.sqrt(np.mean(y ** 2) / (np.mean(n ** 2) + 1e-20)) / 10 ** (snr_db / 20)).astype(np.float32)


def noise_floor(y: np.ndarray, sr: int, db: float, exact_length: bool = False) -> np.ndarray:
    """``y`` with pink noise ``db`` below its mean power, always drawn with the same seed: the common
    noise floor of a FeatureConfig that asks for one (contract.FeatureConfig.noise_floor_db).
    ``exact_length``: shaped at the recording's own length, as feature version 5 drew it."""
    from scipy import fft

    m = len(y) if exact_length else fft.next_fast_len(len(y), real=True)
    return _mixed(y, _floor_noise(m)[:len(y)], db)


@lru_cache(maxsize=8)
def _floor_noise(m: int) -> np.ndarray:
    """The noise floor's pink noise shaped at length ``m`` (a fast FFT length, cut to a recording's
    length, or for feature version 5 the recording's own): kept, as recordings share few fast
    lengths (a 14k-row store about 260, so rows in order of length mostly find theirs here).
    Read-only; at most 8 x 8 bytes x m."""
    n = noise(m, 0, "pink", np.random.default_rng(NOISE_FLOOR_SEED), exact_length=True)
    n.flags.writeable = False
    return n


def colour(y: np.ndarray, sr: int, low_db: float, high_db: float, peak_hz: float, peak_db: float) -> np.ndarray:
    """A microphone / placement colouring: low shelf at 150 Hz, high shelf at 5 kHz, one bell."""
    from pedalboard import HighShelfFilter, LowShelfFilter, Pedalboard, PeakFilter

    board = Pedalboard([LowShelfFilter(150, low_db), HighShelfFilter(min(5000, 0.4 * sr), high_db),
                        PeakFilter(min(peak_hz, 0.4 * sr), peak_db, 1.0)])
    return board(y.astype(np.float32), sr)


def phone(y: np.ndarray, sr: int, codec: bool = True) -> np.ndarray:
    """A phone call: 300-3400 Hz band, and the GSM full-rate codec when ``codec``."""
    from pedalboard import GSMFullRateCompressor, HighpassFilter, LowpassFilter, Pedalboard

    chain = [HighpassFilter(300), LowpassFilter(3400)] + ([GSMFullRateCompressor()] if codec else [])
    return Pedalboard(chain)(y.astype(np.float32), sr)


def compress(y: np.ndarray, sr: int, below_peak_db: float, ratio: float) -> np.ndarray:
    """Through a dynamic range compressor (5 ms attack, 100 ms release) whose threshold lies
    ``below_peak_db`` under the recording's peak, as a phone's voice-memo levelling does; the peak is
    restored after it."""
    from pedalboard import Compressor, Pedalboard

    y = y.astype(np.float32)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak == 0:
        return y
    board = Pedalboard([Compressor(threshold_db=20 * np.log10(peak) - below_peak_db, ratio=ratio, attack_ms=5,
                                   release_ms=100)])
    out = board(y, sr)
    return (out * np.float32(peak / max(float(np.max(np.abs(out))), 1e-12))).astype(np.float32)


def mp3(y: np.ndarray, sr: int, vbr_quality: float) -> np.ndarray:
    """Through an MP3 encoder and back (LAME VBR quality 0 = best .. 9.5 = smallest)."""
    from pedalboard import MP3Compressor, Pedalboard

    return Pedalboard([MP3Compressor(vbr_quality)])(y.astype(np.float32), sr)


def ogg(y: np.ndarray, sr: int, quality: float) -> np.ndarray:
    """Through Ogg Vorbis and back (libsndfile's quality 0 = smallest .. 1 = best)."""
    import soundfile as sf

    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", sr, 1, format="OGG", subtype="VORBIS", compression_level=1.0 - quality) as f:
        for start in range(0, len(y), OGG_BLOCK):  # libvorbis allocates one block on the stack: long writes crash
            f.write(np.clip(y[start:start + OGG_BLOCK], -1, 1))
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    return decoded[: len(y)]


@dataclass
class Recipe:
    """One drawn recording condition; None / 0 means the step is skipped."""

    colour: tuple[float, float, float, float] | None = None  # low_db, high_db, peak_hz, peak_db
    rt60: float | None = None
    noise: tuple[str, float] | None = None  # colour, SNR dB
    phone: bool = False
    codec: tuple[str, float] | None = None  # "mp3" or "ogg", quality
    peak_dbfs: float = -6.0
    seed: int = 0
    compress: tuple[float, float] | None = None  # threshold dB under the peak, ratio

    def to_json(self) -> str:
        """The recipe as JSON; a recipe without compression reads as before that step existed."""
        fields = asdict(self)
        if fields["compress"] is None:
            del fields["compress"]
        return json.dumps(fields, sort_keys=True)


PHONE_SHARE = 0.1  # the share of random recipes through a phone call unless asked otherwise
RANDOM_RECIPE = {  # the ranges random_recipe draws from; exported models record it
    "peak_dbfs": (-30.0, -1.0),
    "colour": {"p": 0.8, "low_shelf_db": (-6.0, 6.0), "high_shelf_db": (-9.0, 6.0), "bell_hz": (300.0, 4000.0),
               "bell_db": (-5.0, 5.0)},
    "room": {"p": 0.7, "rt60_s": (0.2, 2.0)},
    "noise": {"p": 0.6, "colours": NOISE_COLOURS, "snr_db": (15.0, 40.0)},
    "phone": {"p": "dataset augment --phone-share (0.1 unless given)"},
    "codec": {"p": 0.5, "mp3_share": 0.6, "mp3_vbr_quality": (4.0, 9.0), "ogg_quality": (0.0, 0.5)},
    "compress": {"p": "dataset augment --compress-share (0 unless given)", "below_peak_db": (6.0, 30.0),
                 "ratio": (1.5, 8.0)},
}


def random_recipe(rng: np.random.Generator, compress_share: float = 0.0, phone_share: float = PHONE_SHARE) -> Recipe:
    """A random everyday recording (RANDOM_RECIPE): each step with its own probability, wide ranges.
    The phone call is drawn with probability ``phone_share``; the same draw is made at any share, so
    recipes drawn with another share differ from these only in their phone step. A phone's dynamic
    range compression is drawn last, with probability ``compress_share``; at 0 no draw is made, so
    the other steps are those of recipes drawn before compression existed."""
    r = RANDOM_RECIPE

    def uniform(bounds, digits=2):
        return round(float(rng.uniform(*bounds)), digits)

    def log_uniform(bounds, digits):
        return round(float(np.exp(rng.uniform(*np.log(bounds)))), digits)

    recipe = Recipe(seed=int(rng.integers(2**31)), peak_dbfs=uniform(r["peak_dbfs"]))
    if rng.random() < r["colour"]["p"]:
        c = r["colour"]
        recipe.colour = (uniform(c["low_shelf_db"]), uniform(c["high_shelf_db"]), log_uniform(c["bell_hz"], 1),
                         uniform(c["bell_db"]))
    if rng.random() < r["room"]["p"]:
        recipe.rt60 = log_uniform(r["room"]["rt60_s"], 3)
    if rng.random() < r["noise"]["p"]:
        recipe.noise = (str(rng.choice(r["noise"]["colours"])), uniform(r["noise"]["snr_db"], 1))
    recipe.phone = bool(rng.random() < phone_share)
    if rng.random() < r["codec"]["p"]:
        c = r["codec"]
        recipe.codec = ("mp3", uniform(c["mp3_vbr_quality"], 1)) if rng.random() < c["mp3_share"] else \
            ("ogg", uniform(c["ogg_quality"]))
    if compress_share > 0 and rng.random() < compress_share:
        recipe.compress = (uniform(r["compress"]["below_peak_db"], 1), log_uniform(r["compress"]["ratio"], 2))
    return recipe


def apply(y: np.ndarray, sr: int, recipe: Recipe) -> np.ndarray:
    """``y`` recorded under ``recipe``: colour, room, noise, phone, compression, codec, then scaled to
    its peak level."""
    rng = np.random.default_rng(recipe.seed)
    y = np.asarray(y, dtype=np.float32)
    if recipe.colour is not None:
        y = colour(y, sr, *recipe.colour)
    if recipe.rt60 is not None:
        y = reverberate(y, sr, recipe.rt60, rng)
    if recipe.noise is not None:
        y = add_noise(y, sr, recipe.noise[1], recipe.noise[0], rng)
    if recipe.phone:
        y = phone(y, sr)
    if recipe.compress is not None:
        y = compress(y, sr, *recipe.compress)
    if recipe.codec is not None:
        kind, quality = recipe.codec
        y = mp3(y, sr, quality) if kind == "mp3" else ogg(y, sr, quality)
    peak = float(np.max(np.abs(y))) if len(y) else 0.0
    if peak > 0:
        y = y * np.float32(10 ** (recipe.peak_dbfs / 20) / peak)
    return y.astype(np.float32)
