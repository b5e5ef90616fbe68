"""Build an Engine from a name: ``ppocr`` (embedded), ``omz`` (downloaded) or a model path."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from ..charsets import read_charlist
from ..errors import ModelError
from ..registry import MODELS, OMZ_BY_LANG, PPOCR_PRECISIONS, PPOCR_REC, PPOCR_REC_INT8, PRECISIONS, InputSpec
from ..store import Store, packaged_path
from .base import Engine, ModelInfo
from .modelcard import MODEL_SUFFIXES, ModelCard, apply_input, card_file, check_input, load_card
from .precision import canonical, choose, ran
from .prune import prune_head
from .runtime import OVSession, ov_core, read_model

ENGINES = ("ppocr", "omz", "ppocr-v5")

#: input spec assumed for a custom model whose input shape does not say otherwise
CUSTOM_DEFAULT = InputSpec(height=96, channels=1, fixed_width=None, pad="edge", interpolation="area", max_width=4096)
#: input spec assumed for a model carrying PaddleOCR's metadata (its ``character`` list): PaddleOCR's
#: recogniser preprocessing, as for the embedded ppocr engine
PADDLE_DEFAULT = replace(PPOCR_REC.input or CUSTOM_DEFAULT, height=48, channels=3)


def load_engine(engine: str = "ppocr", lang: str = "zh", device: str = "CPU", *, store: Store | None = None,
                precision: str | None = None, charlist: str | Path | None = None, hint: str = "LATENCY",
                keep: Callable[[str], bool] | None = None, input_spec: Mapping[str, Any] | None = None) -> Engine:
    """``engine``: ppocr, omz, a model file (.xml / .onnx, with an optional ``<file>.hwocr.json``
    sidecar card), a model folder with ``hwocr-model.json``, or a card file (see ``modelcard``).
    ``input_spec``: InputSpec fields overriding a custom model's own (card, metadata, defaults), or a
    built-in model's registry preprocessing (all but its input size).
    ``keep``: restrict the output to the characters it accepts (blank and space always kept). The
    classifier head is cut to them when the graph allows (``info.pruned``); otherwise the caller
    must mask the probabilities itself. ``precision``: ppocr auto (default: bf16 on CPUs with AMX-BF16 or AVX512-BF16,
    f32 elsewhere), f32 (or FP32), bf16 or INT8; omz FP16 (default), FP32 or FP16-INT8 (weights; f32
    compute)."""
    if engine == "ppocr":
        # $HWOCR_PRECISION: the default for a caller that names none (the test suite pins f32 with it)
        precision = precision or os.environ.get("HWOCR_PRECISION") or None
        return _with_input(_ppocr(device, charlist, hint, keep, canonical(precision, PPOCR_PRECISIONS)), input_spec)
    if engine == "ppocr-v5":  # the optional second model (engines/v5.py): PP-OCRv5 mobile
        from .v5 import load_v5

        return _with_input(load_v5(device, precision, hint, keep, store), input_spec)
    if engine == "omz":
        return _with_input(_omz(lang, device, store or Store.from_env(), precision or "FP16", charlist, hint, keep),
                           input_spec)
    card = find_card(engine)
    p = card.model_path if card else Path(engine)
    if card or p.suffix.lower() in MODEL_SUFFIXES or p.is_file():
        return _custom(p, device, charlist, hint, keep, card, input_spec)
    raise ModelError(f"unknown engine {engine!r}: use ppocr, omz, a model folder with hwocr-model.json, "
                     f"or a path to an OpenVINO .xml / ONNX model")


def _with_input(eng: Engine, input_spec: Mapping[str, Any] | None) -> Engine:
    """A built-in engine with ``input_spec``'s fields over its registry preprocessing (not its input
    size: the graph decides that)."""
    if input_spec:
        fixed = {"height", "channels", "fixed_width"} & set(input_spec)
        if fixed:
            raise ModelError(f"--input-spec: {', '.join(sorted(fixed))} of a built-in model is its graph's own")
        eng.info = replace(eng.info, input=apply_input(eng.info.input, input_spec))
    return eng


def find_card(engine: str) -> ModelCard | None:
    """The model card an ``--engine`` value names (a folder, a card, a model file with a sidecar), if any."""
    if engine in ENGINES:
        return None
    p = Path(engine)
    if p.is_dir() and card_file(p) is None:
        raise ModelError(f"{p}: not a model folder (no hwocr-model.json in it)")
    if p.is_dir() or p.name.endswith(".json") or card_file(p) is not None:
        return load_card(p)
    return None


def engine_defaults(engine: str) -> tuple[str, bool]:
    """(default decoder, restrict to the language by default) for an ``--engine`` value: beam and
    restricted for ppocr; for a carded model, its decoder (else greedy) and restricted when its
    charlist is multilingual; greedy and unrestricted otherwise (the OMZ reference)."""
    if engine in ("ppocr", "ppocr-v5"):
        return "beam", True
    card = find_card(engine) if engine != "omz" else None
    if card is None:
        return "greedy", False
    return card.decoder or "greedy", card.lang == "multi"


def _ppocr(device: str, charlist: str | Path | None, hint: str, keep, precision: str = "auto") -> Engine:
    spec = PPOCR_REC_INT8 if precision == "INT8" else PPOCR_REC
    path = packaged_path(spec)
    model = read_model(path)
    if charlist:
        chars = read_charlist(charlist)
    else:
        meta = _rt_info(model, "framework", "character")
        if not meta:
            raise ModelError(f"{path}: no 'character' list in the model metadata")
        chars = meta.split("\n")
    # PaddleOCR CTC head: blank, the dictionary, then a space class
    charset: tuple[str, ...] = ("", *chars, " ")
    _check_model_classes(model, len(charset), path)
    charset, pruned = _restrict(model, charset, keep)
    choice = choose(precision, device, ov_core())
    sess = OVSession(path, device, hint, precision=choice.hint, model=model)
    info = ModelInfo(spec.name, charset, spec.input, time_major=False, source=str(path), pruned=pruned)
    return Engine(info, sess, device, ran(choice.label, sess))


def _rt_info(model, *key: str) -> str | None:
    try:
        return model.get_rt_info(list(key)).astype(str)
    except Exception:  # noqa: BLE001 - missing key
        return None


def _check_model_classes(model, n: int, src) -> None:
    last = model.outputs[0].get_partial_shape()
    dim = last[last.rank.get_length() - 1]
    if dim.is_static and dim.get_length() != n:
        raise ModelError(f"{src}: charlist does not fit the model ({n - 1} symbols + blank = "
                         f"{n} classes, the model outputs {dim.get_length()})")


def _restrict(model, charset: tuple[str, ...], keep) -> tuple[tuple[str, ...], bool]:
    """Cut the model's head to the characters ``keep`` accepts; the new charset and whether it worked."""
    if keep is None:
        return charset, False
    idx = np.flatnonzero([i == 0 or c.isspace() or keep(c) for i, c in enumerate(charset)])
    if len(idx) == len(charset) or not prune_head(model, idx):
        return charset, False
    return tuple(charset[i] for i in idx), True


def _omz(lang: str, device: str, store: Store, precision: str, charlist: str | Path | None, hint: str,
         keep) -> Engine:
    if lang not in OMZ_BY_LANG:
        raise ModelError(f"the omz engine has no model for language {lang!r} (zh or ja)")
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r} (one of {', '.join(PRECISIONS)})")
    spec = MODELS[OMZ_BY_LANG[lang]]
    xml, bin_ = spec.files[precision]
    store.ensure(bin_)
    xml_path = store.ensure(xml)
    assert spec.charlist is not None and spec.input is not None
    cl = Path(charlist) if charlist else store.ensure(spec.charlist)
    model = read_model(xml_path)
    charset: tuple[str, ...] = ("", *read_charlist(cl))
    _check_model_classes(model, len(charset), cl)
    rows = frame_rows(model)
    charset, pruned = _restrict(model, charset, keep)
    sess = OVSession(xml_path, device, hint, model=model)
    info = ModelInfo(spec.name, charset, spec.input, time_major=True, source=str(xml_path), frame_rows=rows,
                     pruned=pruned)
    return Engine(info, sess, device)


def _custom(path: Path, device: str, charlist: str | Path | None, hint: str, keep, card: ModelCard | None = None,
            overrides: Mapping[str, Any] | None = None) -> Engine:
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    model = read_model(path)
    if len(model.inputs) != 1 or len(model.outputs) < 1:
        raise ModelError(f"{path}: expected one input and one output, got "
                         f"{len(model.inputs)} inputs and {len(model.outputs)} outputs")
    paddle = _rt_info(model, "framework", "character") or _rt_info(model, "model_info", "character")
    cl = charlist or (card.charlist_path if card else None)
    if cl:
        chars = read_charlist(cl)
    elif paddle:
        chars = paddle.split("\n")
    else:
        raise ModelError(f"{path}: the model carries no charlist; pass one with --charlist or a model card")
    spec = _custom_input(model, path, PADDLE_DEFAULT if paddle else CUSTOM_DEFAULT, card, overrides)
    out = model.outputs[0].get_partial_shape()
    if out.rank.is_dynamic or out.rank.get_length() != 3:
        raise ModelError(f"{path}: expected a 3-D CTC output (frames x batch x classes), got {out}")
    # time-major (T x N x C) when the batch axis is the second and static 1, as in the OMZ models
    time_major = out[1].is_static and out[1].get_length() == 1 and not (out[0].is_static and out[0].get_length() == 1)
    n = len(chars) + 1
    charset: tuple[str, ...] = ("", *chars)
    if out[2].is_static and out[2].get_length() == n + 1:
        charset = (*charset, " ")  # PaddleOCR-style trailing space class
    _check_model_classes(model, len(charset), Path(cl) if cl else path)
    # PaddleOCR heads pool the height away (their attention necks reshape 4-D maps to 3-D on the way)
    rows = 1 if paddle else frame_rows(model)
    charset, pruned = _restrict(model, charset, keep)
    sess = OVSession(path, device, hint, model=model)
    info = ModelInfo(card.name if card else path.stem, charset, spec, time_major=time_major, source=str(path),
                     frame_rows=rows, pruned=pruned)
    return Engine(info, sess, device)


#: rt_info keys (OpenVINO IR) / ONNX metadata_props under which a model may carry its InputSpec
#: fields as a JSON object
INPUT_META_KEYS = (("framework", "hwocr_input"), ("hwocr", "input"), ("model_info", "hwocr_input"))


def _custom_input(model, path: Path, base: InputSpec, card: ModelCard | None,
                  overrides: Mapping[str, Any] | None) -> InputSpec:
    """A custom model's InputSpec, each layer overriding the one before: ``base`` defaults, the
    static input shape, InputSpec fields in the model's metadata, the card, the caller's overrides."""
    shape = model.inputs[0].get_partial_shape()
    if shape.rank.is_dynamic or shape.rank.get_length() != 4:
        raise ModelError(f"{path}: expected a 4-D N x C x H x W input, got {shape}")
    c, h, w = (shape[i] for i in (1, 2, 3))
    spec = replace(base, channels=c.get_length() if c.is_static else base.channels,
                   height=h.get_length() if h.is_static else base.height,
                   fixed_width=w.get_length() if w.is_static else None)
    for key in INPUT_META_KEYS:
        meta = _rt_info(model, *key)
        if meta:
            try:
                fields_ = json.loads(meta)
            except json.JSONDecodeError:
                raise ModelError(f"{path}: metadata {'/'.join(key)} is not JSON") from None
            spec = apply_input(spec, check_input(fields_, f"{path} metadata {'/'.join(key)}"))
            break
    if card:
        spec = card.input_spec(spec)
    if overrides:
        spec = apply_input(spec, overrides)
    if c.is_static and spec.channels != c.get_length() or h.is_static and spec.height != h.get_length():
        raise ModelError(f"{path}: the model's input is {c} x {h} (channels x height), the input spec says "
                         f"{spec.channels} x {spec.height}")
    return spec


def frame_rows(model) -> int:
    """Rows of the feature map flattened into the output's time axis: the height of the rank-4
    input of the last Reshape that makes the rank-3 sequence (1 for a plain left-to-right sequence)."""
    rows = 1
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Reshape" or op.get_output_partial_shape(0).rank.get_length() != 3:
            continue
        src = op.input_value(0).get_partial_shape()
        if src.rank.is_static and src.rank.get_length() == 4 and src[2].is_static:
            rows = max(1, src[2].get_length())
    return rows
