"""The `pianokit` command line. Heavy libraries are imported inside each command so --help is instant."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import click

from pianokit import __version__
from pianokit.errors import InputError


class Failure(click.ClickException):
    """A one-line error with exit code 2."""

    exit_code = 2


class Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as exc:
            raise Failure(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted; finished work was saved, rerun the same command to resume.", err=True)
            ctx.exit(130)


def _jobs_default() -> int:
    from pianokit.parallel import default_jobs

    return default_jobs()


jobs_option = click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help="Parallel workers (default: all cores)."
)
progress_option = click.option("--progress/--no-progress", default=True, help="Show a progress bar.")


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
              help="SoundFont (.sf2/.sf3); default: the first Debian SoundFont installed.")
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
        click.echo(f"failed: {midi}: {error}", err=True)
    click.echo(f"{len(manifest)} labelled segments in {out / 'manifest.csv'}; {len(failures)} failed")
    if failures:
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--manifest", type=click.Path(path_type=Path), default=None,
              help="CSV with segment_id and audio columns (instead of PATHS).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Feature store folder.")
@jobs_option
@progress_option
def extract(paths, manifest, out, jobs, progress) -> None:
    """Extract features and log-mel spectrograms of audio files, folders or a manifest into a store.

    Incremental: only new or changed files are processed. The store is plain files:
    OUT/features.csv (one row per recording), OUT/mels/<id>.npy, OUT/config.json, OUT/failures.csv.
    """
    from pianokit.extract import collect_inputs, run_extract

    if bool(paths) == bool(manifest):
        raise click.UsageError("give either audio PATHS or --manifest, not both or neither")
    if manifest:
        from pianokit.dataset import read_manifest

        df = read_manifest(manifest, labelled=False)
        inputs = [(str(i), Path(a)) for i, a in zip(df["segment_id"], df["audio"])]
    else:
        inputs = collect_inputs(list(paths))
    summary = run_extract(inputs, out, jobs=jobs or _jobs_default(), progress=progress)
    for item_id, audio, error in summary.failures:
        click.echo(f"failed: {error}" if audio in error else f"failed: {audio}: {error}", err=True)
    click.echo(
        f"{summary.done} extracted, {summary.skipped} already current, {len(summary.failures)} failed "
        f"-> {out / 'features.csv'}"
    )
    if summary.failures and not summary.done and not summary.skipped:
        sys.exit(2)


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


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cli(prog_name="pianokit")
