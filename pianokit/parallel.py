"""Run one function over many items in worker pools with a progress bar, collecting per-item errors."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from pianokit.errors import InputError


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _die_with_parent() -> None:
    """End this worker as soon as its parent is gone, even when the parent was killed with SIGKILL:
    the kernel's parent-death signal where Linux offers it, and a watchdog thread everywhere."""
    parent = os.getppid()
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError, ImportError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="pianokit-parent-watch").start()


WORKER_ENV = "PIANOKIT_POOL_WORKER"
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def single_threaded() -> None:
    """This worker process uses one BLAS/OpenMP/ONNX Runtime thread (its pool or cluster already fills
    the cores) and stays quiet (per-file problems are reported as errors, not warnings)."""
    from threadpoolctl import threadpool_limits

    os.environ[WORKER_ENV] = "1"
    for name in THREAD_ENV:  # for BLAS / OpenMP libraries loaded later (threadpoolctl only limits loaded ones)
        os.environ[name] = "1"
    threadpool_limits(1)
    warnings.simplefilter("ignore")


def _pool_worker() -> None:
    """Initializer of the local pool's workers: single-threaded, and dies with its parent."""
    single_threaded()
    _die_with_parent()


def _context() -> multiprocessing.context.BaseContext:
    """Workers are spawned as fresh children of the caller: never forked from a caller that may hold
    threads and locks (TensorFlow, onnxruntime), which can hang, and never through a fork server,
    which would outlive a killed caller."""
    return multiprocessing.get_context("spawn")


def _call(fn: Callable, item: Any) -> tuple[Any, Any, str | None]:
    """(item, result, None) or (item, None, one-line error that names the item)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return item, fn(item), None
    except InputError as exc:
        return item, None, _naming(item, str(exc))
    except Exception as exc:  # a per-item failure must not stop the run; it is reported in the summary
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        return item, None, _naming(item, f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__)


def _naming(item: Any, message: str) -> str:
    """The message with the item's path (or id) in front unless it already names it."""
    name = str(item[1] if isinstance(item, tuple) and len(item) == 2 else item)
    return message if name in message else f"{name}: {message}"


def run_parallel(
    fn: Callable,
    items: Iterable,
    jobs: int,
    desc: str,
    threads: bool = False,
    progress: bool = True,
) -> Iterator[tuple[Any, Any, str | None]]:
    """Yield ``(item, result, error)`` as items finish; ``fn`` must be picklable unless ``threads``."""
    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit="file", disable=not progress or not items, leave=True)
    try:
        if jobs <= 1:
            for item in items:
                yield _call(fn, item)
                bar.update()
            return
        pool: Executor = (
            ThreadPoolExecutor(max_workers=jobs)
            if threads
            else ProcessPoolExecutor(max_workers=jobs, initializer=_pool_worker, mp_context=_context())
        )
        with pool:
            futures = [pool.submit(_call, fn, item) for item in items]
            try:
                for future in as_completed(futures):
                    yield future.result()
                    bar.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
    finally:
        bar.close()


@contextmanager
def runner(cluster: str | None, jobs: int) -> Iterator[Callable]:
    """A ``run(fn, items, desc, progress)`` that yields ``(item, result, error)``: the local process
    pool of ``jobs`` workers, or, with ``cluster`` (local / auto / a scheduler address), a Dask
    cluster (pianokit.cluster) with ``jobs`` local workers when it starts one."""
    if cluster is None:
        yield lambda fn, items, desc, progress=True: run_parallel(fn, items, jobs, desc, progress=progress)
        return
    from pianokit.cluster import connect, run_on_cluster

    with connect(cluster, jobs) as client:
        yield lambda fn, items, desc, progress=True: run_on_cluster(fn, items, client, desc, progress)
