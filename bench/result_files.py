"""Where bench scripts write, the header every result JSON carries (command and machine), and the
`pianokit fit` runs they make once and reuse."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def prefix(out: Path | None, name: str) -> Path:
    """``out``, or a new bench/results/<name>-<time> so committed results are only replaced on purpose."""
    chosen = out or RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    chosen.parent.mkdir(parents=True, exist_ok=True)
    return chosen


def timed(fn) -> tuple[float, object]:
    """(wall seconds, result) of ``fn()``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def write_json(path: Path, script: str, payload: dict) -> None:
    header = {"command": f"python bench/{script} " + " ".join(sys.argv[1:]),
              "machine": {"platform": platform.platform(), "python": platform.python_version()}}
    path.write_text(json.dumps({**header, **payload}, indent=2) + "\n")


def write_table(out: Path | None, name: str, lines: list[str], payload: dict) -> Path:
    """Print the markdown ``lines``, then write them to PREFIX.md and ``payload`` (with the header) to
    PREFIX.json, PREFIX being ``prefix(out, name)`` and the script bench/<name>.py; returns PREFIX."""
    text = "\n".join(lines) + "\n"
    print(text)
    chosen = prefix(out, name)
    write_json(chosen.with_suffix(".json"), f"{name}.py", payload)
    chosen.with_suffix(".md").write_text(text)
    print(f"-> {chosen}.json, .md")
    return chosen


def fit_once(fit_args: list[str], folder: Path, cwd: Path | None = None) -> float:
    """`pianokit fit FIT_ARGS --out FOLDER` (run from ``cwd``: a source tree there is the pianokit
    imported) unless FOLDER holds a finished run; returns the wall seconds of the first, full training
    run (kept in FOLDER/wall_time.json), NaN when unknown."""
    timing = folder / "wall_time.json"
    if not (folder / "metrics.json").is_file():
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pianokit", "fit", *fit_args, "--out", str(folder), "--no-progress"],
                       check=True, stdout=subprocess.DEVNULL, cwd=cwd)
        if not timing.is_file():
            timing.write_text(json.dumps({"wall_s": round(time.perf_counter() - start, 1)}))
    return json.loads(timing.read_text())["wall_s"] if timing.is_file() else float("nan")


def fit_entry(name: str, question: str, fit_args: list[str], folder: Path) -> dict:
    """One table entry: `fit_once`, then the run's metrics with its name, question, command and wall
    time; prints a one-line summary."""
    wall = fit_once(fit_args, folder)
    m = json.loads((folder / "metrics.json").read_text())
    wp = m["model"].get("within_passage", {}).get("mean", {})
    print(f"{name:24} {m['split']:9} R2 {m['model']['mean']['r2']:6.3f}  wp R2 {wp.get('r2', float('nan')):6.3f}  "
          f"wp r {wp.get('r', float('nan')):6.3f}  {wall / 60:5.1f} min", flush=True)
    command = " ".join(["pianokit", "fit", *fit_args, "--out", str(folder)])
    return {"name": name, "question": question, "command": command, "wall_s": wall, **m}


def write_entries(out: Path, script: str, rows: list[dict], intro: str, question_heading: str) -> None:
    """OUT.json (the rows) and OUT.md: ``intro``, the mean-score table beside the label-reliability
    ceiling, and each entry's question and wall time; the text is printed too."""
    from pianokit.results_table import markdown_means

    write_json(out.with_suffix(".json"), script, {"runs": rows})
    reliability = RESULTS / "label_reliability.json"
    rel = json.loads(reliability.read_text())["mean"] if reliability.is_file() else None
    what = [f"| entry | {question_heading} | wall (min, 2 cores) |", "|---|---|---|"]
    what += [f"| {r['name']} | {r['question']} | {r['wall_s'] / 60:.1f} |" for r in rows]
    text = intro + "\n\n" + markdown_means([(r["name"], r) for r in rows], rel) + "\n\n" + "\n".join(what) + "\n"
    out.with_suffix(".md").write_text(text)
    print(text)
    print(f"-> {out}.json, .md")
