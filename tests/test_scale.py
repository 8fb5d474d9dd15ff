"""Beyond one machine: extract and score on a real local Dask cluster (several worker processes),
a worker dying mid-run, and data-parallel training on two logical CPU devices."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import sine, write_wav
from pianokit.cli import cli

pytest.importorskip("distributed")

EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "examples" / "Schubert_D935_no.3_4bars_12_1.wav"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    root = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(5)
    for k in range(6):
        y = sum(sine(220 * 2 ** (j / 12), 2.5, amp=0.1) for j in rng.choice(24, 3, replace=False))
        write_wav(root / f"r{k}.wav", (y * np.linspace(1, 0.3, len(y)) + 0.002 * rng.standard_normal(len(y)))
                  .astype("float32"))
    (root / "broken.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt not audio" * 3)
    return root


def test_cluster_extract_is_byte_identical_to_the_local_pool(recordings, tmp_path):
    # the same worker setting on both sides (single-threaded worker processes): the local pool of 2
    local = invoke("extract", recordings, "--out", tmp_path / "local", "-j", "2", "--no-progress")
    clustered = invoke("extract", recordings, "--out", tmp_path / "cluster", "-j", "2", "--cluster", "local",
                       "--no-progress")
    for result in (local, clustered):
        assert result.exit_code == 1, result.output  # some files failed
        assert "6 extracted" in result.output and "1 failed" in result.output and "broken.wav" in result.output
    for name in ("features.csv", "failures.csv", "config.json"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "cluster" / name).read_bytes(), name
    mels = sorted(p.name for p in (tmp_path / "local" / "mels").iterdir())
    assert len(mels) == 6
    for name in mels:
        assert (tmp_path / "local" / "mels" / name).read_bytes() == (tmp_path / "cluster" / "mels" / name).read_bytes()
    again = invoke("extract", recordings, "--out", tmp_path / "cluster", "--cluster", "local", "-j", "2",
                   "--no-progress")
    assert "0 extracted, 6 already current" in again.output  # the store resumes as after a local run


def test_cluster_score_equals_local_score(recordings):
    local = invoke("score", recordings, "--format", "json", "-j", "2", "--no-progress")
    clustered = invoke("score", recordings, "--format", "json", "-j", "2", "--cluster", "local", "--no-progress")
    assert local.exit_code == clustered.exit_code == 1  # the broken file is reported, the others rated
    assert "broken.wav" in clustered.stderr and "Traceback" not in clustered.output
    assert json.loads(local.stdout) == json.loads(clustered.stdout)


def test_unreachable_scheduler_is_one_line(tmp_path):
    wav = write_wav(tmp_path / "a.wav", sine(440, 2))
    result = invoke("score", wav, "--cluster", "tcp://127.0.0.1:9")
    assert result.exit_code == 2 and "cannot reach a Dask scheduler" in result.output
    assert "Traceback" not in result.output


def test_a_scheduler_that_goes_away_mid_run_is_one_line(recordings, tmp_path):
    """The scheduler killed while a score runs on it: Dask cancels the client's work and logs its
    reconnect attempts with tracebacks; the user gets one line naming what happened, exit code 2."""
    import time

    import distributed

    scheduler_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0",
                                  "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = cli_run = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline and scheduler.poll() is None, "the scheduler did not start"
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                   "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cli_run = subprocess.Popen([sys.executable, "-m", "pianokit", "score", str(recordings), "--format", "csv",
                                    "--cluster", address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with distributed.Client(address, timeout="20s") as watcher:
            while not watcher.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)):
                assert time.monotonic() < deadline + 60 and cli_run.poll() is None, "no work reached the scheduler"
                time.sleep(0.1)
        scheduler.kill()
        out, err = cli_run.communicate(timeout=120)
    finally:
        for process in (cli_run, worker, scheduler):
            if process is not None and process.poll() is None:
                process.kill()
    assert cli_run.returncode == 2, err
    assert "Traceback" not in err and "ERROR" not in err and out == ""
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(rf"Error: lost the connection to the Dask scheduler at {re.escape(address)} \(it stopped, "
                        r"or the network to it failed\); [1-7] file\(s\) not done", last), last


def _square_or_die(item):
    """Kill this worker process the first time it meets an item that has a 'die' marker (once), or every
    time for a 'poison' one; otherwise square the number."""
    number, folder = item
    once, poison = Path(folder) / f"die-{number}", Path(folder) / f"poison-{number}"
    if poison.exists() or once.exists():
        once.unlink(missing_ok=True)
        os._exit(1)
    return number * number


def test_a_dead_worker_loses_nothing_and_a_rerun_completes(tmp_path):
    from pianokit.cluster import connect, run_on_cluster

    (tmp_path / "die-3").touch()
    (tmp_path / "poison-5").touch()
    items = [(k, str(tmp_path)) for k in range(16)]
    with connect("local", 2) as client:
        out = {item[0]: (result, error) for item, result, error in run_on_cluster(_square_or_die, items, client, "t", False)}
        assert not (tmp_path / "die-3").exists()  # it did die once ...
        assert out[3] == (9, None)  # ... and the item was rerun on another worker
        assert out[5][0] is None and "died" in out[5][1]  # the poison file is reported, not fatal
        # items queued on the poison file's worker were blamed with it by Dask; rerun alone, they complete
        assert {k: r for k, (r, _) in out.items() if k != 5} == {k: k * k for k in range(16) if k != 5}
        (tmp_path / "poison-5").unlink()
        rerun = list(run_on_cluster(_square_or_die, [items[5]], client, "t", False))
        assert rerun == [(items[5], 25, None)]


def _die_twice_with_a_pause(item):
    """'first' kills its worker at once and notes when; 'second' kills the restarted worker about
    14 s after that, so 15 s after the first death (Dask's lost-worker-timeout) it is restarting again."""
    import time

    name, folder = item
    marker, died = Path(folder) / name, Path(folder) / "first-died"
    if marker.exists():
        marker.unlink()
        if name == "first":
            died.write_text(str(time.time()))
        else:
            time.sleep(max(0.0, float(died.read_text()) + 14 - time.time()))
        os._exit(1)
    return name


def test_a_local_worker_that_dies_twice_is_restarted_and_the_run_ends(tmp_path):
    """A LocalCluster closed a worker's nanny for good when the worker, restarted after one death, was
    down again 15 s after the first (a race in Dask's SpecCluster); with every nanny closed the run
    waited forever (1 of 2 full test runs here). The local cluster now keeps its nannies: the run
    ends, nothing lost."""
    import threading

    from pianokit.cluster import connect, run_on_cluster

    (tmp_path / "first").touch()
    (tmp_path / "second").touch()
    items = [("first", str(tmp_path)), ("second", str(tmp_path)), ("third", str(tmp_path))]
    results = {}

    def run():
        with connect("local", 1) as client:
            for item, result, error in run_on_cluster(_die_twice_with_a_pause, items, client, "t", False):
                results[item[0]] = (result, error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=240)
    assert not worker.is_alive(), f"the run never ended; results so far: {results}"
    assert results == {name: (name, None) for name in ("first", "second", "third")}


def _square_slowly(number):
    import time

    time.sleep(0.5)
    return number * number


def test_a_local_cluster_left_without_workers_ends_with_an_error(monkeypatch):
    """Every worker of a local cluster gone for good (here: scaled away mid-run) used to leave the run
    waiting forever; it now ends with a one-line error after LOCAL_NO_WORKER_S, the finished items
    yielded before it."""
    from pianokit import cluster
    from pianokit.errors import InputError

    monkeypatch.setattr(cluster, "POLL_S", 0.2)
    monkeypatch.setattr(cluster, "LOCAL_NO_WORKER_S", 3.0)
    finished = []
    with cluster.connect("local", 1) as client:
        with pytest.raises(InputError) as caught:
            for item, result, error in cluster.run_on_cluster(_square_slowly, range(8), client, "t", False):
                finished.append((item, result, error))
                if len(finished) == 2:
                    client.cluster.scale(0)
    # a task already running when the worker was told to go may still finish
    assert 2 <= len(finished) < 8 and all(result == item * item and error is None for item, result, error in finished)
    message = str(caught.value)
    assert "no worker left" in message and f"{8 - len(finished)} file(s) not done" in message and "\n" not in message


def test_a_scheduler_without_workers_is_said_and_the_run_goes_on_when_one_joins(monkeypatch, capsys):
    """A remote scheduler with no workers gets one notice on stderr; the run waits (a batch queue may
    start workers late) and completes when a worker joins."""
    import threading
    import time

    import distributed

    from pianokit import cluster

    monkeypatch.setattr(cluster, "POLL_S", 0.2)
    monkeypatch.setattr(cluster, "REMOTE_NO_WORKER_NOTICE_S", 1.0)
    scheduler = distributed.LocalCluster(n_workers=0, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=50)
    results = {}
    try:
        with cluster.connect(scheduler.scheduler_address, 0) as client:
            def run():
                for item, result, error in cluster.run_on_cluster(_square_slowly, range(4), client, "t", False):
                    results[item] = (result, error)

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            deadline = time.monotonic() + 60
            while "has no workers" not in capsys.readouterr().err:
                assert time.monotonic() < deadline, "no notice"
                time.sleep(0.2)
            assert not results
            scheduler.scale(1)
            thread.join(timeout=120)
            assert not thread.is_alive()
    finally:
        scheduler.close()
    assert results == {k: (k * k, None) for k in range(4)}
    assert "has no workers" not in capsys.readouterr().err  # said once


def test_a_crashed_pool_worker_loses_nothing(tmp_path):
    """The local pool: an item whose worker died once is rerun, one that always kills it is reported,
    and every other item is still done."""
    from pianokit.parallel import run_parallel

    (tmp_path / "die-3").touch()
    (tmp_path / "poison-5").touch()
    items = [(k, str(tmp_path)) for k in range(10)]
    out = {item[0]: (result, error) for item, result, error in run_parallel(_square_or_die, items, 2, "t", progress=False)}
    assert sorted(out) == list(range(10))
    assert not (tmp_path / "die-3").exists() and out[3] == (9, None)
    assert out[5][0] is None and "crashed" in out[5][1] and str(tmp_path) in out[5][1]
    assert {k: r for k, (r, _) in out.items() if k != 5} == {k: k * k for k in range(10) if k != 5}


def _fit_mirrored(store, run, epochs: int, folds: int) -> dict:
    """fit with MirroredStrategy over two logical CPU devices (standing in for two GPUs), in a fresh
    process (logical devices must be set before TensorFlow starts); the timbre_soft_loud metrics."""
    script = textwrap.dedent(f"""
        import json, os, sys
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from pianokit.distribute import make_strategy
        assert make_strategy("mirrored").num_replicas_in_sync == 2
        from pianokit.train import FitConfig, fit
        summary = fit(FitConfig(arch="multitask", store={str(store)!r}, epochs={epochs}, patience=30, seed=1,
                                learning_rate=3e-3, folds={folds}, strategy="mirrored"), {str(run)!r},
                      progress=False)
        print(json.dumps(summary["model"]["per_dimension"]["timbre_soft_loud"]))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((run / "config.json").read_text())["strategy"] == "mirrored"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_mirrored_strategy_trains_and_evaluates_on_two_logical_cpus(planted_store, tmp_path):
    """A short mirrored fit runs to the end and writes finite held-out metrics (learning: next test)."""
    loud = _fit_mirrored(planted_store, tmp_path / "run", epochs=3, folds=1)
    assert np.isfinite(loud["r"]) and np.isfinite(loud["r2"])
    assert (tmp_path / "run" / "fold0" / "model.keras").is_file()


@pytest.mark.slow
def test_mirrored_strategy_learns_the_planted_signal(planted_store, tmp_path):
    """Two logical CPU devices stand in for two GPUs; the model still learns the planted signal."""
    assert _fit_mirrored(planted_store, tmp_path / "run", epochs=150, folds=2)["r"] > 0.7


def test_mirrored_strategy_needs_two_devices(planted_store, tmp_path):
    result = invoke("fit", "--arch", "multitask", "--store", planted_store, "--out", tmp_path / "run",
                    "--strategy", "mirrored", "--epochs", 1, "--no-progress")
    assert result.exit_code == 2 and "needs at least 2 devices" in result.output
    assert not (tmp_path / "run").exists()
