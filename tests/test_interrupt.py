"""Ctrl-C / SIGTERM that lands where Python drops the KeyboardInterrupt still ends the run."""

import os
import signal

import click
import numpy as np
import pytest
from click.testing import CliRunner

from pianokit import interrupt
from pianokit.cli import Group
from pianokit.parallel import run_parallel

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped exceptions


class _SignalOnDelete:
    """Sends SIGTERM to this process from ``__del__``, where Python prints and drops the handler's exception."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)


def drop_a_signal() -> None:
    _SignalOnDelete()


@pytest.fixture
def handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupt.install()
    yield
    for s, h in saved.items():
        signal.signal(s, h)
    interrupt._requested.clear()


def test_dropped_signal_is_remembered(handlers):
    drop_a_signal()  # no exception reaches here: Python ignores exceptions raised in __del__
    assert interrupt.requested()
    with pytest.raises(KeyboardInterrupt):
        interrupt.check()


def test_signal_outside_del_raises_at_once(handlers):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass
    assert interrupt.requested()


def test_parallel_loop_stops_after_a_dropped_signal(handlers):
    done = []

    def work(item):
        if item == 1:
            drop_a_signal()
        done.append(item)
        return item

    with pytest.raises(KeyboardInterrupt):
        for _ in run_parallel(work, range(10), jobs=1, desc="t", progress=False):
            pass
    assert done == [0, 1]


def test_keras_fit_stops_after_a_dropped_signal(handlers):
    import keras

    class DropAtEpoch2(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                drop_a_signal()

    seen = []
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x, y = np.random.default_rng(0).normal(size=(64, 3)), np.zeros((64, 1))
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=50, batch_size=16, verbose=0,
                  callbacks=[DropAtEpoch2(), interrupt.keras_callback(),
                             keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(e))])
    assert seen == [0, 1, 2]


def test_command_that_finished_after_a_dropped_signal_exits_130(handlers):
    @click.group(cls=Group)
    def group():
        pass

    @group.command()
    def work():
        drop_a_signal()

    @group.command()
    def extract():
        drop_a_signal()

    result = CliRunner().invoke(group, ["work"])
    assert result.exit_code == 130 and result.output.strip() == "Interrupted."
    interrupt._requested.clear()
    result = CliRunner().invoke(group, ["extract"])  # a command that resumes says so
    assert result.exit_code == 130 and "rerun the same command to resume" in result.output


def test_an_error_that_a_signal_turned_into_another_exception_is_still_a_stop(handlers):
    """A KeyboardInterrupt raised inside a library's C code can come out as another exception
    (TensorFlow's training step gave SystemError 'bad argument to internal function' in a CI run of
    the interrupted-fit test): after a signal that is an interruption, exit 130; without one the
    error is not hidden."""
    @click.group(cls=Group)
    def group():
        pass

    @group.command()
    def fit():
        drop_a_signal()
        raise SystemError("Objects/listobject.c:338: bad argument to internal function")

    @group.command()
    def work():
        raise SystemError("a real bug")

    result = CliRunner().invoke(group, ["fit"])
    assert result.exit_code == 130 and "rerun the same command to resume" in result.output
    interrupt._requested.clear()
    result = CliRunner().invoke(group, ["work"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemError)
