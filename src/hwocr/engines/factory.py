"""Build an Engine from a name: ``ppocr`` (embedded), ``omz`` (downloaded) or a model path."""

from __future__ import annotations

from pathlib import Path

from ..charsets import read_charlist
from ..errors import ModelError
from ..registry import MODELS, OMZ_BY_LANG, PPOCR_REC, PRECISIONS, InputSpec
from ..store import Store, packaged_path
from .base import Engine, ModelInfo
from .runtime import OVSession

ENGINES = ("ppocr", "omz")

#: input spec assumed for a custom model whose input shape does not say otherwise
CUSTOM_DEFAULT = InputSpec(height=96, channels=1, fixed_width=None, pad="edge", interpolation="area", max_width=4096)


def load_engine(engine: str = "ppocr", lang: str = "zh", device: str = "CPU", *, store: Store | None = None,
                precision: str = "FP16", charlist: str | Path | None = None, hint: str = "LATENCY") -> Engine:
    if engine == "ppocr":
        return _ppocr(device, charlist, hint)
    if engine == "omz":
        return _omz(lang, device, store or Store.from_env(), precision, charlist, hint)
    p = Path(engine)
    if p.suffix.lower() in (".xml", ".onnx") or p.exists():
        return _custom(p, device, charlist, hint)
    raise ModelError(f"unknown engine {engine!r}: use ppocr, omz, or a path to an OpenVINO .xml / ONNX model")


def _ppocr(device: str, charlist: str | Path | None, hint: str) -> Engine:
    path = packaged_path(PPOCR_REC)
    sess = OVSession(path, device, hint)
    if charlist:
        chars = read_charlist(charlist)
    else:
        meta = sess.rt_info("framework", "character")
        if not meta:
            raise ModelError(f"{path}: no 'character' list in the model metadata")
        chars = meta.split("\n")
    # PaddleOCR CTC head: blank, the dictionary, then a space class
    charset = ("", *chars, " ")
    info = ModelInfo(PPOCR_REC.name, charset, PPOCR_REC.input, time_major=False, source=str(path))
    _check_classes(info, sess)
    return Engine(info, sess, device)


def _omz(lang: str, device: str, store: Store, precision: str, charlist: str | Path | None, hint: str) -> Engine:
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
    sess = OVSession(xml_path, device, hint)
    info = ModelInfo(spec.name, ("", *read_charlist(cl)), spec.input, time_major=True, source=str(xml_path),
                     frame_rows=frame_rows(sess))
    _check_classes(info, sess, cl)
    return Engine(info, sess, device)


def _custom(path: Path, device: str, charlist: str | Path | None, hint: str) -> Engine:
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    sess = OVSession(path, device, hint)
    if charlist:
        chars = read_charlist(charlist)
    else:
        meta = sess.rt_info("framework", "character") or sess.rt_info("model_info", "character")
        if not meta:
            raise ModelError(f"{path}: the model carries no charlist; pass one with --charlist")
        chars = meta.split("\n")
    shape = sess.input_shape
    if shape.rank.is_dynamic or shape.rank.get_length() != 4:
        raise ModelError(f"{path}: expected a 4-D N x C x H x W input, got {shape}")
    c, h, w = (shape[i] for i in (1, 2, 3))
    spec = CUSTOM_DEFAULT
    from dataclasses import replace

    spec = replace(
        spec,
        channels=c.get_length() if c.is_static else spec.channels,
        height=h.get_length() if h.is_static else spec.height,
        fixed_width=w.get_length() if w.is_static else None,
    )
    out = sess.output_shape
    # time-major (T x N x C) when the batch axis is the second and static 1, as in the OMZ models
    time_major = out.rank.get_length() == 3 and out[1].is_static and out[1].get_length() == 1 and not (
        out[0].is_static and out[0].get_length() == 1)
    n = len(chars) + 1
    charset = ("", *chars)
    last = out[2]
    if last.is_static and last.get_length() == n + 1:
        charset = (*charset, " ")  # PaddleOCR-style trailing space class
    info = ModelInfo(path.stem, charset, spec, time_major=time_major, source=str(path), frame_rows=frame_rows(sess))
    _check_classes(info, sess, Path(charlist) if charlist else None)
    return Engine(info, sess, device)


def frame_rows(sess: OVSession) -> int:
    """Rows of the feature map flattened into the output's time axis: the height of the rank-4
    input of the last Reshape that makes the rank-3 sequence (1 for a plain left-to-right sequence)."""
    rows = 1
    for op in sess.model.get_ordered_ops():
        if op.get_type_name() != "Reshape" or op.get_output_partial_shape(0).rank.get_length() != 3:
            continue
        src = op.input_value(0).get_partial_shape()
        if src.rank.is_static and src.rank.get_length() == 4 and src[2].is_static:
            rows = max(1, src[2].get_length())
    return rows


def _check_classes(info: ModelInfo, sess: OVSession, charlist: Path | None = None) -> None:
    last = sess.output_shape[sess.output_shape.rank.get_length() - 1]
    if last.is_static and last.get_length() != len(info.charset):
        src = charlist or sess.path
        raise ModelError(
            f"{src}: charlist does not fit the model ({len(info.charset) - 1} symbols + blank = "
            f"{len(info.charset)} classes, the model outputs {last.get_length()})"
        )
