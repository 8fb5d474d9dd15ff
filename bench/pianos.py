"""Does a model handle a piano it never heard? Leave-one-piano-out CV on the leak-free folds.

Usage:
  python bench/pianos.py [--store data/stores/multi_piano_aug0x3_floor35] [--data data] [--compress-share P]
                         [--epochs 200] [--batch-size 128] [--fit-args '...'] [--runs RUNS]
                         [--out bench/results/pianos]

Every fit is the same recipe (--recipe: by default the shipped one, 115 features + frozen
EfficientNet-Lite0 embeddings; or the multitask MLP on the features) on the same store (every piano's renders
and augmented variants, extracted once by bench/training_store.py), with a manifest made by
`pianokit dataset combine` that says which rows train and which are scored:
- in-piano: train on the three training pianos (+ their augmented variants), score the clean
  renders of every piano, the never-trained csound one included (one fit);
- leave-one-out, for each training piano P: train on the other two (+ their variants), score P.
Per piano: plain and within-passage R² in-piano vs held out, the held-out R² once the piano's mean
rating offset is removed (a diagnostic using the test labels' mean; and, label-free, with the
predictions' mean set to the training labels' mean), and the baselines of the same
folds (ridge on the same features, symbolic reference, player mean, training mean) computed on P.
Both recentrings use the scored recordings themselves, so they also remove the fold's own music
bias; bench/setup_calibration.py simulates an offset learnt on other music, as a user could.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from result_files import fit_once, write_table  # noqa: E402
from training_store import PIANOS, RENDER_DIRS, TRAIN_PIANOS  # noqa: E402

from pianokit.dimensions import DIMENSIONS  # noqa: E402
from pianokit.metrics import aggregate, evaluate, headline  # noqa: E402
from pianokit.variants import role_mask  # noqa: E402

ALL_PIANOS = (*TRAIN_PIANOS, "csound")


def manifests(data: Path, seed: int, compress_share: float = 0.0) -> dict[str, Path]:
    """Each piano's renders and augmented variants, in the folders bench/training_store.py names."""
    comp = f"_comp{compress_share:g}" if compress_share else ""
    named = {name: data / RENDER_DIRS[name] / "manifest.csv" for name in ALL_PIANOS}
    named.update({f"{name}_aug": data / f"{RENDER_DIRS[name]}_aug{seed}{comp}" / "manifest.csv"
                  for name in TRAIN_PIANOS})
    return named


def render_heldout_piano(source: str, data: Path) -> None:
    """Render the never-trained piano unless done (bench/training_store.py leaves it out by default)."""
    for name in ALL_PIANOS:
        if name not in TRAIN_PIANOS:
            subprocess.run([sys.executable, "-m", "pianokit", "dataset", "percepiano", "--source", source, "--out",
                            str(data / RENDER_DIRS[name]), "--soundfont", PIANOS[name], "--no-progress"], check=True,
                           stdout=subprocess.DEVNULL)


def extract_missing(manifest: Path, store: Path) -> None:
    """Extract the rows of ``manifest`` that ``store`` lacks (the held-out piano's); a no-op otherwise.
    Through the Python API: the store's own manifest.csv (what `fit` reads by default) is left alone."""
    from pianokit.extract import run_extract
    from pianokit.manifest import read_manifest
    from pianokit.store import FeatureStore

    table = read_manifest(manifest, labelled=True)
    summary = run_extract(list(zip(table["segment_id"].astype(str), map(Path, table["audio"]))), store,
                          FeatureStore.open(store).config, jobs=2, progress=False)
    if summary.failures:
        raise SystemExit(f"{len(summary.failures)} recordings could not be extracted, e.g. {summary.failures[0]}")


def combine(named: dict[str, Path], train: list[str], evaluate_on: list[str], out: Path) -> Path:
    if not out.exists():
        subprocess.run([sys.executable, "-m", "pianokit", "dataset", "combine", *(f"{n}={m}" for n, m in named.items()),
                        *(a for n in train for a in ("--train", n)), *(a for n in evaluate_on for a in ("--eval", n)),
                        "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
    return out


RECIPES = {
    "multitask": ["--arch", "multitask", "--features", "all"],
    "hybrid_lite0": ["--arch", "hybrid", "--branch", "efficientnet", "--param", "frozen=true", "--backbone-weights",
                     "imagenet", "--features", "all"],
}


def fit(recipe: str, store: Path, manifest: Path, run: Path, epochs: int, batch_size: int,
        extra: list[str] = ()) -> float:
    """Wall seconds of the fit (of the run that made it, when the run folder is reused)."""
    return fit_once([*RECIPES[recipe], "--epochs", str(epochs), "--patience", "15", "--batch-size", str(batch_size),
                     *extra, "--store", str(store), "--manifest", str(manifest)], run)


def fold_pianos(run: Path, table: pd.DataFrame):
    """For each fold of ``run`` and each piano (manifest ``source``) it scored: (fold, piano, those
    manifest rows, their predictions (n, 19), the mean label of the fold's training rows)."""
    trainable = table[role_mask(table, "train")]
    for path in sorted(run.glob("fold*/predictions.csv")):
        k = int(path.parent.name.removeprefix("fold"))
        preds = pd.read_csv(path)
        rows = table.loc[preds["segment_id"]]
        train_mean = trainable.loc[trainable["fold_passage"] != k, list(DIMENSIONS)].mean().to_numpy(float)
        for piano in rows["source"].unique():
            keep = (rows["source"] == piano).to_numpy()
            yield k, piano, rows[keep], preds.loc[keep, [f"pred_{d}" for d in DIMENSIONS]].to_numpy(float), train_mean


def per_piano(run: Path, manifest: Path) -> dict[str, dict]:
    """Model and baseline scores per piano from the run's fold predictions (mean over folds)."""
    out: dict[str, dict[str, list]] = {}
    for _, piano, rows, pred, train_mean in fold_pianos(run, pd.read_csv(manifest).set_index("segment_id")):
        truth = rows[list(DIMENSIONS)].to_numpy(float)
        passages = rows["passage"].astype(str).to_numpy()
        offset = pred - pred.mean(axis=0)
        evals = out.setdefault(piano, {"as_rated": [], "recentred": [], "batch_recentred": []})
        evals["as_rated"].append(evaluate(truth, pred, DIMENSIONS, passages))
        evals["recentred"].append(evaluate(truth, offset + truth.mean(axis=0), DIMENSIONS))
        evals["batch_recentred"].append(evaluate(truth, offset + train_mean, DIMENSIONS))
    return {piano: {**headline(aggregate(evals["as_rated"], DIMENSIONS)),
                    "r2_recentred": aggregate(evals["recentred"], DIMENSIONS)["mean"]["r2"],
                    "r2_batch_recentred": aggregate(evals["batch_recentred"], DIMENSIONS)["mean"]["r2"]}
            for piano, evals in out.items()}


def baselines(run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    return {name: {"r2": b["mean"]["r2"], "within_passage_r2": b["within_passage"]["mean"]["r2"]}
            for name, b in metrics["baselines"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=Path("data/stores/multi_piano_aug0x3_floor35"))
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--source", default="../shared/percepiano", help="PercePiano folder (MIDI and labels)")
    parser.add_argument("--seed", type=int, default=0, help="augmentation seed of the store")
    parser.add_argument("--compress-share", type=float, default=0.0,
                        help="the store's --compress-share (bench/training_store.py), which names its augmented folders")
    parser.add_argument("--recipe", choices=list(RECIPES), default="hybrid_lite0",
                        help="hybrid_lite0: 115 features + frozen EfficientNet-Lite0 embeddings (the shipped recipe)")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=128,
                        help="4x the single-piano default: each epoch holds ~5x more rows")
    parser.add_argument("--fit-args", default="", help="more `pianokit fit` arguments for every fit, e.g. "
                        "'--consistency-weight 1' (give --runs too: a run folder keeps its settings)")
    parser.add_argument("--leave-out", nargs="+", choices=TRAIN_PIANOS, default=list(TRAIN_PIANOS),
                        help="training pianos to hold out, one fit each (default: all three)")
    parser.add_argument("--runs", type=Path, default=None, help="default: runs/pianos_<recipe>")
    parser.add_argument("--out", type=Path, default=None,
                        help="result prefix (default: a new bench/results/pianos-<time>; "
                             "bench/results/pianos updates the committed results)")
    args = parser.parse_args()
    render_heldout_piano(args.source, args.data)
    named = manifests(args.data, args.seed, args.compress_share)
    args.runs = args.runs or Path(f"runs/pianos_{args.recipe}")
    args.runs.mkdir(parents=True, exist_ok=True)
    walls = {}
    train_all = [n for n in named if n.split("_")[0] in TRAIN_PIANOS]
    inside = combine(named, train_all, list(ALL_PIANOS), args.runs / "in_piano.csv")
    extract_missing(inside, args.store)
    extra = args.fit_args.split()
    walls["in_piano"] = fit(args.recipe, args.store, inside, args.runs / "in_piano", args.epochs, args.batch_size,
                            extra)
    in_scores = per_piano(args.runs / "in_piano", inside)
    results = {}
    for piano in ALL_PIANOS:
        entry = {"in_piano": in_scores[piano]}
        if piano in args.leave_out:
            train = [n for n in train_all if n.split("_")[0] != piano]
            manifest = combine(named, train, [piano], args.runs / f"without_{piano}.csv")
            walls[f"without_{piano}"] = fit(args.recipe, args.store, manifest, args.runs / f"without_{piano}",
                                            args.epochs, args.batch_size, extra)
            entry["held_out"] = per_piano(args.runs / f"without_{piano}", manifest)[piano]
            entry["baselines_held_out"] = baselines(args.runs / f"without_{piano}")
        elif piano not in TRAIN_PIANOS:  # never trained on in any fit: its in-piano figure is already a held-out one
            entry["held_out"] = in_scores[piano]
        else:
            continue
        results[piano] = entry
    lines = [f"Leak-free passage folds, 4-fold CV, recipe {args.recipe}{' ' + args.fit_args if extra else ''}, "
             f"batch {args.batch_size}, store {args.store}; scores on each piano's clean renders. "
             "In-piano: trained on musescore, fluidr3, timgm (+ their augmented variants). Held out: trained "
             "without that piano (csound is never trained on). Recentred: R² after moving each fold's predictions "
             "for that piano by their mean error (a diagnostic that uses the test labels' mean; it also removes "
             "the fold's own music bias, see bench/setup_calibration.py); batch-recentred: their mean moved to "
             "the training labels' mean instead (no test labels; assumes the batch is as varied as the test "
             "fold).", "",
             "| piano | in-piano R² | held-out R² | R² drop | held-out R² recentred | batch-recentred | in-piano wp R² | "
             "held-out wp R² | held-out wp r | ridge R² (held out) | symbolic R² | player-mean wp R² |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for piano, e in results.items():
        i, h, b = e["in_piano"], e["held_out"], e.get("baselines_held_out", {})

        def base(name, key):
            return f"{b[name][key]:.3f}" if name in b else "-"
        lines.append(f"| {piano} | {i['r2']:.3f} | {h['r2']:.3f} | {i['r2'] - h['r2']:.3f} | {h['r2_recentred']:.3f} | "
                     f"{h['r2_batch_recentred']:.3f} | "
                     f"{i['within_passage_r2']:.3f} | {h['within_passage_r2']:.3f} | {h['within_passage_r']:.3f} | "
                     f"{base('ridge', 'r2')} | {base('symbolic', 'r2')} | {base('player_mean', 'within_passage_r2')} |")
    write_table(args.out, "pianos", lines, {
        "recipe": args.recipe, "target": "held-out R² within 0.05 of in-piano",
        "wall_s": {k: round(v, 1) for k, v in walls.items()}, "pianos": results})


if __name__ == "__main__":
    main()
