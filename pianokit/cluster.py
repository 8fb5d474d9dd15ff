"""Run extract and score on a Dask cluster (the `cluster` extra): the same per-file function as the
local process pool, the same (item, result, error) stream, so the store is checkpointed and resumed
by the caller exactly as in a local run and results are identical.

``--cluster local`` starts a LocalCluster of worker processes on this machine; ``--cluster ADDRESS``
(tcp://host:8786) joins a running scheduler; ``--cluster auto`` uses $DASK_SCHEDULER_ADDRESS when set,
else a local cluster. Workers must see the same file paths as the caller (a shared filesystem).
A worker that dies mid-run has its files rerun on another worker; files that were on workers that
died ``ALLOWED_FAILURES`` times are run again one at a time, and one that still kills workers alone
is reported as failed, like any unreadable file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
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
        try:
            client.register_plugin(_plugin(distributed))
            yield client
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


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
    suspects = []
    try:
        for future in distributed.as_completed(futures):
            interrupt.check()
            item = futures[future]
            try:
                result = future.result()
            except distributed.KilledWorker:
                suspects.append(item)
                continue
            yield result
            bar.update()
        for item in suspects:
            futures = {client.submit(_call, fn, item, pure=False): item}
            try:
                yield next(iter(futures)).result()
            except distributed.KilledWorker:
                yield item, None, f"{_name(item)}: the worker processing it died {ALLOWED_FAILURES} times, alone"
            bar.update()
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        bar.close()


def _name(item: Any) -> str:
    return str(item[1] if isinstance(item, tuple) and len(item) == 2 else item)
