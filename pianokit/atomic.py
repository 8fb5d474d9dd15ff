"""Write files so that a reader (or an interrupted run) only ever sees the old or the whole new file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pianokit.errors import InputError, os_reason
from pianokit.safety import writable_target


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside the target (same extension); it replaces the target when the
    block finishes, and is removed if the block fails.

    A symlink is written through (the file it points to is replaced, the link stays); a directory,
    device, FIFO or socket at ``path`` is refused with an InputError before anything is written.
    """
    path = writable_target(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({os_reason(exc)})") from None
    finally:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
