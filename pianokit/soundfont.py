"""Compressed SoundFonts (.sf3, Ogg Vorbis samples) decompressed once into a cached .sf2.

FluidSynth decodes an .sf3's samples again in every process it starts, which is most of the time of
rendering one short MIDI file; the decoded .sf2 renders the same audio without that. Layout (SF3 as
MuseScore and FluidSynth define it): a sample header whose type has bit 0x10 points with its start
and end at *bytes* of one Ogg Vorbis stream in the smpl chunk, and its loop points count decoded
samples from the sample's own start.
"""

from __future__ import annotations

import io
import os
import struct
import threading
from pathlib import Path

import numpy as np
import soundfile as sf

from pianokit.atomic import atomic_path
from pianokit.errors import InputError

COMPRESSED = 0x10
SHDR = struct.Struct("<20sIIIIIBbHH")
PAD_SAMPLES = 46  # zero samples after each sample, as the SF2 spec asks
CACHE = Path(os.environ.get("PIANOKIT_CACHE", Path.home() / ".cache" / "pianokit")) / "soundfonts"
_LOCK = threading.Lock()  # render threads share one conversion


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(id, body) of the RIFF chunks laid end to end in ``data``. Bodies of odd length should be
    followed by a pad byte; some SoundFonts (MuseScore General's) leave it out, so the next chunk
    starts where a chunk id is found."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        out.append((cid, data[pos + 8:pos + 8 + size]))
        pos += 8 + size
        if size & 1 and not data[pos:pos + 4].isalnum():
            pos += 1
    return out


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def _lists(path: Path) -> dict[bytes, list[tuple[bytes, bytes]]]:
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise InputError(f"{path}: not a SoundFont (no RIFF sfbk header)")
    lists = {}
    for cid, body in _chunks(data[12:]):
        if cid == b"LIST":
            lists[body[:4]] = _chunks(body[4:])
    if not {b"INFO", b"sdta", b"pdta"} <= set(lists):
        raise InputError(f"{path}: not a SoundFont (INFO, sdta or pdta list missing)")
    return lists


def decompress(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Write ``src`` (.sf3) as an uncompressed SoundFont 2.04 file ``dst`` (atomically): every
    compressed sample decoded to 16-bit PCM, headers re-pointed, presets and instruments unchanged."""
    src, dst = Path(src), Path(dst)
    lists = _lists(src)
    smpl = dict(lists[b"sdta"]).get(b"smpl", b"")
    pdta = lists[b"pdta"]
    shdr = dict(pdta).get(b"shdr", b"")
    records = [list(SHDR.unpack_from(shdr, i)) for i in range(0, len(shdr) - SHDR.size + 1, SHDR.size)]
    pcm, pos = [], 0
    for rec in records[:-1]:  # the last record is the terminal "EOS"
        start, end, loop_start, loop_end, kind = rec[1], rec[2], rec[3], rec[4], rec[9]
        if kind & COMPRESSED:
            try:
                samples = sf.read(io.BytesIO(smpl[start:end]), dtype="int16", always_2d=True)[0][:, 0]
            except (sf.LibsndfileError, RuntimeError) as exc:
                name = rec[0].rstrip(b"\0").decode(errors="replace")
                raise InputError(f"{src}: sample {name!r} does not decode ({exc})") from None
            loop_start, loop_end = pos + loop_start, pos + loop_end
        else:
            samples = np.frombuffer(smpl[2 * start:2 * end], dtype="<i2")
            loop_start, loop_end = pos + loop_start - start, pos + loop_end - start
        rec[1:5] = [pos, pos + len(samples), loop_start, loop_end]
        rec[9] = kind & ~COMPRESSED
        pcm += [samples.astype("<i2").tobytes(), bytes(2 * PAD_SAMPLES)]
        pos += len(samples) + PAD_SAMPLES
    if records:
        records[-1][1:5] = [pos, pos, 0, 0]
    info = [(cid, struct.pack("<HH", 2, 4) if cid == b"ifil" else body) for cid, body in lists[b"INFO"]]
    new_pdta = [(cid, b"".join(SHDR.pack(*r) for r in records) if cid == b"shdr" else body) for cid, body in pdta]
    body = b"sfbk" + b"".join(_chunk(b"LIST", name + b"".join(_chunk(c, b) for c, b in chunks))
                              for name, chunks in ((b"INFO", info), (b"sdta", [(b"smpl", b"".join(pcm))]),
                                                   (b"pdta", new_pdta)))
    with atomic_path(dst) as tmp:
        Path(tmp).write_bytes(_chunk(b"RIFF", body))
    return dst


def is_compressed(path: str | os.PathLike) -> bool:
    """True for a SoundFont whose version is 3 (Ogg Vorbis samples)."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    at = head.find(b"ifil")
    return head[:4] == b"RIFF" and at >= 0 and struct.unpack_from("<H", head, at + 8)[0] == 3


def for_rendering(path: str | os.PathLike, cache: Path | None = None) -> Path:
    """``path`` itself, or for a compressed SoundFont its decompressed copy in the cache (made once;
    keyed by name, size and modification time, so a changed file is decompressed again)."""
    path = Path(path)
    if path.is_dir() or not is_compressed(path):
        return path
    stat = path.stat()
    target = (cache or CACHE) / f"{path.stem}-{stat.st_size}-{stat.st_mtime_ns}.sf2"
    with _LOCK:
        if not target.is_file():
            decompress(path, target)
    return target
