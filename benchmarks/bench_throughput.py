"""Lines per second and peak RSS of whole-set recognition, hwocr against the references, in one run.

Configurations (each measured in its own child process, so peak RSS is its own; the configurations
are run in interleaved rounds, and ratios are taken between medians of the same run):

  rapidocr-ort   rapidocr 3.10's own recognition call on the same PP-OCRv6 small model
                 (``RapidOCR()._load_rec_model(); text_rec(TextRecInput(img=[BGR arrays]))``) on
                 onnxruntime, rapidocr's default engine (benchmark-only dependency: pip install onnxruntime)
  rapidocr-ov    the same call with ``EngineType.OPENVINO`` (rapidocr sets no precision, so OpenVINO's
                 default runs: bf16 on CPUs with AMX); rapidocr-ov-tput with its
                 ``EngineConfig.openvino.performance_hint: THROUGHPUT`` (one stream per core)
  notebook-omz   openvino_notebooks 209's loop on the OMZ Chinese graph: compile_model with the
                 default config, then per line: resize to height 96, edge-pad to 2000, uint8 input,
                 infer, greedy decode. (Lines wider than 2000 px after resizing make the notebook's
                 np.pad fail; they are cropped to 2000 px here, as intel's deploy.py does.)
  hwocr-ppocr    ``Reader(decoder="greedy", parallel=True).read_arrays(lines)``: the batched, parallel
                 path of ``hwocr read DIR``, ``--lang auto``
  hwocr-ppocr-beam  the same with the beam decoder + language model: hwocr's defaults (lang auto, beam,
                 ``--precision auto``: bf16 on CPUs with AMX-BF16, f32 elsewhere);
                 hwocr-ppocr-zh-beam with ``--lang zh`` forced
  hwocr-ppocr-f32, hwocr-ppocr-f32-beam  the same two pinned to f32
  hwocr-ppocr-int8, hwocr-ppocr-int8-beam  the same two with ``precision="INT8"`` (the packaged
                 INT8 model built by scripts/quantize_rec.py)
  hwocr-omz      ``Reader(engine=<OMZ graph>).read_arrays(lines)`` (split windows for long lines)
  hwocr-api-beam ``Reader().read_arrays(lines)``: the Python API's defaults (``parallel=False``: one
                 batch at a time)
  *-nothread-*   hwocr-ppocr-nothread[-beam], hwocr-api-nothread-beam: the same with hwocr.ahead's
                 worker thread off (batches made and read on the thread that decodes them, as before
                 it), to measure what the overlap gives

The OMZ graph is the authentic IR with random weights (no downloadable weights here): its timing
and memory are real, its text is not. Images are decoded before timing for every configuration.

    python benchmarks/bench_throughput.py [--rounds 2] [--passes 3] [--omz-passes 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench_common as bc  # noqa: E402

CONFIGS = ("rapidocr-ort", "rapidocr-ov", "rapidocr-ov-tput", "notebook-omz", "hwocr-ppocr", "hwocr-ppocr-beam",
           "hwocr-ppocr-zh-beam", "hwocr-ppocr-f32", "hwocr-ppocr-f32-beam", "hwocr-ppocr-bf16", "hwocr-ppocr-bf16-beam", "hwocr-ppocr-int8", "hwocr-ppocr-int8-beam",
           "hwocr-omz", "hwocr-api-beam", "hwocr-api-nothread-beam", "hwocr-ppocr-nothread", "hwocr-ppocr-nothread-beam")
OMZ_CONFIGS = ("notebook-omz", "hwocr-omz")
API_CONFIGS = ("hwocr-api-beam", "hwocr-api-nothread-beam")
#: what runs without --configs (the OMZ pair is slow and has random weights, the API and nothread ones
#: measure one thread: ask for them)
DEFAULT_CONFIGS = tuple(c for c in CONFIGS if c not in OMZ_CONFIGS + API_CONFIGS and "nothread" not in c)
PEERS = ("rapidocr-ort", "rapidocr-ov", "rapidocr-ov-tput")


def _rapidocr(kind: str, items):
    import cv2
    from rapidocr import EngineType, RapidOCR
    from rapidocr.ch_ppocr_rec.typings import TextRecInput

    et = EngineType.ONNXRUNTIME if kind == "ort" else EngineType.OPENVINO
    params = {"Rec.engine_type": et, "Det.engine_type": et, "Cls.engine_type": et}
    if kind == "ov-tput":
        params["EngineConfig.openvino.performance_hint"] = "THROUGHPUT"
    eng = RapidOCR(params=params)
    eng._load_rec_model()
    imgs = [cv2.imread(str(p)) for p, _ in items]

    def run():
        return list(eng.text_rec(TextRecInput(img=imgs)).txts)

    extra = {"rec_batch_num": eng.text_rec.rec_batch_num}
    try:  # what OpenVINO compiled rapidocr's recogniser with
        cm = eng.text_rec.session.session.compiled_model
        extra["precision"] = str(cm.get_property("INFERENCE_PRECISION_HINT"))
        extra["hint"] = str(cm.get_property("PERFORMANCE_HINT"))
    except Exception:  # noqa: BLE001 - onnxruntime, or another rapidocr layout
        pass
    return run, extra


def _notebook(items, workdir: Path):
    """openvino_notebooks 209 (handwritten-ocr), recognition part, one line at a time."""
    from itertools import groupby

    import cv2
    import numpy as np
    import openvino as ov

    xml = bc.random_omz_graph(workdir)
    core = ov.Core()
    model = core.read_model(model=str(xml))
    compiled_model = core.compile_model(model=model, device_name="CPU")
    recognition_output_layer = compiled_model.output(0)
    _, _, H, W = compiled_model.input(0).shape
    with open(bc.SCUT_CHARLIST, encoding="utf-8") as f:
        letters = "~" + "".join(line.strip() for line in f)
    grays = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p, _ in items]
    cropped = 0

    def read(image):
        nonlocal cropped
        scale_ratio = H / image.shape[0]
        image = cv2.resize(image, None, fx=scale_ratio, fy=scale_ratio, interpolation=cv2.INTER_AREA)
        if image.shape[1] > W:
            image = image[:, :W]
            cropped += 1
        image = np.pad(image, ((0, 0), (0, W - image.shape[1])), mode="edge")
        input_image = image[None, None, :, :]
        predictions = compiled_model([input_image])[recognition_output_layer]
        predictions = np.squeeze(predictions)
        predictions_indexes = np.argmax(predictions, axis=1)
        output_text_indexes = list(groupby(predictions_indexes))
        output_text_indexes, _ = np.transpose(output_text_indexes, (1, 0))
        output_text_indexes = output_text_indexes[output_text_indexes != 0]
        return "".join(letters[i] for i in output_text_indexes)

    def run():
        return [read(g) for g in grays]

    extra = {"precision": str(compiled_model.get_property("INFERENCE_PRECISION_HINT")),
             "hint": str(compiled_model.get_property("PERFORMANCE_HINT"))}
    return run, extra, lambda: cropped


def _hwocr(config: str, items, workdir: Path):
    from hwocr import Reader
    from hwocr.imageio import load_image

    if "-nothread" in config:  # (this child only) batches made, read and decoded in turn, as before hwocr.ahead
        import hwocr.reader

        hwocr.reader.ahead = lambda items, depth=1: items
    if config == "hwocr-omz":
        reader = Reader(lang="zh", engine=str(bc.random_omz_graph(workdir)), charlist=str(bc.SCUT_CHARLIST), parallel=True)
    elif config in API_CONFIGS:
        reader = Reader()
    else:
        # hwocr's defaults: lang auto (one read with both languages' classes, then each line's language),
        # as `hwocr read DIR` runs (parallel); -zh forces the language
        reader = Reader(lang="zh" if "-zh" in config else "auto", decoder="beam" if config.endswith("beam") else "greedy",
                        parallel=True, precision=next((v for k, v in (("int8", "INT8"), ("f32", "f32"), ("bf16", "bf16"))
                                                       if f"-{k}" in config), "auto"))
    imgs = [load_image(p, reader.max_pixels).rgb for p, _ in items]

    def run():
        return [r.text for r in reader.read_arrays(imgs)]

    return run, {"decoder": reader.decoder, "precision": reader.engine.precision}


def child(config: str, folder: Path, passes: int, workdir: Path) -> dict:
    from hwocr.metrics import score

    items = bc.labels(folder)
    cropped = None
    t0 = time.perf_counter()
    if config.startswith("rapidocr"):
        run, extra = _rapidocr(config.split("-", 1)[1], items)
    elif config == "notebook-omz":
        run, extra, cropped = _notebook(items, workdir)
    else:
        run, extra = _hwocr(config, items, workdir)
    load_s = time.perf_counter() - t0
    texts = run()  # warm-up (first inference of each shape prepares kernels)
    rates, cpu = [], []
    for _ in range(passes):
        t, c = time.perf_counter(), time.process_time()
        texts = run()
        rates.append(len(items) / (time.perf_counter() - t))
        cpu.append((time.process_time() - c) * 1000 / len(items))
    s = score(texts, [t for _, t in items])
    out = {"config": config, "n": len(items), "load_s": round(load_s, 2), "lines_per_s": rates, "cpu_ms_per_line": cpu,
           "accuracy": round(s.accuracy, 4), "exact": round(s.exact, 4), "texts": texts,
           "peak_rss_mb": round(bc.peak_rss_mb(), 1), **extra}
    if cropped is not None:
        out["cropped_lines"] = cropped() // (passes + 1)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=Path, default=bc.LINES, help="folder with labels.tsv (default: %(default)s)")
    ap.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS), choices=CONFIGS)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (one child per config per round)")
    ap.add_argument("--passes", type=int, default=3, help="timed passes over the set per child")
    ap.add_argument("--omz-passes", type=int, default=1, help="timed passes for the (slow) OMZ configurations")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("CONFIG", "WORKDIR"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child[0], a.lines, a.passes, Path(a.child[1])), ensure_ascii=False))
        return
    with bc.omz_workdir() as wd:
        _measure(a, Path(wd))


def _measure(a: argparse.Namespace, workdir: Path) -> None:
    bc.random_omz_graph(workdir)
    runs: dict[str, list[dict]] = {c: [] for c in a.configs}
    for r in range(a.rounds):
        for c in a.configs:
            passes = a.omz_passes if c in OMZ_CONFIGS else a.passes
            res = bc.run_child(Path(__file__), [c, str(workdir), "--lines", str(a.lines), "--passes", str(passes)])
            runs[c].append(res)
            print(f"round {r + 1}/{a.rounds} {c:18s} {bc.median(res['lines_per_s']):7.2f} lines/s  "
                  f"peak {res['peak_rss_mb']:.0f} MB", file=sys.stderr, flush=True)
    summary = {}
    for c, rs in runs.items():
        rates = [x for r in rs for x in r["lines_per_s"]]
        last = rs[-1]
        summary[c] = {"lines_per_s": round(bc.median(rates), 2), "samples": len(rates),
                      "cpu_ms_per_line": round(bc.median([x for r in rs for x in r["cpu_ms_per_line"]]), 1),
                      "peak_rss_mb": max(r["peak_rss_mb"] for r in rs), "accuracy": last["accuracy"],
                      "exact": last["exact"], "load_s": bc.median([r["load_s"] for r in rs]),
                      **{k: v for k, v in last.items() if k in ("precision", "hint", "decoder", "cropped_lines",
                                                                 "rec_batch_num")}}
    ratios = {}

    def ratio(a_, b_):
        if a_ in summary and b_ in summary:
            ratios[f"{a_} / {b_}"] = round(summary[a_]["lines_per_s"] / summary[b_]["lines_per_s"], 2)

    peers = [p for p in PEERS if p in summary]
    best = max(peers, key=lambda p: summary[p]["lines_per_s"]) if peers else None
    for x in ("hwocr-api-beam", "hwocr-ppocr-beam", "hwocr-ppocr"):
        ratio(x, x.replace("-beam", "-nothread-beam") if x.endswith("-beam") else x + "-nothread")
    for ours in ("hwocr-ppocr", "hwocr-ppocr-beam", "hwocr-ppocr-f32", "hwocr-ppocr-f32-beam", "hwocr-ppocr-int8",
                 "hwocr-ppocr-int8-beam", "hwocr-api-beam"):
        for p in peers:
            ratio(ours, p)
    ratio("hwocr-omz", "notebook-omz")
    agreement = {}
    items = bc.labels(a.lines)
    for x, y in (("rapidocr-ort", "hwocr-ppocr"), ("rapidocr-ov", "hwocr-ppocr"), ("rapidocr-ort", "rapidocr-ov")):
        if x in runs and y in runs:
            tx, ty = runs[x][-1]["texts"], runs[y][-1]["texts"]
            same = sum(p == q for p, q in zip(tx, ty))
            diff = [(items[k][0].name, p, q) for k, (p, q) in enumerate(zip(tx, ty)) if p != q]
            agreement[f"{x} vs {y}"] = {"identical_lines": same, "n": len(tx), "differing": diff}
    if a.json:
        print(json.dumps({"lines": str(a.lines), "machine": bc.machine(), "rounds": a.rounds, "summary": summary,
                          "ratios": ratios, "agreement": agreement}, ensure_ascii=False))
        return
    print(f"{a.lines}  ({len(items)} lines; {a.rounds} rounds)  {bc.machine()}")
    print("lines/s: median over every timed pass of every round (wall clock; other load on the machine counts);"
          " CPU ms/line: process CPU time per line (all threads), less sensitive to other load")
    hdr = f"{'config':18s} {'lines/s':>8s} {'samples':>7s} {'CPU ms/line':>11s} {'peak RSS MB':>12s} {'1-CER':>7s} {'exact':>6s}  notes"
    print(hdr)
    print("-" * len(hdr))
    for c, s in summary.items():
        notes = ", ".join(f"{k}={s[k]}" for k in ("decoder", "precision", "hint", "cropped_lines", "rec_batch_num")
                          if k in s)
        if c in OMZ_CONFIGS:
            notes += " (random weights: text meaningless)"
        print(f"{c:18s} {s['lines_per_s']:8.2f} {s['samples']:7d} {s['cpu_ms_per_line']:11.1f} {s['peak_rss_mb']:12.1f} {s['accuracy']:7.4f} "
              f"{s['exact']:6.3f}  {notes}")
    print()
    for k, v in ratios.items():
        print(f"throughput ratio {k}: {v:.2f}x")
    for k, v in agreement.items():
        print(f"text agreement {k}: {v['identical_lines']}/{v['n']} lines identical")
        for name, p, q in v["differing"]:
            print(f"    {name}: {p!r} | {q!r}")


if __name__ == "__main__":
    main()
