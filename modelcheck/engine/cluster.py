"""A Dask cluster to run on: one started on this machine, or one already running that we join.

Dask is imported only when a cluster is asked for, so no other command pays
for loading it. What can go wrong in reaching a cluster (no such scheduler, an
address that is not one, Dask not installed) is a ``ClusterUnavailable`` whose
text is one line, for the command line to print as a usage error.
"""

from __future__ import annotations

import gc
import logging
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

from modelcheck.engine.errors import ClusterUnavailable

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler before saying it cannot be reached


def _lean_workers(environ: dict[str, Any]) -> dict[str, Any]:
    """Dask settings for the workers of a cluster we start: no statistical profiler (it samples every thread's
    stack every 10 ms) and glibc's own threshold for giving memory back (Dask's MALLOC_TRIM_THRESHOLD_ of
    64 KiB makes every numpy batch give memory back and fault it in again). Together they cost a one-shard
    search a third more time than one process (docs/distributed.md)."""
    return {"distributed.worker.profile.enabled": False,
            "distributed.nanny.pre-spawn-environ": {k: v for k, v in environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}}


@contextmanager
def cluster_client(workers: int | None = None, scheduler: str | None = None,
                   timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """A ``distributed.Client``: on a new LocalCluster of ``workers`` processes (one thread each, so that one
    task or actor is one processor's work), or connected to the scheduler at ``scheduler``. Exactly one of the
    two is given. The client is closed on leaving, and a cluster it started is shut down with it."""
    if (workers is None) == (scheduler is None):
        raise ValueError("cluster_client needs either a number of workers or a scheduler's address")
    if workers is not None and workers < 1:
        raise ValueError(f"a local cluster needs at least one worker, not {workers}")
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterUnavailable("Dask is not installed: pip install 'modelcheck[distributed]'") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, ValueError, TypeError, TimeoutError) as err:
            reason = " ".join(str(err).split()) or type(err).__name__
        else:
            try:
                yield client
            finally:
                client.close()
            return
        # The half-made Client lies in reference cycles. Collected now, its __del__ (a close, which takes its
        # event loop's lock) runs here; left to the collector, it may run inside the next Client's start,
        # which holds that lock, and hang the process.
        gc.collect()
        raise ClusterUnavailable(f"cannot reach the Dask scheduler at {scheduler!r}: {reason}")
    try:
        with dask.config.set(_lean_workers(dask.config.get("distributed.nanny.pre-spawn-environ", {}))), \
                warnings.catch_warnings():
            # with no dashboard the scheduler still serves HTTP (health), on another port when 8787 is taken
            warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=logging.CRITICAL)
    except (OSError, RuntimeError) as err:
        raise ClusterUnavailable(f"cannot start a local Dask cluster of {workers} workers: {err}") from None
    try:
        client = Client(cluster, timeout=timeout)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()
