"""Ctrl-C and SIGTERM end a run at once, or at the next safe point where Python dropped the exception.

The handler raises KeyboardInterrupt where the signal lands. When it lands while Python runs a
``__del__`` method or a weakref callback (TensorFlow frees models that way), Python prints the
exception and drops it; the request stays recorded, and long loops call :func:`check` to end there.
"""

from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def _handler(signum, frame) -> None:
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    """Route SIGINT and SIGTERM to the handler (also when a background shell ignored SIGINT)."""
    _requested.clear()
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


def requested() -> bool:
    """Whether a Ctrl-C or SIGTERM has arrived since :func:`install`."""
    return _requested.is_set()


def check() -> None:
    """Raise KeyboardInterrupt if an interruption was asked for, even one whose exception was dropped."""
    if _requested.is_set():
        raise KeyboardInterrupt


def keras_callback():
    """A Keras callback that ends ``fit`` at the next batch or epoch end after an interruption."""
    import keras

    class StopOnInterrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            check()

        def on_test_batch_end(self, batch, logs=None):
            check()

        def on_epoch_end(self, epoch, logs=None):
            check()

    return StopOnInterrupt()
