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


def write_json(path: Path, script: str, payload: dict) -> None:
    header = {"command": f"python bench/{script} " + " ".join(sys.argv[1:]),
              "machine": {"platform": platform.platform(), "python": platform.python_version()}}
    path.write_text(json.dumps({**header, **payload}, indent=2) + "\n")


def fit_once(fit_args: list[str], folder: Path) -> float:
    """`pianokit fit FIT_ARGS --out FOLDER` unless FOLDER holds a finished run; returns the wall seconds
    of the first, full training run (kept in FOLDER/wall_time.json), NaN when unknown."""
    timing = folder / "wall_time.json"
    if not (folder / "metrics.json").is_file():
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pianokit", "fit", *fit_args, "--out", str(folder), "--no-progress"],
                       check=True, stdout=subprocess.DEVNULL)
        if not timing.is_file():
            timing.write_text(json.dumps({"wall_s": round(time.perf_counter() - start, 1)}))
    return json.loads(timing.read_text())["wall_s"] if timing.is_file() else float("nan")
