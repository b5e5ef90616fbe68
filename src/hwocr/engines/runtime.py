"""One small inference-session interface over OpenVINO (which reads IR and ONNX)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..errors import ModelError


def available_devices() -> list[str]:
    import openvino as ov

    return list(ov.Core().available_devices)


class OVSession:
    """A compiled model with one infer request per calling thread (safe to share across threads)."""

    def __init__(self, model_path: str | Path, device: str = "CPU", hint: str = "LATENCY",
                 precision: str = "f32") -> None:
        import openvino as ov

        self.path = Path(model_path)
        core = ov.Core()
        try:
            self.model = core.read_model(str(self.path))
        except Exception as e:  # noqa: BLE001 - OpenVINO raises RuntimeError with long text
            raise ModelError(f"{self.path}: cannot read model ({_first_line(e)})") from None
        if len(self.model.inputs) != 1 or len(self.model.outputs) < 1:
            raise ModelError(f"{self.path}: expected one input and one output, got "
                             f"{len(self.model.inputs)} inputs and {len(self.model.outputs)} outputs")
        self.input_name = self.model.inputs[0].get_any_name()
        self.input_shape = self.model.inputs[0].get_partial_shape()
        self.output_shape = self.model.outputs[0].get_partial_shape()
        config: dict[str, str] = {"PERFORMANCE_HINT": hint}
        if device.startswith("CPU") and precision:
            # CPUs with bf16 units otherwise run in bf16 by default, which changes the text we read;
            # f32 gives the same results on every x86 machine
            config["INFERENCE_PRECISION_HINT"] = precision
        try:
            self.compiled = core.compile_model(self.model, device, config)
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"{self.path}: cannot compile for device {device!r} ({_first_line(e)})") from None
        self.device = device
        self._local = threading.local()

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


def _first_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    # OpenVINO puts the useful part last, after source locations
    for ln in reversed(lines):
        if not ln.startswith(("Check ", "Exception from", "[")) and len(ln) > 3:
            return ln[:200]
    return (lines[-1] if lines else type(e).__name__)[:200]
