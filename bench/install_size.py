"""The scoring install: how big it is, and how a cold `pianokit score` compares with importing its
libraries.

Usage:
  python bench/install_size.py [--out bench/results/install_size.json] [--repeats 5]

Builds the wheel, installs it with its dependencies (from the package index) into a fresh virtual
environment, then measures: the size of that environment's site-packages (total and the largest
packages), the wall time of `python -c "import numpy, scipy, librosa, soundfile, onnxruntime"` and of
`pianokit score` on the bundled 10.7 s example (both cold processes, median of --repeats), and their
ratio. The training extra is not installed.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
EXAMPLE = REPO / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"
BARE_IMPORT = "import numpy, scipy, librosa, soundfile, onnxruntime"


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def timed(cmd: list[str], repeats: int, cwd: Path) -> float:
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=cwd, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None,
                        help="result JSON (default: a new bench/results/install_size-<time>.json)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp), str(REPO)], check=True)
        wheel = next(tmp.glob("pianokit-*.whl"))
        venv = tmp / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        start = time.perf_counter()
        subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True)
        install_s = time.perf_counter() - start
        site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   check=True, capture_output=True, text=True).stdout.strip())
        packages = {p.name: size_mb(p) for p in site.iterdir() if p.is_dir() and not p.name.endswith("-info")}
        largest = dict(sorted(packages.items(), key=lambda kv: -kv[1])[:10])
        total = size_mb(site)
        timed([python, "-m", "pianokit", "score", str(EXAMPLE)], 1, tmp)  # first run: compile caches
        bare = timed([python, "-c", BARE_IMPORT], args.repeats, tmp)
        score = timed([python, "-m", "pianokit", "score", str(EXAMPLE)], args.repeats, tmp)
        installed = subprocess.run([python, "-m", "pip", "list", "--format", "json"], check=True, capture_output=True,
                                   text=True).stdout
    names = sorted(p["name"].lower() for p in json.loads(installed))
    result = {
        "command": "python bench/install_size.py " + " ".join(sys.argv[1:]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "site_packages_mb": round(total, 1), "largest_mb": {k: round(v, 1) for k, v in largest.items()},
        "training_packages_installed": [n for n in names if n in {"tensorflow", "keras", "pandas", "matplotlib",
                                                                  "tabulate", "torch"}],
        "install_s": round(install_s, 1),
        "cold_bare_import_s": round(bare, 3), "cold_score_s": round(score, 3),
        "score_over_bare_import": round(score / bare, 2), "example_seconds": 10.7,
    }
    lines = ["| measure | value |", "|---|---|", f"| site-packages | {result['site_packages_mb']:.0f} MB |"]
    lines += [f"| {k} | {v:.0f} MB |" for k, v in result["largest_mb"].items()]
    lines += [f"| cold `{BARE_IMPORT}` | {bare:.2f} s |", f"| cold `pianokit score` (10.7 s example) | {score:.2f} s |",
              f"| ratio | {score / bare:.2f} |"]
    print("\n".join(lines))
    out = args.out or RESULTS / f"install_size-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
