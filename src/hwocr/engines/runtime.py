"""One small inference-session interface over OpenVINO (which reads IR and ONNX)."""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..errors import ModelError
from ..ovruntime import openvino  # OpenVINO with its telemetry off


def ov_core():
    ov = openvino()

    return ov.Core()


def available_devices() -> list[str]:
    return list(ov_core().available_devices)


def read_model(path: str | Path):
    """Read an OpenVINO IR (.xml) or ONNX model; a one-line ModelError if it cannot be read."""
    ov = openvino()

    try:
        with _quiet_stderr():  # a file no front end takes is offered to each, and some log to fd 2
            return ov.Core().read_model(str(path))
    except Exception as e:  # noqa: BLE001 - OpenVINO raises RuntimeError with long text
        raise ModelError(f"{path}: cannot read model ({_first_line(e)})") from None


@contextlib.contextmanager
def _quiet_stderr():
    """File descriptor 2 pointed at /dev/null for the block (native libraries write there directly)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to quieten
        yield
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


class OVSession:
    """A compiled model with one infer request per calling thread (safe to share across threads)."""

    def __init__(self, model_path: str | Path, device: str = "CPU", hint: str = "LATENCY",
                 precision: str | None = "f32", model=None) -> None:
        ov = openvino()

        self.path = Path(model_path)
        core = ov.Core()
        self.model = model if model is not None else read_model(self.path)
        if len(self.model.inputs) != 1 or len(self.model.outputs) < 1:
            raise ModelError(f"{self.path}: expected one input and one output, got "
                             f"{len(self.model.inputs)} inputs and {len(self.model.outputs)} outputs")
        self.input_name = self.model.inputs[0].get_any_name()
        self.input_shape = self.model.inputs[0].get_partial_shape()
        self.output_shape = self.model.outputs[0].get_partial_shape()
        config: dict[str, str] = {"PERFORMANCE_HINT": hint}
        if device.startswith("CPU") and precision:
            # CPUs with bf16 units otherwise run in bf16 by default: the caller decides
            # (engines/precision.py); f32 gives the same results on every x86 machine
            config["INFERENCE_PRECISION_HINT"] = precision
        try:
            self.compiled = core.compile_model(self.model, device, config)
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"{self.path}: cannot compile for device {device!r} ({_first_line(e)})") from None
        self.device = device
        self.hint = hint
        self._core = core
        self._config = config
        self._local = threading.local()
        self._lock = threading.Lock()
        self._throughput: OVSession | None = self if hint == "THROUGHPUT" else None
        self._queue = None  # the AsyncInferQueue of infer_async, made on first use
        self._queue_lock = threading.Lock()

    def rt_info(self, *path: str) -> str | None:
        try:
            return self.model.get_rt_info(list(path)).astype(str)
        except Exception:  # noqa: BLE001 - missing key
            return None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        req = getattr(self._local, "req", None)
        if req is None:
            req = self.compiled.create_infer_request()
            self._local.req = req
        res = req.infer({0: x})
        return np.array(res[self.compiled.outputs[0]], copy=True)

    # -- many inputs at once -------------------------------------------------------------------
    @property
    def parallelism(self) -> int:
        """How many inferences the THROUGHPUT-compiled model runs at once (its CPU streams)."""
        try:
            return max(1, int(self.throughput().compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        except Exception:  # noqa: BLE001 - a plugin without the property
            return 1

    def throughput(self) -> OVSession:
        """The same model compiled with the THROUGHPUT hint (several streams, one request each), compiled
        on first use and shared. Same precision as this session: on the CPU plugin the outputs are
        bit-identical to the LATENCY compile (one stream per core only changes the threading)."""
        if self._throughput is None:
            with self._lock:
                if self._throughput is None:
                    twin = object.__new__(OVSession)
                    twin.__dict__.update(self.__dict__)
                    twin.hint = "THROUGHPUT"
                    twin._config = {**self._config, "PERFORMANCE_HINT": "THROUGHPUT"}
                    try:
                        twin.compiled = self._core.compile_model(self.model, self.device, twin._config)
                    except Exception as e:  # noqa: BLE001
                        raise ModelError(f"{self.path}: cannot compile for device {self.device!r} "
                                         f"({_first_line(e)})") from None
                    twin._local = threading.local()
                    twin._lock = threading.Lock()
                    twin._queue, twin._queue_lock = None, threading.Lock()
                    twin._throughput = twin
                    self._throughput = twin
                    # from now on this session runs on the THROUGHPUT compile too (same outputs): one
                    # compiled model in memory instead of two, and concurrent callers use every stream
                    self.compiled = twin.compiled
                    self._local = threading.local()
        return self._throughput

    def infer_async(self, batches: Iterable[np.ndarray], jobs: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Run ``batches`` (any iterable, pulled lazily) on an AsyncInferQueue of the THROUGHPUT
        compile; yields ``(index, output)`` as they complete, not in order. At most ``jobs`` (default:
        the compile's optimal number of requests) run at once; outputs are copies, safe to keep."""
        ov = openvino()

        tp = self.throughput()
        n = max(1, jobs or tp.parallelism)
        done: queue.SimpleQueue = queue.SimpleQueue()
        out_port = tp.compiled.outputs[0]

        def callback(req, k):
            try:
                done.put((k, np.array(req.get_tensor(out_port).data, copy=True)))
            except BaseException as e:  # noqa: BLE001 - hand it to the consumer
                done.put((k, e))

        # one queue (and its requests' buffers) reused across calls; a concurrent call gets its own
        cached = tp._queue is not None and len(tp._queue) == n and tp._queue_lock.acquire(blocking=False)
        q = tp._queue if cached else ov.AsyncInferQueue(tp.compiled, n)
        if not cached and tp._queue is None and tp._queue_lock.acquire(blocking=False):
            tp._queue, cached = q, True
        q.set_callback(callback)
        submitted = received = 0
        try:
            for k, b in enumerate(batches):
                q.start_async({0: b}, k)  # blocks while all requests are busy
                submitted += 1
                while True:  # hand over what is already finished, keeping memory bounded
                    try:
                        item = done.get_nowait()
                    except queue.Empty:
                        break
                    received += 1
                    yield _checked(item)
            while received < submitted:
                received += 1
                yield _checked(done.get())
        finally:
            q.wait_all()
            if cached:
                tp._queue_lock.release()


def _checked(item: tuple[int, object]) -> tuple[int, np.ndarray]:
    k, v = item
    if isinstance(v, BaseException):
        raise v
    return k, v  # type: ignore[return-value]


def _first_line(e: Exception, limit: int = 200) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    # OpenVINO puts the useful part last, after source locations
    useful = [ln for ln in lines if not ln.startswith(("Check ", "Exception from", "[")) and len(ln) > 3]
    ln = useful[-1] if useful else lines[-1] if lines else type(e).__name__
    if len(ln) <= limit:
        return ln
    return ln[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"  # cut between words, and say so
