"""Piano transcription front-end: basic-pitch's ONNX model (onnxruntime only) -> note events ->
performance features, the audio counterpart of the MIDI-derived features in pianokit.symbolic.

The model (Spotify basic-pitch, ICASSP 2022, Apache-2.0; see assets/basic_pitch/NOTICE) takes raw
22.05 kHz audio in 2 s windows and gives per-frame (86 frames/s) note, onset and pitch-contour
posteriors over the 88 piano keys; its CQT front end is inside the graph. Notes are decoded as in
basic-pitch: onset peaks above a threshold, held while the note posterior stays above another. A
note's loudness (the velocity proxy, in dB) is the spectral peak near its first two harmonics at its
onset.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path

from dataclasses import dataclass

import numpy as np
from scipy.signal import argrelmax

from pianokit import cuda
from pianokit.feature_names import TRANSCRIBED_NOTE_FEATURES as NOTE_FEATURES
from pianokit.parallel import onnx_session_options
from pianokit.performance import note_features

MODEL_PATH = Path(__file__).resolve().parent / "assets" / "basic_pitch" / "nmp.onnx"
# The same model with its narrow convolutions phase-packed (pianokit.phase_packing): the same sums, about
# 1.8 times faster on ONNX Runtime's x86-64 CPU kernels (blocked NCHWc layout, measured with AVX-512).
CPU_MODEL_PATH = MODEL_PATH.with_name("nmp_cpu.onnx")
SAMPLE_RATE = 22050
FFT_HOP = 256
WINDOW_SAMPLES = 2 * SAMPLE_RATE - FFT_HOP
OVERLAP_FRAMES = 30
FRAME_RATE = SAMPLE_RATE / FFT_HOP
MIDI_OFFSET = 21
ONSET_THRESHOLD = 0.5
FRAME_THRESHOLD = 0.3
MIN_NOTE_FRAMES = 11  # 127.7 ms, basic-pitch's default
ENERGY_TOLERANCE = 11

_CUDA = False


def run_on_cuda(enabled: bool) -> None:
    """Run the model with onnxruntime's CUDA provider in this process, in fixed-size batches
    (pianokit.cuda): the scorer does when it rates on the GPU, extract with --device cuda."""
    global _CUDA
    _CUDA = enabled


def model_path(on_cuda: bool, machine: str | None = None) -> Path:
    """The phase-packed copy for ONNX Runtime's x86-64 CPU kernels, whose channel padding it avoids;
    the original for CUDA and other CPUs, where its wider kernels would be extra work."""
    machine = (machine or platform.machine()).lower()
    return CPU_MODEL_PATH if not on_cuda and machine in ("x86_64", "amd64") else MODEL_PATH


@lru_cache(maxsize=2)
def _session(on_cuda: bool = False):
    import onnxruntime as ort

    return ort.InferenceSession(str(model_path(on_cuda)), onnx_session_options(),
                                providers=cuda.providers() if on_cuda else ["CPUExecutionProvider"])


def posteriors(y: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """{'note', 'onset', 'contour'}: (frames, 88 or 264) posteriors of mono audio ``y``."""
    if sample_rate != SAMPLE_RATE:
        import soxr

        y = soxr.resample(y, sample_rate, SAMPLE_RATE)
    y = np.asarray(y, dtype=np.float32)
    overlap = OVERLAP_FRAMES * FFT_HOP
    hop = WINDOW_SAMPLES - overlap
    padded = np.concatenate([np.zeros(overlap // 2, np.float32), y])
    n_frames = int(np.floor(len(y) * FRAME_RATE / SAMPLE_RATE))
    kept = WINDOW_SAMPLES // FFT_HOP + 1 - OVERLAP_FRAMES  # frames each window contributes
    starts = range(0, len(padded), hop)[:max(1, -(-n_frames // kept))]  # none whose frames are all cut
    batch = np.stack([np.pad(padded[i:i + WINDOW_SAMPLES], (0, max(0, WINDOW_SAMPLES - len(padded[i:i + WINDOW_SAMPLES]))))
                      for i in starts])[:, :, None]
    session = _session(_CUDA)
    names = {"StatefulPartitionedCall:1": "note", "StatefulPartitionedCall:2": "onset",
             "StatefulPartitionedCall:0": "contour"}
    inputs = {session.get_inputs()[0].name: batch}
    if _CUDA:
        outputs = cuda.run_fixed(session, inputs, list(names), batch=16)
    else:
        outputs = session.run(list(names), inputs)
    half = OVERLAP_FRAMES // 2
    return {name: out[:, half:-half, :].reshape(-1, out.shape[-1])[:n_frames]
            for name, out in zip(names.values(), outputs)}


@dataclass(frozen=True)
class Notes:
    """Note events as arrays, sorted by onset then pitch: onset and offset (s), MIDI pitch, mean note
    posterior (amplitude), onset posterior peak."""

    onset: np.ndarray
    offset: np.ndarray
    pitch: np.ndarray
    amplitude: np.ndarray
    onset_peak: np.ndarray

    def __len__(self) -> int:
        return len(self.onset)

    def __getitem__(self, name: str) -> np.ndarray:
        return getattr(self, name)


def decode_notes(note: np.ndarray, onset: np.ndarray) -> Notes:
    """Note events from the posteriors."""
    n_frames = len(note)
    peaks = np.zeros_like(onset)
    index = argrelmax(onset, axis=0)
    peaks[index] = onset[index]
    times, keys = np.where(peaks >= ONSET_THRESHOLD)
    remaining = note.copy()
    events = []
    for start, key in zip(times[::-1], keys[::-1]):  # backwards in time, as basic-pitch does
        if start >= n_frames - 1:
            continue
        i, below = start + 1, 0
        while i < n_frames - 1 and below < ENERGY_TOLERANCE:
            below = below + 1 if remaining[i, key] < FRAME_THRESHOLD else 0
            i += 1
        end = i - below
        if end - start <= MIN_NOTE_FRAMES:
            continue
        remaining[start:end, max(key - 1, 0):key + 2] = 0
        events.append((start / FRAME_RATE, end / FRAME_RATE, key + MIDI_OFFSET,
                       float(note[start:end, key].mean()), float(onset[start, key])))
    table = np.array(events, dtype=float).reshape(-1, 5)
    table = table[np.lexsort((table[:, 2], table[:, 0]))]
    return Notes(table[:, 0], table[:, 1], table[:, 2].astype(int), table[:, 3], table[:, 4])


def note_loudness_db(y: np.ndarray, notes: Notes, sample_rate: int) -> np.ndarray:
    """Each note's loudness at its onset, the velocity proxy: the peak spectral magnitude (dB) near
    its fundamental and second harmonic in the 50 ms after the onset."""
    import librosa

    n_fft = 2048
    y = np.asarray(y, dtype=np.float32)
    frames = librosa.util.frame(np.pad(y, n_fft // 2), frame_length=n_fft, hop_length=FFT_HOP)  # a centred STFT's
    n_frames = frames.shape[1]
    bin_hz = sample_rate / n_fft
    span = max(1, int(round(0.05 * sample_rate / FFT_HOP)))
    first = np.minimum((np.asarray(notes.onset) * sample_rate / FFT_HOP).astype(int), n_frames - 1)
    needed = np.unique(np.minimum(first[:, None] + np.arange(span), n_frames - 1))
    window = librosa.filters.get_window("hann", n_fft, fftbins=True).reshape(-1, 1)
    # computed only where notes start, as librosa.stft computes every frame (its FFT library, complex64)
    spectra = np.abs(librosa.get_fftlib().rfft(window * frames[:, needed], axis=-2).astype(np.complex64))
    column = np.searchsorted(needed, first)
    out = np.empty(len(notes))
    for i, (frame, start, pitch) in enumerate(zip(first, column, notes.pitch)):
        spec = spectra[:, start:start + min(span, n_frames - frame)]
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        bins = [int(round(h * f0 / bin_hz)) for h in (1, 2)]
        values = [spec[max(b - 1, 0):b + 2].max(initial=0.0) for b in bins if b < spec.shape[0]]
        out[i] = 20 * np.log10(max(max(values, default=0.0), 1e-6))
    return out


def features(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """The TRANSCRIPTION_FEATURES vector of one recording (zeros where no note was found)."""
    post = posteriors(y, sample_rate)
    notes = decode_notes(post["note"], post["onset"])
    extra = [float((post["note"] > FRAME_THRESHOLD).sum(axis=1).mean()) if len(post["note"]) else 0.0,
             float(notes.onset_peak.mean()) if len(notes) else 0.0]
    if len(notes) == 0:
        return np.array([0.0] * len(NOTE_FEATURES) + extra)
    velocity = note_loudness_db(y, notes, sample_rate)
    with np.errstate(all="ignore"):
        values = note_features({"onset": notes.onset, "offset": notes.offset, "pitch": notes.pitch,
                                "velocity": velocity}, {})
    vector = np.array([values[name] for name in NOTE_FEATURES] + extra, dtype=np.float64)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)
