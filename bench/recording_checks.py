"""How often the scorer's recording checks (pianokit/recording_checks.py) flag piano recordings,
and how often they flag what is not a piano.

Usage: python bench/recording_checks.py [--n 24] [--seed 0] [--salamander data/salamander] [--seconds S]
                                        [--work data/recording_checks] [--out bench/results/recording_checks]

Draws --n PercePiano MIDI files and renders each on every piano at hand (FluidR3, MuseScore General
Lite, and the Salamander recorded-note grand when its folder exists: bench/fetch_salamander.py);
each MuseScore render is also recorded through rooms (0.8, 2 and 3 s), noise (pink and room at
20 dB SNR), a GSM phone, low-quality Ogg, a phone over Ogg with room noise, two random recipes
of the training store, a phone band-pass without the codec and low-quality MP3. The same MIDI
files are played by 19 other General MIDI instruments (three per file, FluidR3 and MuseScore
alternately); speech comes from espeak-ng (6 voices), and steady or
synthetic sounds (sines, a chord, a square-wave melody, white noise, a drum loop) are made here.
With --seconds S every recording is cut to its first S seconds of sound (leading silence trimmed),
as a user's short clip. Renders are cached under --work. Needs fluidsynth with Debian's SoundFonts,
mido, and espeak-ng for the speech rows.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from result_files import write_table  # noqa: E402

from pianokit import conditions  # noqa: E402
from pianokit.audio import load_audio  # noqa: E402
from pianokit.recording_checks import RecordingStats  # noqa: E402
from pianokit.render import render_midi  # noqa: E402

SR = 22050
FLUIDR3 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
MUSESCORE = Path("/usr/share/sounds/sf3/MuseScore_General_Lite.sf3")
SUSTAINED = {"church organ": 19, "drawbar organ": 16, "accordion": 21, "violin": 40, "string ensemble": 48,
             "choir aahs": 52, "trumpet": 56, "alto sax": 65, "clarinet": 71, "flute": 73, "square lead": 80,
             "new age pad": 88}
STRUCK = {"nylon guitar": 24, "harp": 46, "marimba": 12, "vibraphone": 11, "harpsichord": 6, "electric piano": 4,
          "celesta": 8}
TEXTS = ["The quick brown fox jumps over the lazy dog near the quiet river bank in the morning.",
         "Please call Stella and ask her to bring these things with her from the store.",
         "Music is the art of arranging sounds in time through melody, harmony and rhythm.",
         "I would like to practise the second movement more slowly before the lesson on Thursday."]
VOICES = ["en", "en-us", "en+f3", "de", "fr+m2", "en+f5"]


def with_program(midi: Path, program: int, out: Path) -> Path:
    """A copy of ``midi`` whose every track starts by choosing General MIDI ``program``."""
    import mido

    song = mido.MidiFile(midi)
    for track in song.tracks:
        for msg in track:
            if msg.type == "program_change":
                msg.program = program
        track.insert(0, mido.Message("program_change", program=program, channel=0, time=0))
    song.save(out)
    return out


def conditioned(y: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    c = conditions
    return {"room 0.8 s": c.reverberate(y, SR, 0.8, rng), "room 2 s": c.reverberate(y, SR, 2.0, rng),
            "room 3 s": c.reverberate(y, SR, 3.0, rng), "pink noise 20 dB": c.add_noise(y, SR, 20, "pink", rng),
            "room noise 20 dB": c.add_noise(y, SR, 20, "room", rng), "GSM phone": c.phone(y, SR),
            "Ogg low": c.ogg(y, SR, 0.0), "phone + Ogg + room noise 25 dB":
            c.ogg(c.phone(c.add_noise(y, SR, 25, "room", rng), SR), SR, 0.0),
            "random recipe 1": c.apply(y, SR, c.random_recipe(rng)),
            "random recipe 2": c.apply(y, SR, c.random_recipe(rng)),
            "phone band-pass (no codec)": c.phone(y, SR, codec=False), "MP3 low (VBR 9)": c.mp3(y, SR, 9.0)}


def synthetic(rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = np.arange(10 * SR) / SR
    notes = [0, 2, 4, 5, 7, 9, 11, 12] * 3
    square = np.concatenate([np.sign(np.sin(2 * np.pi * 220 * 2 ** (n / 12) * t[: SR // 2])) for n in notes])
    return {"sine 440 Hz": 0.3 * np.sin(2 * np.pi * 440 * t), "sine 110 Hz": 0.3 * np.sin(2 * np.pi * 110 * t),
            "C major chord of sines": 0.1 * sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)),
            "square-wave melody": 0.3 * square, "white noise": 0.1 * rng.standard_normal(len(t))}


def drums(work: Path) -> Path:
    import mido

    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    for i in range(40):
        track.append(mido.Message("note_on", channel=9, note=[36, 38, 42, 46][i % 4], velocity=100, time=0 if i == 0 else 200))
        track.append(mido.Message("note_off", channel=9, note=[36, 38, 42, 46][i % 4], velocity=0, time=40))
    song.tracks.append(track)
    song.save(work / "drums.mid")
    return render_midi(work / "drums.mid", work / "drums.wav", FLUIDR3)


def recordings(args) -> list[tuple[str, str, Path | np.ndarray]]:
    """(group, what, file or audio) of every recording the checks see."""
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    midis = sorted(args.midi_dir.rglob("*.mid"))
    random.seed(args.seed)
    chosen = random.sample(midis, args.n)
    pianos = {"FluidR3": FLUIDR3, "MuseScore General Lite": MUSESCORE}
    if args.salamander.is_dir():
        pianos["Salamander (recorded notes)"] = args.salamander
    rng = np.random.default_rng(args.seed)
    instruments = list(SUSTAINED.items()) + list(STRUCK.items())
    out = []
    for k, midi in enumerate(chosen):
        for name, font in pianos.items():
            wav = work / "piano" / name.split()[0] / f"{midi.stem}.wav"
            if not wav.exists():
                render_midi(midi, wav, font)
            out.append(("piano, clean", name, wav))
        y, _ = sf.read(work / "piano" / "MuseScore" / f"{midi.stem}.wav", dtype="float32")
        for name, z in conditioned(y, rng).items():
            out.append(("piano, recorded", name, z))
        for name, program in instruments[k % 3::3]:
            font = FLUIDR3 if k % 2 == 0 else MUSESCORE
            wav = work / "other" / f"{program}_{font.stem}_{midi.stem}.wav"
            if not wav.exists():
                render_midi(with_program(midi, program, work / "program.mid"), wav, font)
            out.append(("sustained instrument" if name in SUSTAINED else "plucked or struck instrument", name, wav))
    if shutil.which("espeak-ng"):
        for v, voice in enumerate(VOICES):
            wav = work / "speech" / f"{voice}.wav"
            wav.parent.mkdir(exist_ok=True)
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), " ".join(TEXTS[v % 4:] + TEXTS[:v % 4])],
                           check=True)
            out.append(("speech", f"espeak-ng {voice}", wav))
    for name, y in synthetic(rng).items():
        out.append(("steady or synthetic", name, y.astype(np.float32)))
    out.append(("steady or synthetic", "drum loop (FluidR3)", drums(work)))
    return out


def first_seconds(y: np.ndarray, seconds: float) -> np.ndarray:
    """The first ``seconds`` of ``y`` from where its sound starts (60 dB under its peak)."""
    import librosa

    start = librosa.effects.trim(y, top_db=60)[1][0]
    return y[start:start + int(seconds * SR)]


KINDS = {"not piano": "does not sound like a piano", "noisy": "noisy", "clipped": "clipped", "quiet": "recording level",
         "narrow band": "narrow band"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=24, help="PercePiano MIDI files to draw")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--midi-dir", type=Path, default=Path("../shared/percepiano/midi"))
    parser.add_argument("--salamander", type=Path, default=Path("data/salamander"))
    parser.add_argument("--work", type=Path, default=Path("data/recording_checks"))
    parser.add_argument("--seconds", type=float, help="cut every recording to its first SECONDS of sound")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    flags: dict[str, list[dict]] = defaultdict(list)
    what: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    shapes: dict[str, list[dict]] = defaultdict(list)
    for group, name, audio in recordings(args):
        y = load_audio(audio, SR) if isinstance(audio, Path) else audio
        if args.seconds:
            y = first_seconds(y, args.seconds)
        stats = RecordingStats()
        stats.add(y, SR)
        warned = {kind: any(w.startswith(start) for w in stats.warnings()) for kind, start in KINDS.items()}
        flags[group].append(warned)
        what[group][name].append({**warned, "high_band_db": stats.high_band_db()})
        if stats.shape() is not None:
            shapes[group].append(stats.shape())
    cut = f", each cut to its first {args.seconds:g} s of sound" if args.seconds else ""
    lines = [f"{args.n} PercePiano MIDI files (seed {args.seed}){cut}; share of recordings each check flags, and "
             "the range of the 'not piano' statistics (skewness of the loud level steps: flagged below 0.15; "
             "share of the falling level in abrupt steps: above 0.45; share of still steps: above 0.5).", "",
             "| group | recordings | not piano | noisy | clipped | very quiet | narrow band | skewness | abrupt falls "
             "| still steps |", "|---|---|---|---|---|---|---|---|---|---|"]
    for group, rows in flags.items():
        share = {k: np.mean([r[k] for r in rows]) for k in KINDS}
        ranges = [f"{min(s[k] for s in shapes[group]):.2f} to {max(s[k] for s in shapes[group]):.2f}"
                  for k in ("skewness", "abrupt_falls", "still_steps")] if shapes[group] else ["-"] * 3
        lines.append(f"| {group} | {len(rows)} | " + " | ".join(f"{share[k]:.2f}" for k in KINDS) + " | "
                     + " | ".join(ranges) + " |")
    lines += ["", "Flagged as not piano or noisy, and as narrow band (the band above 6 kHz against 0.3-3.4 kHz, "
              "flagged below -80 dB), by source:", "",
              "| group | source | not piano or noisy | narrow band | of | above 6 kHz (dB) |", "|---|---|---|---|---|---|"]
    for group, sources in what.items():
        for name, marks in sources.items():
            high = [m["high_band_db"] for m in marks if m["high_band_db"] is not None]
            span = f"{min(high):.0f} to {max(high):.0f}" if high else "-"
            lines.append(f"| {group} | {name} | {sum(m['not piano'] or m['noisy'] for m in marks)} | "
                         f"{sum(m['narrow band'] for m in marks)} | {len(marks)} | {span} |")
    payload = {"groups": {g: {"recordings": len(r), **{k: float(np.mean([x[k] for x in r])) for k in KINDS}}
                          for g, r in flags.items()},
               "sources": {g: {n: {"not_piano_or_noisy": int(sum(x["not piano"] or x["noisy"] for x in m)),
                                   "narrow_band": int(sum(x["narrow band"] for x in m)), "of": len(m),
                                   "high_band_db": [x["high_band_db"] for x in m]}
                               for n, m in s.items()} for g, s in what.items()}}
    write_table(args.out, "recording_checks", lines, payload)


if __name__ == "__main__":
    main()
