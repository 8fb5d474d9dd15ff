"""Run one function over many items in worker pools with a progress bar, collecting per-item errors."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from typing import Any

from tqdm import tqdm

from pianokit.errors import InputError


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _single_threaded_worker() -> None:
    """Each worker process uses one BLAS/OpenMP thread: the pool already fills the cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _call(fn: Callable, item: Any) -> tuple[Any, Any, str | None]:
    try:
        return item, fn(item), None
    except InputError as exc:
        return item, None, str(exc)
    except Exception as exc:  # a per-item failure must not stop the run; it is reported in the summary
        return item, None, f"{type(exc).__name__}: {exc}"


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
            else ProcessPoolExecutor(max_workers=jobs, initializer=_single_threaded_worker)
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
