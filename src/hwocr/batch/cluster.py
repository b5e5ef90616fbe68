"""The Dask distributed runner: a local cluster bound to 127.0.0.1 (scheduler, workers and their
HTTP endpoints all on loopback, random ports), or an existing cluster joined with ``--address``.

Each worker loads the models once, in a worker plugin (:class:`ReaderPlugin`, also set up on workers
that join or restart later); pages are submitted as tasks keyed by their work-item key, at most
``in_flight`` at a time. A worker that dies has its pages run again elsewhere by the scheduler; a page
on which workers died ``distributed.scheduler.allowed-failures`` + 1 times is recorded as failed."""

from __future__ import annotations

import logging
import uuid
from typing import Any, Iterable, Iterator

from distributed import Client, LocalCluster, WorkerPlugin, as_completed, get_worker
from distributed.scheduler import KilledWorker

from ..errors import HwocrError
from .inputs import WorkItem
from .settings import Settings
from .work import PageReader, failure

LOOPBACK = "127.0.0.1"


class ReaderPlugin(WorkerPlugin):
    """Loads a worker's models once, when the worker starts (or when the plugin is registered)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader: PageReader | None = None

    def setup(self, worker) -> None:
        self.reader = PageReader.load(self.settings)

    def teardown(self, worker) -> None:
        self.reader = None


def read_on_worker(item: WorkItem, plugin: str) -> dict[str, Any]:
    reader = get_worker().plugins[plugin].reader
    return reader.read(item)


def start_local_cluster(workers: int) -> LocalCluster:
    """``workers`` single-threaded worker processes (OpenVINO brings its own threads), loopback only,
    without the workers' statistical profiler (it samples every thread each 10 ms)."""
    import dask

    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host=LOOPBACK,
                            dashboard_address=f"{LOOPBACK}:0", worker_dashboard_address=None,
                            silence_logs=logging.CRITICAL)


def check_address(address: str) -> None:
    """Refuse an address that a Client cannot connect to whatever the network: given one, the Client
    raises in its own thread and hangs 40 s on the way out. As the Client parses it: a known scheme,
    an IP transport (not inproc://, which is within one process), a port; tls:// needs TLS settings."""
    import dask
    from distributed.comm.addressing import get_address_host_port, parse_address
    from distributed.security import Security

    try:
        port = get_address_host_port(address)[1]
        if not 0 < port < 65536:
            raise ValueError(f"port {port} out of range")
        if (parse_address(address)[0] == "tls" and not dask.config.get("distributed.client.security-loader", None)
                and Security().get_connection_args("client").get("ssl_context") is None):
            raise ValueError("tls:// needs the Dask TLS settings, distributed.comm.tls")
    except (ValueError, TypeError) as e:
        raise HwocrError(f"--address {address[:100]!r}: not a Dask scheduler address "
                         f"({str(e).splitlines()[0][:100]})") from None


class DaskRunner:
    def __init__(self, settings: Settings, workers: int, address: str | None = None,
                 in_flight: int | None = None) -> None:
        self.cluster = None
        if address:
            check_address(address)
        try:
            if address:
                self.client = Client(address, timeout="20s", set_as_default=False)
            else:
                self.cluster = start_local_cluster(max(1, workers))
                self.client = Client(self.cluster, set_as_default=False)
        except (OSError, TimeoutError) as e:
            self.close()
            raise HwocrError(f"cannot reach the Dask cluster at {address or 'localhost'} "
                             f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
        self.plugin = f"hwocr-reader-{settings.key()}-{uuid.uuid4().hex[:8]}"
        try:
            self.client.register_plugin(ReaderPlugin(settings), name=self.plugin)
        except HwocrError:
            self.close()
            raise
        nthreads = self.client.nthreads()
        self.workers = len(nthreads)
        if not self.workers:
            self.close()
            raise HwocrError(f"the Dask cluster at {address} has no workers")
        self.window = max(1, in_flight or 2 * sum(nthreads.values()))
        where = f"Dask cluster at {address}" if address else f"local Dask cluster on {LOOPBACK}"
        self.description = f"{where}, {self.workers} worker{'s' if self.workers > 1 else ''}"

    def imap(self, items: Iterable[WorkItem]) -> Iterator[dict[str, Any]]:
        it = iter(items)
        pending: dict[str, WorkItem] = {}
        ac = as_completed(loop=self.client.loop)

        def submit() -> bool:
            item = next(it, None)
            if item is None:
                return False
            key = f"hwocr-page-{item.key}"
            pending[key] = item
            ac.add(self.client.submit(read_on_worker, item, self.plugin, key=key, pure=False))
            return True

        for _ in range(self.window):
            if not submit():
                break
        for fut in ac:
            item = pending.pop(fut.key, None)
            if item is not None:  # (the same page twice in the input gives one task: it is done once)
                yield self._record(fut, item)
            fut.release()
            submit()

    @staticmethod
    def _record(fut, item: WorkItem) -> dict[str, Any]:
        """The page's record; a page on which workers kept dying is recorded as failed, but a failure of
        the cluster itself stops the job (so that the rerun reads those pages, instead of skipping them)."""
        if fut.status == "finished":
            return fut.result()
        exc = fut.exception() if fut.status == "error" else None
        if isinstance(exc, KilledWorker):
            return failure(item, f"{item.path}: the workers reading page {item.page + 1} kept dying")
        if isinstance(exc, HwocrError):  # the worker could not load its models
            raise exc
        why = f"{type(exc).__name__}: {exc}" if exc is not None else f"task {fut.status}"
        raise HwocrError(f"the Dask cluster failed while reading {item.path} page {item.page + 1} "
                         f"({why.splitlines()[0][:200]}); rerun to resume")

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            try:
                if getattr(self, "plugin", None) and self.cluster is None:
                    client.unregister_worker_plugin(self.plugin)  # frees the models on a shared cluster
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
            client.close()
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
