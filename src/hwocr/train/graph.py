"""Run an ONNX recogniser graph as a PyTorch module, and write trained weights back into the ONNX.

The shipped PP-OCRv6 recogniser (opset 11, about 25 operator types) is executed node by node with
torch operations; its float initializers become ``nn.Parameter``s named after them, so training
changes exactly the tensors of the original graph. ``write_onnx`` stores them back into a copy of
the original ONNX: the exported model *is* the base graph with new weights (same inputs, outputs,
metadata and charset), which every hwocr engine path already reads and prunes to a language.

BatchNormalization always runs with its stored statistics (fine-tuning on a few hundred samples
must not re-estimate them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnx.utils
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper
from torch import nn

INT64_MAX = 2**62


def _ints(t: torch.Tensor) -> list[int]:
    return [int(v) for v in t.reshape(-1).tolist()]


def _conv(x, w, b=None, *, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1, auto_pad=b"NOTSET",
          kernel_shape=None):
    if auto_pad in (b"SAME_UPPER", b"SAME_LOWER"):
        x = _same_pad(x, list(w.shape[2:]), strides, auto_pad, 0.0)
        pads = (0, 0, 0, 0)
    x = F.pad(x, (pads[1], pads[3], pads[0], pads[2])) if pads[0] != pads[2] or pads[1] != pads[3] else x
    pad = (pads[0], pads[1]) if pads[0] == pads[2] and pads[1] == pads[3] else 0
    return F.conv2d(x, w, b, stride=tuple(strides), padding=pad, dilation=tuple(dilations), groups=group)


def _same_pad(x, kernel, strides, mode, value):
    pads = []
    for size, k, s in zip(x.shape[2:], kernel, strides):
        out = -(-size // s)
        total = max(0, (out - 1) * s + k - size)
        lo = total // 2 if mode == b"SAME_UPPER" else total - total // 2
        pads.append((lo, total - lo))
    (t, b_), (l, r) = pads
    return F.pad(x, (l, r, t, b_), value=value)


def _maxpool(x, *, kernel_shape, strides=(1, 1), pads=(0, 0, 0, 0), auto_pad=b"NOTSET", ceil_mode=0, **_):
    if auto_pad in (b"SAME_UPPER", b"SAME_LOWER"):
        x = _same_pad(x, kernel_shape, strides, auto_pad, float("-inf"))
    else:
        x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]), value=float("-inf"))
    return F.max_pool2d(x, tuple(kernel_shape), tuple(strides), ceil_mode=bool(ceil_mode))


def _avgpool(x, *, kernel_shape, strides, pads=(0, 0, 0, 0), ceil_mode=0, count_include_pad=0, **_):
    if any(pads):
        raise NotImplementedError("padded AveragePool")
    return F.avg_pool2d(x, tuple(kernel_shape), tuple(strides), ceil_mode=bool(ceil_mode))


def _reshape(x, shape):
    dims = _ints(shape)
    dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
    return x.reshape(dims)


def _slice(x, starts, ends, axes=None, steps=None):
    starts, ends = _ints(starts), _ints(ends)
    axes = _ints(axes) if axes is not None else list(range(len(starts)))
    steps = _ints(steps) if steps is not None else [1] * len(starts)
    idx: list[slice] = [slice(None)] * x.dim()
    for s, e, a, st in zip(starts, ends, axes, steps):
        if st != 1:
            raise NotImplementedError("Slice with steps != 1")
        idx[a % x.dim()] = slice(s, min(e, INT64_MAX))
    return x[tuple(idx)]


def _bn(x, scale, bias, mean, var, *, epsilon=1e-5, **_):
    return F.batch_norm(x, mean, var, scale, bias, training=False, eps=epsilon)


def _squeeze(x, *, axes):
    for a in sorted((a % x.dim() for a in axes), reverse=True):
        x = x.squeeze(a)
    return x


def _unsqueeze(x, *, axes):
    for a in sorted(axes):
        x = x.unsqueeze(a)
    return x


def _shape(x):
    return torch.tensor(list(x.shape), dtype=torch.int64)


OPS: dict[str, Callable] = {
    "Identity": lambda x: x,
    "Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
    "Pow": torch.pow, "Sqrt": torch.sqrt, "Erf": torch.erf, "Relu": F.relu, "Sigmoid": torch.sigmoid,
    "MatMul": torch.matmul,
    "HardSigmoid": lambda x, alpha=0.2, beta=0.5: torch.clamp(alpha * x + beta, 0.0, 1.0),
    "Conv": _conv, "MaxPool": _maxpool, "AveragePool": _avgpool, "BatchNormalization": _bn,
    "ReduceMean": lambda x, axes=None, keepdims=1: x.mean(dim=tuple(axes), keepdim=bool(keepdims)),
    "Softmax": lambda x, axis=-1: torch.softmax(x, dim=axis),
    "Transpose": lambda x, perm: x.permute(*perm),
    "Reshape": _reshape, "Slice": _slice, "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Shape": _shape,
    "Concat": lambda *xs, axis: torch.cat(xs, dim=axis),
}

#: BatchNormalization inputs that are statistics, not trainable weights
_BN_STATS = (3, 4)


def _key(name: str) -> str:
    return "w_" + "".join(c if c.isalnum() else "_" for c in name)


class OnnxModule(nn.Module):
    """An ONNX graph run with torch. ``forward(x)`` returns the graph's (first) output.

    ``log_probs=True`` in ``forward`` skips a final Softmax and returns log-softmax instead
    (numerically safer for CTC loss)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__()
        g = model.graph
        self.proto = model
        self.input_name = g.input[0].name
        self.output_name = g.output[0].name
        stats = {n.input[i] for n in g.node if n.op_type == "BatchNormalization" for i in _BN_STATS}
        self.keys: dict[str, str] = {}  # initializer name -> attribute name
        for init in g.initializer:
            arr = numpy_helper.to_array(init)
            t = torch.from_numpy(arr.copy())
            k = _key(init.name)
            self.keys[init.name] = k
            if arr.dtype == np.float32 and arr.size > 1 and init.name not in stats:  # scalars are constants
                self.register_parameter(k, nn.Parameter(t))
            else:
                self.register_buffer(k, t, persistent=False)
        self.nodes = []
        for n in g.node:
            if n.op_type not in OPS:
                raise NotImplementedError(f"ONNX operator {n.op_type} ({n.name})")
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            attrs.pop("momentum", None)
            self.nodes.append((n.op_type, list(n.input), list(n.output), attrs))
        #: index of each parameter's first consumer node (its depth in the graph)
        self.depth: dict[str, int] = {}
        for i, (_, ins, _, _) in enumerate(self.nodes):
            for name in ins:
                if name in self.keys:
                    self.depth.setdefault(self.keys[name], i)

    @classmethod
    def load(cls, path: str | Path) -> "OnnxModule":
        return cls(onnx.load(str(path)))

    def forward(self, x: torch.Tensor, log_probs: bool = False, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Run the graph on ``x``; with ``start`` > 0, ``x`` is the input of node ``start`` (see
        ``cut``) and only the nodes from there on run; with ``stop``, the nodes before ``stop`` run
        and the result is ``cut(stop)``."""
        env: dict[str, torch.Tensor] = {self.nodes[start][1][0] if start else self.input_name: x}
        if stop is not None:
            want = self.cut(stop)
            if want in env:
                return env[want]
        last = len(self.nodes) - 1
        for i, (op, ins, outs, attrs) in enumerate(self.nodes[start:stop], start):
            args = [env[n] if n in env else (getattr(self, self.keys[n]) if n else None) for n in ins]
            if i == last and op == "Softmax" and log_probs:
                env[outs[0]] = torch.log_softmax(args[0], dim=attrs.get("axis", -1))
                continue
            env[outs[0]] = OPS[op](*args, **attrs)
        return env[self.output_name if stop is None else want]

    def cut(self, start: int) -> str:
        """The tensor at which the graph can be cut before node ``start``: its first input, which must
        be the only value the later nodes take from the earlier ones."""
        name = self.nodes[start][1][0]
        made = {o for _, _, outs, _ in self.nodes[start:] for o in outs}
        for _, ins, _, _ in self.nodes[start:]:
            for n in ins:
                if n and n not in made and n not in self.keys and n != name:
                    raise ValueError(f"the graph cannot be cut at node {start}: {n} crosses the cut")
        return name

    def prefix_onnx(self, start: int) -> onnx.ModelProto:
        """The part of the graph before node ``start`` (input -> ``cut(start)``), as an ONNX model."""
        return onnx.utils.Extractor(self.proto).extract_model([self.input_name], [self.cut(start)])

    def named_weights(self) -> dict[str, nn.Parameter]:
        """Initializer name -> its parameter (float weights only)."""
        params = dict(self.named_parameters())
        return {name: params[k] for name, k in self.keys.items() if k in params}

    def write_onnx(self, path: str | Path) -> None:
        """Save the original graph with this module's current weights."""
        model = onnx.ModelProto()
        model.CopyFrom(self.proto)
        weights = self.named_weights()
        for init in model.graph.initializer:
            if init.name in weights:
                arr = weights[init.name].detach().cpu().numpy().astype(np.float32)
                init.CopyFrom(numpy_helper.from_array(arr, init.name))
        onnx.save(model, str(path))
