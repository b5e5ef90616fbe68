"""Can the OMZ line recognizer run narrower than its fixed 96 x 2000 input for short lines without
changing the output for the same line? (Answer: no, it is not exact; hwocr keeps 2000.)

The IR's input is static [1,1,96,2000] and two Reshape constants hard-code the 186 output frames,
so ``model.reshape`` fails. This script rebuilds the graph with a dynamic width by replacing those
constants (-1 for the frame axis), runs the authentic graph with random weights, and compares the
outputs for the frames covering a real line at width 2000 and at narrower widths.

What the graph shows:
  * after five 2x2 max-pools the feature map is 512 x 3 x (W // 32) (62 columns at W = 2000), and
    ``Reshape [1,512,186]`` flattens H x W, so the 186 "time" frames are three rows of 62 columns
    (frame t = row t // 62, column t % 62), not 186 left-to-right columns;
  * every residual stage has a squeeze-excitation block: ``ReduceMean`` over the whole H x W map
    -> FC -> ReLU -> FC -> Sigmoid -> per-channel scale. The mean includes the padding columns;
    edge padding makes the *input* columns past the line constant, but the mean still weighs them
    by (W - line) / W, which differs with W, so every channel gate, hence every frame, changes;
  * near the right end of a narrow input the convolutions see zero padding where the full-width input
    has more replicated columns (receptive field), which changes the last frames of the line.

With random weights (std 0.02) the SE MLP's gain is tiny, so its gates barely move (sigmoid ~ 0.5):
the pooled means change by 2-5 % but the frames far from the right edge agree to ~1e-6. With the
trained weights the SE MLPs have gains of order 1 or more and the same 2-5 % shift of the pooled
means moves the gates, so the output of the same line is not reproduced; only exhaustive checks
with the real weights could show otherwise, and they are not available here.

    python benchmarks/omz_narrow_width.py [--line /work/shared/eval/zh-lines/scutept_000011.jpg]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402


def dynamic_width_model(core, xml: Path, taps: bool = False):
    import openvino as ov
    from openvino import opset13 as ops

    m = core.read_model(str(xml))
    frames = m.outputs[0].get_partial_shape()[0].get_length()
    for op in m.get_ordered_ops():
        if op.get_type_name() == "Reshape":
            src = op.input_value(1).get_node()
            if src.get_type_name() != "Constant":
                continue
            v = src.get_data().astype(np.int64)
            if frames in v.tolist():
                v[v == frames] = -1
                op.input(1).replace_source_output(ops.constant(v).output(0))
    m.validate_nodes_and_infer_types()
    m.reshape({0: ov.PartialShape([1, 1, 96, -1])})
    if taps:
        for op in m.get_ordered_ops():
            if op.get_type_name() in ("ReduceMean", "Sigmoid"):
                m.add_outputs(op.output(0))
    return m


def main(argv: list[str] | None = None) -> None:
    import openvino as ov

    from hwocr.imageio import load_image
    from hwocr.preprocess import to_model_image
    from hwocr.registry import OMZ_INPUT

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--line", type=Path, default=bc.LINES / "scutept_000011.jpg")
    a = ap.parse_args(argv)
    cfg = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    core = ov.Core()
    with bc.omz_workdir() as wd:
        xml = bc.random_omz_graph(Path(wd))
        ref = core.compile_model(core.read_model(str(xml)), "CPU", cfg)
        dyn = core.compile_model(dynamic_width_model(core, xml, taps=True), "CPU", cfg)
    img, _ = to_model_image(load_image(a.line).rgb, OMZ_INPUT)
    tw = img.shape[1]

    def pad(w):
        return np.pad(img[:, :, 0], ((0, 0), (0, w - tw)), mode="edge")[None, None]

    full = ref(pad(2000))[0][:, 0]
    cols = full.shape[0] // 3
    same = dyn(pad(2000))
    print(f"line {a.line.name}: {tw} px wide at height 96; static graph: {full.shape[0]} frames = 3 rows x {cols}")
    print(f"dynamic rebuild at W=2000 vs static graph: max |logit diff| {np.abs(same[0][:, 0] - full).max():.2e}")
    A = full.reshape(3, cols, -1)
    for w in sorted({tw + (-tw) % 32, 1024, 1536}):
        out = dyn(pad(w))
        n = w // 32
        B = out[0][:, 0].reshape(3, n, -1)
        cover = min(n, -(-tw // 32))
        d = np.abs(A[:, :cover] - B[:, :cover])
        agree = (A[:, :cover].argmax(-1) == B[:, :cover].argmax(-1)).mean()
        pooled = max(float(np.abs(same[k] - out[k]).max() / (np.abs(same[k]).max() + 1e-12))
                     for k in range(1, len(out)) if same[k].size > 1 and out[k].shape == same[k].shape
                     and same[k].ndim == 4)  # the ReduceMean taps: [1, C, 1, 1]
        print(f"W={w:5d}: {out[0].shape[0]:3d} frames; frames covering the line: max |logit diff| {d.max():.2e}, "
              f"argmax agreement {agree:.3f}; SE pooled means change up to {pooled * 100:.1f} %")


if __name__ == "__main__":
    main()
