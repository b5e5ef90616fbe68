#!/usr/bin/env python3
"""Build an INT8 OpenVINO IR of the embedded recogniser PP-OCRv6_rec_small (post-training quantisation).

Calibration data is synthetic: handwriting-like zh and ja lines drawn by ``scripts/make_samples.py``
(stroke data in the git-ignored build/sample-deps) from text of the LM source corpora
(``build/lm-sources/corpus-{zh,ja}.json``, see scripts/LM_SOURCES.md). No evaluation data is used.
Every random choice is seeded, so the same inputs and package versions give the same IR.

Recipe (NNCF post-training quantisation, preset MIXED = symmetric per-channel INT8 weights and
asymmetric per-tensor INT8 activations, fast bias correction, no SmoothQuant): the graph is first
converted with ``ov.convert_model`` (so Gelu / MVN / attention are fused ops, not Erf decompositions
that NNCF would put quantisers into); then only the regular convolutions of the backbone get INT8,
except the three stem convolutions (by far the most sensitive layers, above all for single
characters) and the squeeze-excite 1x1 convs. Depthwise convs, elementwise ops, the SVTR neck
(everything after the backbone's AveragePool) and the CTC head stay f32, so hwocr can still cut the
head's MatMul to one language (engines/prune.py needs a plain constant weight there; the Transpose
that convert_model folds into that MatMul is put back as its own op).

Needs nncf (``pip install nncf==3.4.0``; a venv with --system-site-packages keeps it out of the
project environment), then:

    python scripts/quantize_rec.py                        # -> build/int8/PP-OCRv6_rec_small_int8.xml
    python scripts/quantize_rec.py --out DIR/model.xml --calib 300 --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

DEFAULT_OUT = ROOT / "build" / "int8" / "PP-OCRv6_rec_small_int8.xml"
DEPS = ROOT / "build" / "sample-deps"
CORPORA = ROOT / "build" / "lm-sources"


# --------------------------------------------------------------------------- calibration data

def _snippets(lang: str, has, rng: np.random.Generator, n: int) -> list[str]:
    """``n`` texts of 1..32 characters drawn from the LM corpus of ``lang``, keeping only characters
    the stroke source can draw."""
    corpus = json.loads((CORPORA / f"corpus-{lang}.json").read_text(encoding="utf-8"))
    sources = sorted(corpus)
    out: list[str] = []
    while len(out) < n:
        lines = corpus[sources[rng.integers(len(sources))]]
        text = "".join(ch for ch in lines[rng.integers(len(lines))] if has(ch))
        if not text:
            continue
        # mostly line-length texts, some short words and single characters
        r = rng.random()
        want = int(rng.integers(1, 3)) if r < 0.15 else int(rng.integers(3, 10)) if r < 0.4 else int(rng.integers(10, 33))
        start = int(rng.integers(max(1, len(text) - want + 1)))
        out.append(text[start : start + want])
    return out


def _variant(img, rng: np.random.Generator) -> np.ndarray:
    """Some photometric variety: the rendered RGB line, grey, or binarised black on white."""
    a = np.asarray(img, dtype=np.uint8)
    r = rng.random()
    if r < 0.2:
        g = a.mean(axis=2)
        a = np.repeat(np.where(g < 160, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    elif r < 0.4:
        g = a.mean(axis=2, keepdims=True)
        lo, hi = rng.uniform(0, 60), rng.uniform(170, 255)
        a = np.repeat(np.clip(lo + g / 255 * (hi - lo), 0, 255).astype(np.uint8), 3, axis=2)
    return np.ascontiguousarray(a)


def calibration_lines(n: int, seed: int) -> list[tuple[str, str, np.ndarray]]:
    """``n`` synthetic (lang, text, RGB image) lines, half zh (hanzi-writer-data), half ja (KanjiVG)."""
    import make_samples as ms

    hz = ms.HanziWriterData(DEPS)
    kv = ms.KanjiVG(DEPS)
    kv_chars = {chr(int(Path(p).stem.split("-")[0], 16)) for p in kv.zip.namelist()
                if p.startswith("kanji/") and p.endswith(".svg") and "-" not in Path(p).stem}
    hz_root = hz.root
    rng = np.random.default_rng(seed)
    n_zh = n - n // 2
    texts = [("zh", t) for t in _snippets("zh", lambda c: (hz_root / f"{c}.json").is_file(), rng, n_zh)]
    texts += [("ja", t) for t in _snippets("ja", lambda c: c in kv_chars, rng, n - n_zh)]
    out = []
    for k, (lang, text) in enumerate(texts):
        src = hz if lang == "zh" else kv
        img = ms.render_line(text, src, seed * 100003 + k)
        out.append((lang, text, _variant(img, rng)))
    return out


def model_windows(rgbs) -> list[np.ndarray]:
    """The exact 1 x 3 x 48 x W tensors hwocr feeds PP-OCRv6 for these lines."""
    from hwocr.preprocess import make_windows
    from hwocr.registry import PPOCR_REC

    return [w.tensor[None] for rgb in rgbs for w in make_windows(rgb, PPOCR_REC.input)]


# --------------------------------------------------------------------------- quantisation

#: op types never quantised: only the backbone's regular convolutions get INT8 inputs. Depthwise
#: (Group)Convolution runs slower in INT8 than in f32 on the CPU plugin (a jit kernel instead of
#: brgconv, plus f32 <-> u8 reorders around it), and quantising elementwise ops only adds error.
IGNORED_TYPES = ("Multiply", "Add", "ReduceMean", "HardSigmoid", "GroupConvolution")


def backbone_end(model) -> int:
    ops = model.get_ordered_ops()
    for i, op in enumerate(ops):
        if op.get_type_name() == "AvgPool":
            return i
    raise SystemExit("no AvgPool found: not the expected PP-OCRv6 graph")


def ignored_names(model, skip_se: bool, f32_first: int) -> list[str]:
    """Names of the layers to keep in f32: all after the backbone, the first ``f32_first`` convolutions
    (and every op up to the last of them: the stem, the most sensitive part), and the squeeze-excite
    1x1 convs (1 x 1 spatial, negligible time)."""
    ops = model.get_ordered_ops()
    end = backbone_end(model)
    names = [op.get_friendly_name() for op in ops[end:] if op.get_type_name() not in ("Constant", "Result")]
    convs = [i for i, op in enumerate(ops) if op.get_type_name() == "Convolution"]
    if f32_first > 0:
        names += [op.get_friendly_name() for op in ops[: convs[f32_first - 1] + 1]
                  if op.get_type_name() not in ("Constant", "Parameter")]
    for op in ops[:end]:
        if op.get_type_name() != "Convolution":
            continue
        src = op.input_value(0).get_node()
        if skip_se and src.get_type_name() in ("ReduceMean", "Relu") and op.get_output_partial_shape(0)[2].is_static \
                and op.get_output_partial_shape(0)[2].get_length() == 1 and op.get_output_partial_shape(0)[3].is_static:
            names.append(op.get_friendly_name())
    return names


def plain_head(model) -> None:
    """convert_model folds the head's Transpose into ``MatMul(transpose_a=True)``, which hwocr's head
    pruning (engines/prune.py) does not take; put the Transpose back as its own op (the CPU plugin
    fuses it again when compiling)."""
    import openvino.opset13 as ops

    node = model.get_results()[0].input_value(0).get_node()
    while node.get_type_name() in ("Softmax", "Add", "Identity", "Convert"):
        node = node.input_value(0).get_node()
    if node.get_type_name() != "MatMul" or not node.get_attributes().get("transpose_a"):
        return
    x = node.input_value(0)
    rank = x.get_partial_shape().rank.get_length()
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    t = ops.transpose(x, ops.constant(np.array(perm, dtype=np.int64)))
    mm = ops.matmul(t, node.input_value(1), False, node.get_attributes().get("transpose_b", False))
    mm.set_friendly_name(node.get_friendly_name())
    node.output(0).replace(mm.output(0))
    model.validate_nodes_and_infer_types()


def quantize(src_model_path: Path, windows: list[np.ndarray], *, preset: str = "mixed",
             skip_se: bool = True, f32_first: int = 3, fast_bias_correction: bool = True,
             subset: int | None = None, smooth_quant: bool = False, minmax: bool = False,
             ignored_types: tuple[str, ...] = IGNORED_TYPES):
    import nncf
    import openvino as ov

    # convert_model runs OpenVINO's front-end fusions (Gelu, MVN, SDPA, BatchNorm into conv), as the CPU
    # plugin would at compile time; NNCF on the raw ONNX graph puts quantisers inside the Erf-based
    # GELU decomposition, which breaks the accuracy and the fusions
    model = ov.convert_model(str(src_model_path))
    names = ignored_names(model, skip_se, f32_first)
    adv = {}
    if not smooth_quant:
        adv["smooth_quant_alphas"] = nncf.AdvancedSmoothQuantParameters(matmul=-1, convolution=-1)
    if minmax:
        # global min / max over the calibration set instead of the mean of per-sample extremes
        from nncf.quantization.range_estimator import RangeEstimatorParametersSet

        adv["activations_range_estimator_params"] = RangeEstimatorParametersSet.MINMAX
    kw = {"advanced_parameters": nncf.AdvancedQuantizationParameters(**adv)} if adv else {}
    q = nncf.quantize(
        model,
        nncf.Dataset(windows),
        preset=nncf.QuantizationPreset.PERFORMANCE if preset == "performance" else nncf.QuantizationPreset.MIXED,
        subset_size=subset or len(windows),
        fast_bias_correction=fast_bias_correction,
        ignored_scope=nncf.IgnoredScope(names=names, types=list(ignored_types), validate=False),
        **kw,
    )
    plain_head(q)
    # keep the charlist metadata hwocr reads (framework/character)
    try:
        q.set_rt_info(model.get_rt_info(["framework", "character"]).astype(str), ["framework", "character"])
    except Exception:  # noqa: BLE001 - nothing to copy
        pass
    return q


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output IR (default: {DEFAULT_OUT.relative_to(ROOT)})")
    ap.add_argument("--calib", type=int, default=300, help="synthetic calibration lines (default 300)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", choices=("performance", "mixed"), default="mixed",
                    help="NNCF preset: mixed = asymmetric activations (default), performance = symmetric")
    ap.add_argument("--quantize-se", action="store_true", help="also quantise the squeeze-excite convs")
    ap.add_argument("--f32-first", type=int, default=3,
                    help="keep the first N convolutions (the stem) in f32 (default 3)")
    ap.add_argument("--minmax", action="store_true", help="global min/max activation ranges")
    ap.add_argument("--bias-correction", choices=("fast", "full"), default="fast")
    ap.add_argument("--smooth-quant", action="store_true")
    args = ap.parse_args(argv)

    import openvino as ov

    from hwocr.registry import PPOCR_REC
    from hwocr.store import packaged_path

    src = packaged_path(PPOCR_REC)  # the rapidocr wheel's ONNX, SHA-256 checked
    lines = calibration_lines(args.calib, args.seed)
    wins = model_windows([rgb for _, _, rgb in lines])
    print(f"calibration: {len(lines)} synthetic lines, {len(wins)} windows, widths "
          f"{min(w.shape[-1] for w in wins)}..{max(w.shape[-1] for w in wins)}", file=sys.stderr)
    q = quantize(src, wins, preset=args.preset, skip_se=not args.quantize_se, f32_first=args.f32_first,
                 fast_bias_correction=args.bias_correction == "fast", smooth_quant=args.smooth_quant, minmax=args.minmax)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(q, str(args.out), compress_to_fp16=False)
    print(f"wrote {args.out} ({args.out.with_suffix('.bin').stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
