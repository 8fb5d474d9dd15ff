"""Run extract and score on a Dask cluster (the `cluster` extra): the same per-file function as the
local process pool, the same (item, result, error) stream, so the store is checkpointed and resumed
by the caller exactly as in a local run and results are identical.

``--cluster local`` starts a LocalCluster of worker processes on this machine; ``--cluster ADDRESS``
(tcp://host:8786) joins a running scheduler; ``--cluster auto`` uses $DASK_SCHEDULER_ADDRESS when set,
else a local cluster. Workers must see the same file paths as the caller (a shared filesystem).
A worker that dies mid-run has its files rerun on another worker; files that were on workers that
died ``ALLOWED_FAILURES`` times are run again one at a time, and one that still kills workers alone
is reported as failed, like any unreadable file. A run never waits silently for workers that are
gone: a local cluster with no worker left for ``LOCAL_NO_WORKER_S`` ends with an error (extract keeps
what finished in its store, as on Ctrl-C), a scheduler with no workers gets a notice on stderr
while the run waits for some, and a scheduler that goes away ends the run with an error.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

from pianokit import interrupt
from pianokit.errors import InputError
from pianokit.parallel import _call, single_threaded

ALLOWED_FAILURES = 2
ADDRESS_ENV = "DASK_SCHEDULER_ADDRESS"
# A local cluster closes a worker's nanny for good when no worker of its name is registered this long
# after the worker was lost; a worker that died, was restarted and died again could still be
# restarting 15 s (Dask's default) after its first death on a busy machine, and once every nanny
# was closed the run waited forever. Our nannies restart their workers, so they are kept.
LOCAL_LOST_WORKER_TIMEOUT = "7 days"
POLL_S = 2.0  # how often a waiting run checks for workers and for Ctrl-C
LOCAL_NO_WORKER_S = 60.0  # a local cluster's nannies restart a dead worker within seconds
REMOTE_NO_WORKER_NOTICE_S = 30.0  # workers of a real cluster may come later (a batch queue): say so, keep waiting


def _distributed():
    try:
        import dask
        import distributed
    except ImportError:
        raise InputError("--cluster needs Dask: pip install 'pianokit[cluster]'") from None
    return dask, distributed


def _plugin(distributed):
    class PianokitWorker(distributed.WorkerPlugin):
        name = "pianokit-worker"

        def setup(self, worker):
            single_threaded()

    return PianokitWorker()


@contextmanager
def connect(spec: str, workers: int) -> Iterator[Any]:
    """A distributed.Client for ``spec`` (local, auto or a scheduler address), closed afterwards
    (a local cluster is shut down with it)."""
    dask, distributed = _distributed()
    address = os.environ.get(ADDRESS_ENV) if spec == "auto" else None if spec == "local" else spec
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                          "distributed.worker.daemon": False, "distributed.logging.distributed": "error",
                          "distributed.deploy.lost-worker-timeout": LOCAL_LOST_WORKER_TIMEOUT}):
        cluster = None
        if address:
            try:
                client = distributed.Client(address, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise InputError(f"--cluster {address}: cannot reach a Dask scheduler ({str(exc).splitlines()[0][:120]})") \
                    from None
        else:
            cluster = distributed.LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                               dashboard_address=None, silence_logs=50)
            client = distributed.Client(cluster)
        # The client logs a lost scheduler (with tracebacks as it gives up reconnecting); run_on_cluster says
        # it in one line instead.
        client_log = logging.getLogger("distributed.client")
        level = client_log.level
        client_log.setLevel(logging.CRITICAL)
        try:
            client.register_plugin(_plugin(distributed))
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
            client_log.setLevel(level)


def run_on_cluster(fn: Callable, items: Iterable, client, desc: str,
                   progress: bool = True) -> Iterator[tuple[Any, Any, str | None]]:
    """Yield ``(item, result, error)`` as items finish on the cluster's workers. A task that was on a
    worker when it died is blamed with it, so items that come back killed are run again one at a
    time, alone on the cluster: only an item that keeps killing workers then comes back with an
    error, the others are unaffected."""
    _, distributed = _distributed()
    items = list(items)
    bar = tqdm(total=len(items), desc=desc, unit="file", disable=not progress or not items)
    futures = {client.submit(_call, fn, item, pure=False): item for item in items}
    watch = _WorkerWatch(client)
    suspects = []
    done = 0
    try:
        for future in watch.completed(futures):
            item = futures[future]
            try:
                result = watch.result(future, len(items) - done)
            except distributed.KilledWorker:
                suspects.append(item)
                continue
            yield result
            done += 1
            bar.update()
        for item in suspects:
            futures = {client.submit(_call, fn, item, pure=False): item}
            try:
                result = watch.result(next(watch.completed(futures)), len(items) - done)
            except distributed.KilledWorker:
                result = item, None, f"{_name(item)}: the worker processing it died {ALLOWED_FAILURES} times, alone"
            yield result
            done += 1
            bar.update()
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        bar.close()


class _WorkerWatch:
    """Yields futures as they finish, checking every POLL_S for Ctrl-C and for a cluster left with
    no workers: a local one is an error after LOCAL_NO_WORKER_S, a remote one gets one notice."""

    def __init__(self, client):
        self.client = client
        self.local = getattr(client, "cluster", None) is not None
        self.address = client.scheduler.address
        self.none_since: float | None = None
        self.told = False

    def completed(self, futures: Iterable) -> Iterator[Any]:
        _, distributed = _distributed()
        ready = distributed.as_completed(futures)
        checked = time.monotonic()
        while not ready.is_empty():
            if ready.has_ready():
                self.none_since = None
                yield next(ready)
                continue
            time.sleep(0.05)
            interrupt.check()
            if time.monotonic() - checked >= POLL_S:
                self._check_workers(ready.count())
                checked = time.monotonic()

    def result(self, future, waiting: int) -> Any:
        """The future's result; a task cancelled under us or a result that cannot be fetched is an
        error naming the cause: the scheduler gone (Dask cancels every future of a client that loses
        it) or the work cancelled on the scheduler by someone else."""
        try:
            return future.result()
        except (CancelledError, OSError) as exc:
            reason = getattr(exc, "reason", "")
            if reason and reason != "scheduler-connection-lost" and self.client.status == "running":
                what = f"the Dask scheduler at {self.address} cancelled the work ({reason})"
            else:
                what = f"lost the connection to the Dask scheduler at {self.address} (it stopped, or the network to it failed)"
            raise InputError(f"{what}; {waiting} file(s) not done") from None

    def _check_workers(self, waiting: int) -> None:
        if self.client.status != "running":  # the scheduler is gone: its cancelled futures say so next
            self.none_since = None
            return
        try:
            workers = self.client.scheduler_info(n_workers=1)["workers"]  # one is enough to know; cheap on a big cluster
        except OSError:  # it went away just now: the same
            return
        if workers:
            self.none_since = None
            return
        now = time.monotonic()
        self.none_since = self.none_since or now
        idle = now - self.none_since
        if self.local and idle >= LOCAL_NO_WORKER_S:
            raise InputError(f"the local Dask cluster has no worker left (every worker process died and none came back "
                             f"within {LOCAL_NO_WORKER_S:g} s); {waiting} file(s) not done")
        if not self.local and not self.told and idle >= REMOTE_NO_WORKER_NOTICE_S:
            self.told = True
            tqdm.write(f"waiting: the Dask scheduler at {self.address} has no workers; start some "
                       "(dask worker ADDRESS) or stop with Ctrl-C", file=sys.stderr)


def _name(item: Any) -> str:
    return str(item[1] if isinstance(item, tuple) and len(item) == 2 else item)
