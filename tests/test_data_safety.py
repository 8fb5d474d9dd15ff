"""Nothing a user owns is lost: the real CLI run as a subprocess on bad, hostile and concurrent input.

Each case checks the exit code of docs/reliability.md (0 all good, 1 some inputs failed, 2 bad usage
or nothing usable), one line on stderr without a traceback, and what is left on disk.
"""

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import labelled_manifest, sine, write_wav
from pianokit.manifest import read_manifest
from pianokit.errors import InputError
from pianokit.metadata import validate
from pianokit.safety import exclusive
from pianokit.scorer import DEFAULT_MODEL

PERCEPIANO = Path(__file__).resolve().parents[2] / "shared" / "percepiano"
DEFAULT_META = json.loads(Path(f"{DEFAULT_MODEL}.json").read_text())


def cli(*args, cwd=None, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "pianokit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)


def error_lines(proc) -> list[str]:
    """stderr lines other than the scorer's informational 'pianokit: <model> on CPU' line."""
    return [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("pianokit: ")]


def assert_one_line(proc, code=2, *needles):
    lines = error_lines(proc)
    assert proc.returncode == code, proc.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for needle in needles:
        assert str(needle) in lines[0], lines[0]
    return lines[0]


def tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def user_folder(tmp_path) -> Path:
    folder = tmp_path / "userdir"
    folder.mkdir()
    (folder / "thesis.txt").write_text("three years of work")
    (folder / "features.csv").write_text("my,own,table\n1,2,3\n")
    return folder


@pytest.fixture
def corrupt_wav(tmp_path) -> Path:
    path = tmp_path / "bad.wav"
    path.write_bytes(b"RIFF not really audio" * 4)
    return path


def test_extract_into_a_users_folder_deletes_nothing(user_folder, corrupt_wav, tmp_path):
    before = tree(user_folder)
    assert_one_line(cli("extract", corrupt_wav, "--out", user_folder, "--no-progress"), 2, str(user_folder))
    good = write_wav(tmp_path / "good.wav", sine())
    assert_one_line(cli("extract", good, "--out", user_folder, "--no-progress"), 2, "not empty")
    assert tree(user_folder) == before and sorted(p.name for p in user_folder.iterdir()) == ["features.csv", "thesis.txt"]


def test_extract_out_dot_keeps_the_current_folder(user_folder, corrupt_wav):
    before = tree(user_folder)
    assert_one_line(cli("extract", corrupt_wav, "--out", ".", "--no-progress", cwd=user_folder), 2)
    assert tree(user_folder) == before


def test_failed_extract_into_a_new_folder_leaves_nothing(corrupt_wav, tmp_path):
    assert_one_line(cli("extract", corrupt_wav, "--out", tmp_path / "new" / "store", "--no-progress"), 2)
    assert not (tmp_path / "new" / "store").exists()


@pytest.mark.parametrize("bad_id", ["../../escaped", "/tmp/pianokit-absolute", "a/b", "..", ".hidden", "tab\there"])
def test_manifest_ids_never_become_paths_outside_the_store(tmp_path, bad_id):
    audio = write_wav(tmp_path / "a.wav", sine())
    other = write_wav(tmp_path / "b.wav", sine(330))
    pd.DataFrame({"segment_id": [bad_id, "fine"], "audio": [str(audio), str(other)]}).to_csv(tmp_path / "m.csv",
                                                                                              index=False)
    store = tmp_path / "deep" / "er" / "store"
    assert_one_line(cli("extract", "--manifest", tmp_path / "m.csv", "--out", store, "--no-progress"), 2,
                    "m.csv", "segment id")
    assert not store.exists()
    assert not list(tmp_path.rglob("*.npy")) and not Path("/tmp/pianokit-absolute.npy").exists()


def test_timeline_writes_through_a_symlink_and_refuses_other_targets(tmp_path):
    wav = write_wav(tmp_path / "a.wav", sine(440, 3))
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    ok = cli("score", wav, "--timeline", link, "--no-progress")
    assert ok.returncode == 0, ok.stderr
    assert link.is_symlink() and real.read_text().startswith("file,window,start_s,end_s")
    (tmp_path / "folder.csv").mkdir()
    assert_one_line(cli("score", wav, "--timeline", tmp_path / "folder.csv"), 2, "folder.csv")
    assert_one_line(cli("score", wav, "--timeline", "/dev/null"), 2, "/dev/null", "not a regular file")
    (tmp_path / "plain").write_text("x")
    assert_one_line(cli("score", wav, "--timeline", tmp_path / "plain" / "t.csv"), 2, "t.csv")


def test_a_store_in_use_is_refused_and_left_alone(tmp_path):
    wavs = [write_wav(tmp_path / "in" / f"s{i}.wav", sine(200 + 50 * i)) for i in range(2)]
    store = tmp_path / "store"
    assert cli("extract", wavs[0], "--out", store, "--no-progress").returncode == 0
    before = tree(store)
    with exclusive(store, "extract"):
        assert_one_line(cli("extract", wavs[1], "--out", store, "--no-progress"), 2, "in use")
    assert tree(store) == before
    assert cli("extract", wavs[1], "--out", store, "--no-progress").returncode == 0  # free again afterwards


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            for c in map(int, children):
                if c not in found:
                    found.add(c)
                    todo.append(c)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find worker processes")
def test_workers_die_with_a_killed_extract(tmp_path):
    for i in range(40):
        write_wav(tmp_path / "in" / f"s{i:02d}.wav", sine(200 + 7 * i, 4))
    store = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-m", "pianokit", "extract", str(tmp_path / "in"), "--out", str(store),
                             "-j", "2", "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    workers: set[int] = set()
    while time.time() < deadline and len(list((store / "mels").glob("*.npy"))) < 2:
        workers |= _descendants(proc.pid)
        time.sleep(0.1)
    workers |= _descendants(proc.pid)
    assert len(workers) >= 2, "no worker processes seen"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not [w for w in workers if _alive(w)]


def test_score_exit_code_says_some_files_failed(tmp_path, corrupt_wav):
    folder = tmp_path / "recs"
    write_wav(folder / "good.wav", sine(440, 3))
    (folder / "broken.wav").write_bytes(corrupt_wav.read_bytes())
    write_wav(folder / "silent.wav", np.zeros(3 * 22050, dtype=np.float32))
    proc = cli("score", folder, "--format", "csv", "--no-progress", "-j", "1")
    assert proc.returncode == 1, proc.stderr
    failed = [line for line in error_lines(proc) if line.startswith("failed:")]
    assert len(failed) == 2 and any("broken.wav" in f for f in failed) and any("silent.wav" in f for f in failed)
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    assert set(pd.read_csv(__import__("io").StringIO(proc.stdout))["file"].map(lambda f: Path(f).name)) == {"good.wav"}
    (folder / "good.wav").unlink()
    nothing = cli("score", folder, "--no-progress")
    lines = error_lines(nothing)
    assert nothing.returncode == 2 and "Traceback" not in nothing.stderr and nothing.stdout == ""
    assert len(lines) == 3 and lines[-1] == "Error: none of the 2 recordings could be scored"


def _nan_model(path: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    n = len(DEFAULT_META["feature_names"])
    weights = numpy_helper.from_array(np.full((n, 19), np.nan, dtype=np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["features", "w"], ["ratings"])], "nan",
                              [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n])],
                              [helper.make_tensor_value_info("ratings", TensorProto.FLOAT, [None, 19])], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {**DEFAULT_META, "name": "nan", "inputs": [{"name": "features", "shape": [None, n]}], "outputs": ["ratings"]}
    model.metadata_props.add(key="pianokit", value=json.dumps(meta))
    onnx.save(model, str(path))
    return path


def test_a_model_that_outputs_nan_is_an_error_not_invalid_json(tmp_path):
    model = _nan_model(tmp_path / "nan.onnx")
    wav = write_wav(tmp_path / "a.wav", sine())
    proc = cli("score", wav, "--model", model, "--format", "json")
    assert_one_line(proc, 2, "a.wav", "non-finite")
    assert "NaN" not in proc.stdout


def _model_with_meta(tmp_path: Path, change) -> Path:
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(f"{DEFAULT_MODEL}.onnx")
    meta = copy.deepcopy(DEFAULT_META)
    text = change(meta)
    for entry in proto.metadata_props:
        if entry.key == "pianokit":
            entry.value = text if isinstance(text, str) else json.dumps(meta)
    path = tmp_path / "changed.onnx"
    onnx.save(proto, str(path))
    return path


def _nested(meta):
    return json.dumps(meta)[:-1] + ', "extra": ' + '{"x": ' * 5000 + "{}" + "}" * 5000 + "}"


BAD_METADATA = {
    "deeply nested": _nested,
    "not an object": lambda m: "[1, 2, 3]",
    "key-less": lambda m: json.dumps({"format": "pianokit-model", "format_version": 1}),
    "ill-typed window": lambda m: m["window"].update(frames="517"),
    "zero segment length": lambda m: m["window"].update(segment_seconds=0),
    "negative hop": lambda m: m["window"].update(hop_frames=-5),
    "huge sample rate": lambda m: m["feature_config"].update(sample_rate=10**12),
    "zero hop length": lambda m: m["feature_config"].update(hop_length=0),
    "boolean n_mels": lambda m: m["feature_config"].update(n_mels=True),
    "unknown feature": lambda m: m["feature_config"].update(features=["tempo", "rm -rf"]),
    "terminal escape in a dimension": lambda m: m["dimensions"].__setitem__(0, "\x1b[31mred"),
    "too large": lambda m: json.dumps({**m, "padding": "x" * 3_000_000}),
}


@pytest.mark.parametrize("case", list(BAD_METADATA))
def test_bad_model_metadata_is_one_line(tmp_path, case):
    model = _model_with_meta(tmp_path, BAD_METADATA[case])
    wav = write_wav(tmp_path / "a.wav", sine())
    line = assert_one_line(cli("score", wav, "--model", model, timeout=60), 2, "changed.onnx")
    assert "\x1b" not in line


def test_manifest_problems_are_one_line(tmp_path):
    audio = [write_wav(tmp_path / f"a{i}.wav", sine(300 + i)) for i in range(2)]
    m = labelled_manifest(tmp_path / "m.csv", audio)
    df = pd.read_csv(m)
    df.loc[1, "audio"] = None
    df.to_csv(tmp_path / "empty_audio.csv", index=False)
    assert_one_line(cli("extract", "--manifest", tmp_path / "empty_audio.csv", "--out", tmp_path / "s1",
                        "--no-progress"), 2, "empty_audio.csv", "audio")
    df = pd.read_csv(m)
    df["timbre_soft_loud"] = df["timbre_soft_loud"].astype(object)
    df.loc[0, "timbre_soft_loud"] = "loud"
    df.to_csv(tmp_path / "text.csv", index=False)
    assert_one_line(cli("analyze", "--manifest", tmp_path / "text.csv", "--out", tmp_path / "an"), 2,
                    "text.csv", "timbre_soft_loud")
    pd.read_csv(m).head(0).to_csv(tmp_path / "header.csv", index=False)  # ran 'successfully' on nothing
    for args in (("extract", "--manifest", tmp_path / "header.csv", "--out", tmp_path / "s2", "--no-progress"),
                 ("analyze", "--manifest", tmp_path / "header.csv", "--out", tmp_path / "an2"),
                 ("dataset", "augment", "--manifest", tmp_path / "header.csv", "--out", tmp_path / "aug")):
        assert_one_line(cli(*args), 2, "header.csv: no rows, only a header")
    assert not any((tmp_path / name).exists() for name in ("s1", "an", "s2", "an2", "aug"))


def test_analyze_out_an_existing_file(tmp_path):
    m = labelled_manifest(tmp_path / "m.csv", [tmp_path / "a.wav", tmp_path / "b.wav"])
    (tmp_path / "report").write_text("mine")
    assert_one_line(cli("analyze", "--manifest", m, "--out", tmp_path / "report"), 2, "report")
    assert (tmp_path / "report").read_text() == "mine"


@pytest.mark.parametrize("content", ["", "\x00\x01garbage\xff", "id,audio\n../x,y\n"])
def test_unreadable_feature_table_is_one_line(planted_store, tmp_path, content):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(planted_store, store)
    (store / "features.csv").write_bytes(content.encode("latin-1"))
    assert_one_line(cli("fit", "--arch", "mlp", "--store", store, "--out", tmp_path / "run", "--no-progress"), 2,
                    "features.csv")
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def tiny_run(planted_store, tmp_path_factory):
    pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp("run") / "mlp"
    proc = cli("fit", "--arch", "mlp", "--store", planted_store, "--out", out, "--epochs", 2, "--folds", 1,
               "--no-progress")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_export_targets_that_cannot_be_written(tiny_run, tmp_path):
    (tmp_path / "plain").write_text("x")
    assert_one_line(cli("export", tiny_run, "--out", tmp_path / "plain" / "model"), 2, "plain")
    (tmp_path / "taken.onnx").mkdir()
    assert_one_line(cli("export", tiny_run, "--out", tmp_path / "taken"), 2, "taken.onnx")
    assert not (tmp_path / "taken.json").exists() and (tmp_path / "taken.onnx").is_dir()


def test_fit_errors_are_one_line_without_tensorflow_logs(planted_store, tmp_path):
    assert_one_line(cli("fit", "--arch", "cnn", "--augment", "wobble", "--store", planted_store, "--out",
                        tmp_path / "r"), 2, "unknown augmentation")
    assert not (tmp_path / "r").exists()


ratings = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4), st.none(),
                    st.integers(-3, 3))
ids = st.one_of(st.text(max_size=12), st.sampled_from(["../x", "/abs", "a/b", ".", "..", "ok_1", ""]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(ids, st.one_of(st.text(max_size=6), st.none()), ratings), min_size=1, max_size=4))
def test_fuzz_manifest_reader(tmp_path, rows):
    from pianokit.dimensions import DIMENSIONS

    df = pd.DataFrame({"segment_id": [r[0] for r in rows], "audio": [r[1] for r in rows]})
    for d in DIMENSIONS:
        df[d] = [r[2] for r in rows]
    path = tmp_path / "fuzz.csv"
    df.to_csv(path, index=False)
    try:
        out = read_manifest(path, labelled=True)
    except InputError as exc:
        assert "\n" not in str(exc) and "fuzz.csv" in str(exc)
    else:
        values = out[list(DIMENSIONS)].to_numpy(float)
        assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
        assert all(isinstance(a, str) and a for a in out["audio"])
        assert not any("/" in str(i) or str(i).startswith(".") for i in out["segment_id"])


numbers = st.one_of(st.integers(-10**13, 10**13), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                    st.none(), st.text(max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["sample_rate", "n_fft", "hop_length", "n_mels", "fmin", "fmax",
                                        "mel_floor_db", "feature_floor_db", "min_duration", "noise_floor_db"]),
                                       numbers,
                             min_size=1, max_size=4),
       st.dictionaries(st.sampled_from(["frames", "hop_frames", "segment_seconds"]), numbers,
                       max_size=4))
def test_fuzz_metadata_numbers(config_change, window_change):
    meta = copy.deepcopy(DEFAULT_META)
    meta["feature_config"].update(config_change)
    meta["window"].update(window_change)
    try:
        validate(meta, "m.json")
    except InputError as exc:
        assert str(exc).startswith("m.json: ") and "\n" not in str(exc)
    else:
        fc, w = meta["feature_config"], meta["window"]
        assert 8000 <= fc["sample_rate"] <= 96000 and 16 <= fc["hop_length"] <= fc["n_fft"]
        assert 0 <= fc["fmin"] < fc["fmax"] <= fc["sample_rate"] / 2 and 0.05 <= fc["min_duration"] <= 60
        assert -200 <= fc["feature_floor_db"] <= 0
        assert 1 <= w["hop_frames"] <= w["frames"] <= 100_000 and 1 <= w.get("segment_seconds", 30) <= 600
        assert fc.get("noise_floor_db") is None or 10 <= fc["noise_floor_db"] <= 80


@pytest.mark.parametrize("command", ["analyze", "compare", "fit", "dataset"])
def test_no_command_writes_into_a_folder_of_someone_elses_files(user_folder, tmp_path, planted_store, command):
    before = tree(user_folder)
    m = labelled_manifest(tmp_path / "m.csv", [tmp_path / "a.wav", tmp_path / "b.wav"])
    args = {"analyze": ("analyze", "--manifest", m, "--out", user_folder),
            "compare": ("compare", planted_store, "--out", user_folder),
            "fit": ("fit", "--arch", "mlp", "--store", planted_store, "--out", user_folder, "--no-progress"),
            "dataset": ("dataset", "percepiano", "--source", PERCEPIANO, "--out", user_folder, "--no-progress")}[command]
    if command == "dataset" and not PERCEPIANO.is_dir():
        pytest.skip("../shared/percepiano is not beside the checkout")
    if command == "compare":
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "metrics.json").write_text(json.dumps({"model": {}, "baselines": {}}))
        args = ("compare", tmp_path / "run", "--out", user_folder)
    proc = cli(*args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert tree(user_folder) == before


def test_an_out_under_a_file_is_refused_before_any_work(tmp_path, planted_store):
    """--out whose parent folder is a regular file cannot be made: each command says so in one line
    before it renders, extracts or trains anything, and the file is left as it was."""
    plain = tmp_path / "plain"
    plain.write_text("mine")
    wav = write_wav(tmp_path / "a.wav", sine(440, 2))
    m = labelled_manifest(tmp_path / "m.csv", [wav, write_wav(tmp_path / "b.wav", sine(330, 2))])
    cases = [("extract", wav, "--out", plain / "store", "--no-progress"),
             ("analyze", "--manifest", m, "--out", plain / "an"),
             ("fit", "--arch", "mlp", "--store", planted_store, "--out", plain / "run", "--no-progress"),
             ("dataset", "augment", "--manifest", m, "--out", plain / "aug", "--no-progress"),
             ("dataset", "combine", f"a={m}", "--out", plain / "all.csv")]
    if PERCEPIANO.is_dir():
        cases.append(("dataset", "percepiano", "--source", PERCEPIANO, "--out", plain / "ds", "--no-progress"))
    for args in cases:
        assert_one_line(cli(*args), 2, "plain is a file, not a folder")
    assert plain.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav", "m.csv", "plain"]


def test_a_store_folder_that_cannot_be_made_is_one_line(tmp_path):
    """/proc takes no new folders, even from root: the store cannot be created, said in one line."""
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc on this system")
    wav = write_wav(tmp_path / "a.wav", sine(440, 2))
    assert_one_line(cli("extract", wav, "--out", "/proc/pianokit-store", "--no-progress"), 2,
                    "/proc/pianokit-store: cannot create the feature store")


def test_a_full_disk_while_exporting_leaves_neither_file(tmp_path, monkeypatch):
    """Writing the model fails for lack of space: one line naming the cause, and neither OUT.onnx,
    OUT.json nor the scratch folder is left behind."""
    import errno

    import onnx
    from click.testing import CliRunner

    from pianokit.cli import cli as pianokit_cli

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(onnx, "save", full)
    result = CliRunner().invoke(pianokit_cli, ["export", f"{DEFAULT_MODEL}.onnx", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "cannot write the exported model (No space left on device)" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_os_error_deep_in_a_command_is_one_line(tmp_path, monkeypatch):
    """Any OSError a command does not name itself (a full disk, a vanished folder) still ends as
    one line with the path and the cause, exit code 2, not a traceback."""
    import errno

    from click.testing import CliRunner

    import pianokit.analyze
    from pianokit.cli import cli as pianokit_cli

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "an" / "summary.json"))

    monkeypatch.setattr(pianokit.analyze, "analyze", full)
    m = labelled_manifest(tmp_path / "m.csv", [tmp_path / "a.wav", tmp_path / "b.wav"])
    result = CliRunner().invoke(pianokit_cli, ["analyze", "--manifest", str(m), "--out", str(tmp_path / "an")])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"Error: {tmp_path / 'an' / 'summary.json'}: No space left on device"
