"""A wheel carries the shipped model and scores from any folder; the scoring install's dependencies
leave out the training and plotting packages, and pick the onnxruntime build by platform."""

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"
TRAINING_ONLY = {"tensorflow", "keras", "pandas", "matplotlib", "tabulate", "onnx", "tf2onnx", "scikit-learn"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(REPO)], check=True, cwd=out)
    return next(out.glob("pianokit-*.whl"))


def test_the_wheel_holds_the_model_and_the_transcription_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("pianokit/exported_models/default.onnx", "pianokit/exported_models/default.json",
                 "pianokit/assets/basic_pitch/nmp.onnx", "pianokit/assets/basic_pitch/nmp_cpu.onnx",
                 "pianokit/assets/basic_pitch/LICENSE"):
        assert name in names, name


def test_the_scoring_install_needs_no_training_or_plotting_package(wheel):
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    requires = [Requirement(line.split(":", 1)[1].strip()) for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    core = [r for r in requires if r.marker is None or "extra" not in str(r.marker)]
    assert not {r.name for r in core} & TRAINING_ONLY
    for env in ({"sys_platform": "linux", "platform_machine": "x86_64"}, {"sys_platform": "darwin", "platform_machine": "arm64"},
                {"sys_platform": "linux", "platform_machine": "aarch64"}, {"sys_platform": "win32", "platform_machine": "AMD64"}):
        runtimes = [r.name for r in core if r.name.startswith("onnxruntime") and r.marker.evaluate(env)]
        expected = "onnxruntime-gpu" if env["platform_machine"] in ("x86_64", "AMD64") else "onnxruntime"
        assert runtimes == [expected], env


def test_a_wheel_install_scores_from_any_folder(wheel, tmp_path):
    """Installed (not editable) into a fresh virtual environment whose only other packages are this
    environment's dependencies, `pianokit score` finds the packaged model from an unrelated folder."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "outer_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(python), "-c", "import pianokit.scorer as s; print(s.DEFAULT_MODEL)"], cwd=elsewhere,
                           check=True, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(site), where
    proc = subprocess.run([str(python), "-m", "pianokit", "score", str(EXAMPLE), "--format", "json"], cwd=elsewhere,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert len(result["recordings"][0]["ratings"]) == 19
