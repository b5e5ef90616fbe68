"""An engine = model metadata + a runtime session: model input batch -> per-frame probabilities."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..registry import InputSpec


@dataclass(frozen=True)
class ModelInfo:
    name: str
    charset: tuple[str, ...]  # index 0 is the CTC blank ("")
    input: InputSpec
    time_major: bool  # output is T x N x C (OMZ) instead of N x T x C
    source: str  # where the weights came from (path)
    #: the output's time axis can be a flattened grid of ``frame_rows`` rows x (T / frame_rows) columns
    #: (the OMZ models flatten a 3 x 62 feature map): frame t lies at column t % (T / frame_rows)
    frame_rows: int = 1
    #: the classifier head was cut to ``charset`` (a language restriction applied inside the model)
    pruned: bool = False


class Engine:
    """Runs batches of preprocessed windows and returns probabilities N x T x C."""

    def __init__(self, info: ModelInfo, session: Callable[[np.ndarray], np.ndarray], device: str = "CPU",
                 precision: str = "f32") -> None:
        self.info = info
        self.session = session
        self.device = device
        #: the precision inference runs in (f32, bf16, INT8+bf16, ...): what ``auto`` chose
        self.precision = precision

    @property
    def name(self) -> str:
        return self.info.name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.postprocess(self.session(batch))

    def postprocess(self, out: np.ndarray) -> np.ndarray:
        """Raw model output -> N x T x C probabilities."""
        if out.ndim != 3:
            raise ValueError(f"{self.info.name}: expected a 3-D output, got shape {out.shape}")
        if self.info.time_major:
            out = out.transpose(1, 0, 2)
        return to_probabilities(np.ascontiguousarray(out, dtype=np.float32), self.info.name)


def to_probabilities(out: np.ndarray, name: str = "the model") -> np.ndarray:
    """Softmax over classes unless the rows already are probability distributions. An output that is not
    a number (a broken custom model: NaN or infinite) is a one-line ModelError: its NaN confidences made
    JSON output that no JSON reader takes."""
    # rows that sum to 1 are a softmax's (logits or log-probabilities do not, row after row); one pass
    # over the output instead of three (min, max, sum: 11 of 22 ms a batch of 2 000 frames), and false
    # for any NaN or infinity, which the softmax path below refuses
    if np.allclose(out.sum(axis=-1), 1.0, atol=1e-2):
        return out
    m = out.max(axis=-1, keepdims=True)
    if not np.isfinite(m).all():  # (a row's max is NaN if it holds one, infinite if its largest is)
        from ..errors import ModelError

        raise ModelError(f"{name}: its output is not a number (NaN or infinite) for this input")
    e = np.exp(out - m)
    return e / e.sum(axis=-1, keepdims=True)
