"""Guards that keep commands from touching what they do not own: safe ids, exclusive folder locks,
and refusal of output targets that are not regular files."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pianokit.errors import InputError

MAX_ID_LENGTH = 200
# A file failing while the output's disk has less than this left ends a long run: every later file
# would be computed and then fail to be written (a log-mel is up to ~3 MB, a rendered segment ~5 MB,
# features.csv ~20 MB at 14k rows).
MIN_FREE_BYTES = 64 * 2**20
_UNSAFE_ID = re.compile(r"[/\\\x00-\x1f\x7f]")


def check_id(item_id: object, source: str | os.PathLike = "") -> str:
    """An id that becomes a file name: non-empty, at most 200 characters, no path separators, control
    characters or leading dot (so never '.', '..' or a hidden file). Returns it as str."""
    text = "" if item_id is None else str(item_id)
    where = f"{source}: " if source else ""
    if not text.strip() or len(text) > MAX_ID_LENGTH or _UNSAFE_ID.search(text) or text.startswith("."):
        shown = text.encode("unicode_escape").decode()[:60]
        raise InputError(f"{where}segment id {shown!r} cannot be used as a file name (no '/', '\\\\', "
                         "control characters or leading '.'; 1-200 characters)")
    return text


def is_safe_id(item_id: object) -> bool:
    try:
        check_id(item_id)
    except InputError:
        return False
    return True


def printable(text: object, limit: int = 200) -> str:
    """Text from a file (model metadata, CSV cells) made safe for a terminal: control characters
    escaped, length bounded."""
    out = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(text))
    return out if len(out) <= limit else out[: limit - 3] + "..."


def writable_target(path: str | os.PathLike) -> Path:
    """The file an output should replace: ``path`` itself, or the file a symlink points to (written
    through the link). Refuses a directory, device, FIFO or socket at that place."""
    path = Path(path)
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    if target.exists() and not target.is_file():
        kind = "a directory" if target.is_dir() else "not a regular file"
        raise InputError(f"{path}: is {kind}; refusing to replace it")
    return target


@contextmanager
def exclusive(folder: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold FOLDER/.pianokit.lock for the block; another process holding it gets one clear error.
    The operating system releases the lock when the holder dies, even by SIGKILL."""
    from filelock import FileLock, Timeout

    folder = Path(folder)
    lock = FileLock(str(folder / ".pianokit.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise InputError(f"{folder}: in use by another pianokit {what}; wait for it to finish") from None
    try:
        yield
    finally:
        lock.release()


def own_folder(folder: str | os.PathLike, marker: str, what: str) -> Path:
    """An output folder a command may write into: new, empty, or one it made before (it holds
    ``marker``). Anything else is refused before a file is written, so nobody's files get replaced."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder; choose another --out")
    if folder.is_dir() and not (folder / marker).exists() and any(folder.iterdir()):
        raise InputError(f"{folder}: folder is not empty and is not a {what}; choose a new or empty --out")
    return makeable(folder)


def makeable(folder: str | os.PathLike) -> Path:
    """``folder`` (or a file to be made), refused before any work when a file stands where it or one
    of its parent folders should be."""
    folder = Path(folder)
    above = next((p for p in (folder, *folder.parents) if os.path.lexists(p)), None)
    if above is not None and not above.is_dir():
        why = "is a file" if above == folder else f"cannot be made, {above} is a file"
        raise InputError(f"{folder}: {why}, not a folder; choose another --out")
    return folder


def stop_if_disk_full(folder: str | os.PathLike, failure: str, kept: str) -> None:
    """After a file failed in a long run writing into ``folder``: end the run with one error when the
    folder's disk has under MIN_FREE_BYTES left, saying what is ``kept`` for a rerun to resume from."""
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        raise InputError(f"{folder}: the disk is full ({free / 2**20:.0f} MB left; last failure: {failure}); {kept}: "
                         "free some space and run the same command again to resume")
