"""Where bench scripts write, and the header every result JSON carries (command and machine)."""

from __future__ import annotations

import json
import platform
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
