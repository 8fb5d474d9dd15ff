"""How far ratings move under everyday recording conditions, on held-out passages (leak-free).

Usage:
  python bench/robustness.py [--run runs/hybrid_lite0_floor35_ens5] [--segments-per-fold 25]
                             [--other-piano data/percepiano_csound/audio] [--seed 0]
                             [--only CONDITION ...] [--out bench/results/robustness]

The run's four fold models are exported to ONNX (into RUN/onnx/, once). For each fold, a seeded
sample of its test passage groups (whole groups, so within-passage scores exist) is scored by that
fold's model, with the real `Scorer.score_file` path, clean and under each condition: gain, room
reverb, background noise, phone band, lossy codecs, 44.1 kHz stereo, and another piano (the same
MIDI rendered with another SoundFont). Per condition: mean R² and within-passage R² over the 19
dimensions, and the mean |rating shift| from clean in units of the within-passage label SD (the
issue's unit) and of the model's own clean within-passage rating SD (scale-free: a model that
shrinks every rating toward the mean looks steadier in the first unit only).
--summarise-only re-tabulates a run's saved ratings.
Writes RUN/robustness_ratings.csv (every rating, with the scorer's warnings) and PREFIX.json, .md and
.png (--out); the table gives per condition the share of recordings the scorer warned about, the
shares with the condition checks' room and phone warnings (pianokit.condition_checks; fold models
exported since 2026-12-06 carry them) and the mean shift of the room-warned recordings and of the
others.

Rooms are simulated with pyroomacoustics (shoebox rooms sized and damped for each RT60, image
sources plus ray tracing), noise is seeded pink or room-like (rumble, mains hum, hiss), the phone is
a 300-3400 Hz band with and without the GSM codec (pedalboard). "stereo_44k" is the clean render
upsampled with the loader's own filter (pianokit.audio.resample), so it keeps the 10-11 kHz band
as a real 44.1 kHz recording would (results before 2026-11-28 upsampled with soxr, which removed it;
bench/sample_rates.py measures native 44.1 / 48 kHz renders). "compressed_2to1" and "compressed_4to1"
level the dynamics as phones and video apps do (pianokit.conditions.compress: 2:1 from 12 dB and
4:1 from 24 dB under the peak; added 2026-12-03, so earlier results lack them). The conditions' random draws use
--seed; the training augmentation (pianokit dataset augment) draws its own with other seeds, from
wider ranges. "other_piano" is a SoundFont the model never trained on. Only rows the manifest marks
for evaluation (its clean renders of the training piano) are used.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from pianokit.dimensions import DIMENSIONS
from pianokit.metrics import evaluate, passage_deviations
from pianokit.run_folder import read_config

SR = 22050
TARGETS = {"gain": 0.15, "codec": 0.15, "reverb": 0.25, "noise_30": 0.25, "phone": 0.25, "stereo": 0.25}


def write(path: Path, y: np.ndarray, sr: int = SR, **kwargs) -> Path:
    sf.write(path, np.clip(y, -1, 1), sr, **kwargs)
    return path


def conditions(y: np.ndarray, other: Path | None, rng: np.random.Generator, tmp: Path) -> dict[str, Path]:
    """{condition: file} for one clean recording ``y`` at 22.05 kHz (pianokit.conditions does the work)."""
    from pianokit import conditions as c
    from pianokit.audio import resample

    y = y.astype(np.float32)
    files = {"clean": write(tmp / "clean.wav", y)}
    for db in (-18, -6, 6):
        files[f"gain_{db:+d}dB"] = write(tmp / f"gain{db}.wav", c.gain(y, db))
    for rt60 in (0.3, 0.8, 2.0):
        files[f"reverb_{rt60}s"] = write(tmp / f"rev{rt60}.wav", c.reverberate(y, SR, rt60, rng))
    for colour in ("pink", "room"):
        for snr in (30, 20):
            files[f"noise_{colour}_{snr}dB"] = write(tmp / f"{colour}{snr}.wav", c.add_noise(y, SR, snr, colour, rng))
    files["phone_300_3400Hz"] = write(tmp / "phone.wav", c.phone(y, SR, codec=False))
    files["phone_gsm"] = write(tmp / "gsm.wav", c.phone(y, SR, codec=True))
    mp3 = tmp / "low.mp3"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(files["clean"]), "-b:a", "64k", str(mp3)],
                   check=True)
    files["mp3_64k"] = mp3
    files["ogg_low"] = write(tmp / "low.ogg", y, format="OGG", subtype="VORBIS", compression_level=0.9)  # ~45 kbps
    stereo = resample(y, SR, 44100)  # flat to 95% of 11 kHz, like a real 44.1 kHz recording of the same band
    files["stereo_44k"] = write(tmp / "stereo.wav", np.stack([stereo, 0.9 * stereo], axis=1), 44100)
    if other is not None and other.is_file():
        files["other_piano"] = other
    files["compressed_2to1"] = write(tmp / "comp2.wav", c.compress(y, SR, 12, 2))
    files["compressed_4to1"] = write(tmp / "comp4.wav", c.compress(y, SR, 24, 4))
    return files


def run_data(run: Path):
    """The run's training data (its store and manifest, no log-mels)."""
    from pianokit.training_data import load_training_data

    config = read_config(run)
    return load_training_data(config["store"], config.get("manifest"), with_mels=False)


def evaluated_rows(run: Path, data=None) -> tuple[pd.DataFrame, float]:
    """The run's manifest rows marked for evaluation (clean renders of the training piano) and the
    within-passage SD of their labels (the unit of rating shifts); ``data``: run_data(run) if loaded."""
    from pianokit.variants import role_mask

    data = data if data is not None else run_data(run)
    evaluated = role_mask(data.table, "eval")
    labels = data.table[evaluated][list(DIMENSIONS)].to_numpy()
    centred, _ = passage_deviations(labels, labels, data.passages[evaluated])
    return data.table[evaluated], float(np.sqrt(np.mean(centred ** 2)))


def fold_models(run: Path, noise_floor: float | None = None) -> dict[int, Path]:
    """The run's fold models exported to ONNX (once), with the scorer's noise floor when given."""
    out = {}
    for k in range(4):
        target = run / ("onnx" if noise_floor is None else f"onnx_noise_floor{noise_floor:g}") / f"fold{k}"
        if not target.with_suffix(".onnx").is_file():
            floor = [] if noise_floor is None else ["--noise-floor", str(noise_floor)]
            subprocess.run([sys.executable, "-m", "pianokit", "export", str(run / f"fold{k}" / "model.keras"),
                            "--out", str(target), *floor], check=True, stdout=subprocess.DEVNULL)
        out[k] = target
    return out


def ratings_file(run: Path, noise_floor: float | None, only: list[str] | None = None) -> Path:
    name = "robustness_ratings" + ("" if noise_floor is None else f"_noise_floor{noise_floor:g}")
    return run / (name + ("" if not only else "_only_" + "_".join(only)) + ".csv")


def main() -> None:
    from pianokit.scorer import Scorer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("runs/hybrid_lite0_floor35_ens5"))
    parser.add_argument("--segments-per-fold", type=int, default=25,
                        help="whole passage groups, drawn at random, until at least this many segments")
    parser.add_argument("--other-piano", type=Path, default=Path("data/percepiano_csound/audio"),
                        help="renders of the same MIDI with a SoundFont the model never trained on")
    parser.add_argument("--out", type=Path, default=None,
                        help="result prefix (default: a new bench/results/robustness-<time>; "
                             "bench/results/robustness to update the committed results)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise-floor", type=float, default=None, metavar="DB",
                        help="score through fold models exported with 'pianokit export --noise-floor DB'")
    parser.add_argument("--only", nargs="+", default=None, metavar="CONDITION",
                        help="score these conditions (and clean) only, into a ratings file of their own")
    parser.add_argument("--summarise-only", action="store_true",
                        help="re-tabulate RUN/robustness_ratings.csv of an earlier run, scoring nothing")
    args = parser.parse_args()
    table, wp_sd = evaluated_rows(args.run)
    if args.summarise_only:
        earlier = args.out.with_suffix(".json") if args.out else None
        before = json.loads(earlier.read_text()) if earlier and earlier.is_file() else {}
        summarise(pd.read_csv(ratings_file(args.run, args.noise_floor, args.only)), wp_sd, args, before.get("wall_s"),
                  before.get("ratings_from_command", before.get("command")))  # the scoring run's time and command
        return
    models = fold_models(args.run, args.noise_floor)
    ratings = ratings_file(args.run, args.noise_floor, args.only)
    partial = ratings.with_suffix(f".seed{args.seed}.partial.csv")  # a rerun resumes
    done = set(pd.read_csv(partial)["segment_id"]) if partial.is_file() else set()
    start = time.perf_counter()
    for k, model in models.items():
        scorer = Scorer(model, "cpu")
        in_fold = table[table["fold_passage"] == k]
        for _, seg in in_fold[in_fold["passage_group"].isin(draw_groups(in_fold, args, k))].iterrows():
            if seg["segment_id"] in done:
                continue
            rng = np.random.default_rng([args.seed, *str(seg["segment_id"]).encode()])  # per segment: order-free
            y, sr = sf.read(seg["audio"], dtype="float64")
            assert sr == SR
            rows = []
            with tempfile.TemporaryDirectory() as tmp:
                source_id = seg.get("source_id", seg["segment_id"])
                files = conditions(y, args.other_piano / f"{source_id}.wav", rng, Path(tmp))
                unknown = sorted(set(args.only or ()) - set(files))
                if unknown:
                    raise SystemExit(f"--only: no condition named {', '.join(unknown)} "
                                     f"(choose from {', '.join(files)})")
                for name, path in files.items():
                    if args.only and name not in ("clean", *args.only):
                        continue
                    rating = scorer.score_file(path)
                    rows.append({"segment_id": seg["segment_id"], "passage": seg["passage"], "fold": k,
                                 "condition": name, "warnings": " | ".join(rating.warnings),
                                 **{f"pred_{d}": v for d, v in rating.ratings.items()},
                                 **{f"true_{d}": seg[d] for d in DIMENSIONS}})
            pd.DataFrame(rows).to_csv(partial, mode="a", header=not partial.is_file(), index=False)
        print(f"fold {k} done, {time.perf_counter() - start:.0f} s", flush=True)
    df = pd.read_csv(partial)
    df.to_csv(ratings, index=False)
    partial.unlink()
    summarise(df, wp_sd, args, time.perf_counter() - start)


def draw_groups(in_fold: pd.DataFrame, args, k: int) -> list:
    """Whole passage groups of fold ``k``, in a seeded random order, until --segments-per-fold; groups
    larger than that are passed over (one 91-segment group would take the whole budget)."""
    sizes = in_fold.groupby("passage_group").size()
    order = np.random.default_rng([args.seed, k]).permutation(sorted(sizes.index))
    chosen, count = [], 0
    for group in order:
        if count >= args.segments_per_fold:
            break
        if sizes[group] > args.segments_per_fold:
            continue
        chosen.append(group)
        count += sizes[group]
    return chosen


def summarise(df: pd.DataFrame, wp_sd: float, args, wall: float | None, scored_by: str | None = None) -> None:
    """Per-condition accuracy and shift from the per-segment ratings; writes the result files."""
    clean = df[df["condition"] == "clean"].set_index("segment_id")
    pred_cols, true_cols = [f"pred_{d}" for d in DIMENSIONS], [f"true_{d}" for d in DIMENSIONS]
    _, centred = passage_deviations(clean[pred_cols].to_numpy(), clean[pred_cols].to_numpy(), clean["passage"])
    model_sd = float(np.sqrt(np.mean(centred ** 2)))  # how far the model's own clean ratings spread within passages
    results = {}
    for name, part in df.groupby("condition", sort=False):
        part = part.set_index("segment_id")
        part = part.loc[clean.index.intersection(part.index)]
        ev = evaluate(part[true_cols].to_numpy(), part[pred_cols].to_numpy(), DIMENSIONS, part["passage"])
        moved = np.abs(part[pred_cols].to_numpy() - clean.loc[part.index, pred_cols].to_numpy()).mean(axis=1) / wp_sd
        shift = moved.mean()
        results[name] = {"segments": len(part), "r2": ev["mean"]["r2"],
                         "within_passage_r2": ev.get("within_passage", {}).get("mean", {}).get("r2"),
                         "mean_abs_shift_in_wp_sd": float(shift),
                         "mean_abs_shift_in_model_wp_sd": float(shift * wp_sd / model_sd)}
        if "warnings" in part.columns:  # the scorer's warnings (ratings files from 2026-12-06 on)
            said = part["warnings"].fillna("").astype(str)
            room = said.str.contains("reverberant room").to_numpy()
            results[name].update({"warned": float((said != "").mean()), "room_warned": float(room.mean()),
                                  "phone_warned": float(said.str.contains("phone channel").mean()),
                                  "shift_room_warned": float(moved[room].mean()) if room.any() else None,
                                  "shift_not_room_warned": float(moved[~room].mean()) if (~room).any() else None})
    trained = read_config(args.run).get("feature_config", {}).get("noise_floor_db")
    floor = (f", scored with a {args.noise_floor:g} dB noise floor" if args.noise_floor is not None else
             f", trained and scored over a {trained:g} dB noise floor" if trained is not None else "")
    lines = [f"Run `{args.run}` (fold models on their own held-out passages{floor}), {len(clean)} segments in whole "
             f"passage groups (at least {args.segments_per_fold} per fold); shift in units of the within-passage label SD "
             f"({wp_sd:.3f}), and in units of the within-passage SD of the model's own clean ratings ({model_sd:.3f}): "
             "a model that rates everything alike moves little in the first unit, not in the second.", "",
             "| condition | segments | R² | within-passage R² | mean shift (wp SD) | shift (model's wp SD) |",
             "|---|---|---|---|---|---|"]
    warned = all("warned" in r for r in results.values())
    if warned:
        lines[-2] += " any warning | room warning | phone warning | shift: room-warned / not |"
        lines[-1] += "---|---|---|---|"
    for name, r in results.items():
        wp = f"{r['within_passage_r2']:.3f}" if r["within_passage_r2"] is not None else "-"
        line = (f"| {name} | {r['segments']} | {r['r2']:.3f} | {wp} | {r['mean_abs_shift_in_wp_sd']:.2f} | "
                f"{r['mean_abs_shift_in_model_wp_sd']:.2f} |")
        if warned:
            pair = " / ".join("-" if v is None else f"{v:.2f}" for v in (r["shift_room_warned"], r["shift_not_room_warned"]))
            line += (f" {100 * r['warned']:.0f} % | {100 * r['room_warned']:.0f} % | "
                     f"{100 * r.get('phone_warned', 0):.0f} % | {pair} |")
        lines.append(line)
    text = "\n".join(lines) + "\n"
    print(text)
    from result_files import prefix, write_json

    out = prefix(args.out, "robustness")
    write_json(out.with_suffix(".json"), "robustness.py", {
        "within_passage_label_sd": wp_sd, "model_within_passage_sd": model_sd, "targets_mean_shift_in_wp_sd": TARGETS,
        "wall_s": None if wall is None else round(wall, 1), "conditions": results,
        **({"ratings_from_command": scored_by} if scored_by else {})})
    out.with_suffix(".md").write_text(text)
    plot(results, out.with_suffix(".png"))
    print(f"-> {out}.json, .md, .png")


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in results if n != "clean"]
    fig, ax = plt.subplots(figsize=(11, 5))
    ax.bar(names, [results[n]["mean_abs_shift_in_wp_sd"] for n in names], color="tab:blue")
    for level, label in ((0.15, "target: gain, codec"), (0.25, "target: reverb, 30 dB noise, phone, stereo")):
        ax.axhline(level, color="tab:red", linestyle="--", linewidth=1)
        ax.text(len(names) - 0.5, level, label, ha="right", va="bottom", fontsize=8, color="tab:red")
    ax.set_ylabel("mean |rating shift| / within-passage label SD")
    ax.set_title("How far ratings move under recording conditions (held-out passages)")
    ax.tick_params(axis="x", rotation=60)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
