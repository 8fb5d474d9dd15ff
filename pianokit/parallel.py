"""Run one function over many items in worker pools with a progress bar, collecting per-item errors."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from pianokit import interrupt
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


def onnx_session_options():
    """onnxruntime session options for this process: quiet, and one intra-op thread in a pool or
    cluster worker (the workers already fill the cores; more threads only contend for them)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    if os.environ.get(WORKER_ENV):
        options.intra_op_num_threads = 1
    return options


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
    """Yield ``(item, result, error)`` as items finish; ``fn`` must be picklable unless ``threads``.

    A worker process that dies (a crash in a native library, the out-of-memory killer) loses
    nothing: the items it may have held are rerun one at a time in their own process, and an item
    that kills that process too is reported as an error; the others go on in a new pool."""
    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit="file", disable=not progress or not items, leave=True)
    try:
        if jobs <= 1:
            for item in items:
                interrupt.check()
                yield _call(fn, item)
                bar.update()
            return
        if threads:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                yield from _bounded(pool, fn, deque(items), jobs, bar, [])
            return
        queue: deque = deque(items)
        while queue:
            suspects: list = []
            with _process_pool(jobs) as pool:
                yield from _bounded(pool, fn, queue, jobs, bar, suspects)
            for item in suspects:
                with _process_pool(1) as alone:
                    crashed: list = []
                    yield from _bounded(alone, fn, deque([item]), 1, bar, crashed)
                if crashed:
                    yield item, None, _naming(item, "the worker process processing it crashed")
                    bar.update()
    finally:
        bar.close()


def _process_pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=jobs, initializer=_pool_worker, mp_context=_context())


def _bounded(pool: Executor, fn: Callable, queue: deque, jobs: int, bar: tqdm,
             crashed: list) -> Iterator[tuple[Any, Any, str | None]]:
    """Run ``queue``'s items with at most ``jobs`` in flight; when the pool breaks, the items in flight
    go to ``crashed`` and the rest stay in ``queue``."""
    running: dict = {}
    try:
        while queue or running:
            while queue and len(running) < jobs:
                item = queue.popleft()
                running[pool.submit(_call, fn, item)] = item
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            interrupt.check()
            for future in done:
                item = running.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    crashed.append(item)
                    continue
                yield result
                bar.update()
            if crashed:
                crashed.extend(running.values())
                running.clear()
                return
    except BaseException:
        for future in running:
            future.cancel()
        raise


@contextmanager
def runner(cluster: str | None, jobs: int, before_workers: Callable[[], None] | None = None) -> Iterator[Callable]:
    """A ``run(fn, items, desc, progress)`` that yields ``(item, result, error)``: the local process
    pool of ``jobs`` workers, or, with ``cluster`` (local / auto / a scheduler address), a Dask
    cluster (pianokit.cluster) with ``jobs`` local workers when it starts one. ``before_workers``
    runs once in this process before the first items go to workers (never when there are none, or
    when one local job runs them here)."""
    pending = [before_workers] if before_workers is not None and (cluster is not None or jobs > 1) else []

    def prepared(items: Iterable) -> list:
        items = list(items)
        if items and pending:
            pending.pop()()
        return items

    if cluster is None:
        yield lambda fn, items, desc, progress=True: run_parallel(fn, prepared(items), jobs, desc, progress=progress)
        return
    from pianokit.cluster import connect, run_on_cluster

    with connect(cluster, jobs) as client:
        yield lambda fn, items, desc, progress=True: run_on_cluster(fn, prepared(items), client, desc, progress)
