"""Measure page reading on pages made by compose_pages.py.

Reports, per page kind (horizontal / vertical ja / vertical zh):
  * line detection recall and precision (a predicted line matches a true one at IoU >= 0.5,
    one-to-one, greedy by IoU);
  * reading order: share of pages whose matched lines come out in the true order;
  * page 1-CER: hwocr.metrics.score over page texts (lines joined in the predicted order);
  * line-level 1-CER of the same lines read as crops: "src" = the original line images
    (vertical columns: their character images laid out side by side), "gt-crop" = the true
    line boxes cut out of the composed page and read the way the page reader reads lines.

    python benchmarks/compose_pages.py --out build/pages
    python benchmarks/page_eval.py build/pages [--detector ppocr|omz|X.xml] [--direction auto] [--turn ccw|cw]
        [--vertical rotate|reflow|both]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from hwocr.imageio import load_image
from hwocr.metrics import score
from hwocr.pages.detect import load_detector
from hwocr.pages.document import read_image
from hwocr.store import Store
from hwocr.reader import Reader


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a = cv2.convexHull(np.asarray(a, np.float32))
    b = cv2.convexHull(np.asarray(b, np.float32))
    inter, _ = cv2.intersectConvexConvex(a, b)
    ua = cv2.contourArea(a) + cv2.contourArea(b) - inter
    return float(inter / ua) if ua > 0 else 0.0


def match(pred: list[np.ndarray], gt: list[np.ndarray], thr: float = 0.5) -> dict[int, int]:
    pairs = sorted(((iou(p, g), i, j) for i, p in enumerate(pred) for j, g in enumerate(gt)), reverse=True)
    used_p, used_g, m = set(), set(), {}
    for v, i, j in pairs:
        if v < thr:
            break
        if i in used_p or j in used_g:
            continue
        used_p.add(i)
        used_g.add(j)
        m[j] = i
    return m


def hstack_chars(paths: list[Path]) -> np.ndarray:
    ims = [np.asarray(Image.open(p).convert("L")) for p in paths]
    h = max(im.shape[0] for im in ims)
    parts = []
    for im in ims:
        pad = np.full((h, im.shape[1] + 8), 255, np.uint8)
        y = (h - im.shape[0]) // 2
        pad[y : y + im.shape[0], 4 : 4 + im.shape[1]] = im
        parts.append(pad)
    g = np.concatenate(parts, axis=1)
    return np.repeat(g[:, :, None], 3, axis=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, nargs="?", default=Path("build/pages"))
    ap.add_argument("--eval", type=Path, default=Path("/work/shared/eval"))
    ap.add_argument("--detector", default="ppocr")
    ap.add_argument("--direction", default="auto")
    ap.add_argument("--turn", default=None, help="how vertical columns are turned: ccw or cw (default: the package's)")
    ap.add_argument("--vertical", default=None,
                    help="how vertical columns are read: rotate, reflow or both (default: the package's)")
    ap.add_argument("--kinds", default="h,vja,vzh", help="comma-separated page name prefixes")
    ap.add_argument("--no-reference", action="store_true", help="skip the line-level reference readings")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--precision", default=None, help="recogniser and ppocr detector precision (default: auto)")
    ap.add_argument("--max-side", type=int, default=None, help="ppocr detector: longer page side (default 1600)")
    ap.add_argument("--sides", default=None, help="ppocr detector input sides, comma-separated (default: the package's)")
    args = ap.parse_args()
    from hwocr.pages import document as page_mod

    turn = args.turn or page_mod.DEFAULT_TURN
    vmode = args.vertical or page_mod.DEFAULT_VERTICAL
    readers: dict[str, Reader] = {}
    kw = {}
    if args.detector == "ppocr":
        from hwocr.engines.factory import load_engine

        kw["precision"] = "bf16" if "bf16" in load_engine(precision=args.precision).precision else "f32"
        if args.max_side:
            kw["max_side"] = args.max_side
        if args.sides:
            kw["sides"] = tuple(int(x) for x in args.sides.split(","))
    det = load_detector(args.detector, "CPU", store=Store.from_env(), **kw)
    det_secs: list[float] = []
    detect = det.detect

    def timed_detect(rgb):
        t0 = time.perf_counter()
        try:
            return detect(rgb)
        finally:
            det_secs.append(time.perf_counter() - t0)

    det.detect = timed_detect
    stats: dict[str, dict] = defaultdict(lambda: defaultdict(list))
    kinds = args.kinds.split(",")
    metas = sorted(args.folder.glob("*.json"))
    t_all = time.perf_counter()
    for mp in metas:
        if mp.name == "index.json":
            continue
        meta = json.loads(mp.read_text(encoding="utf-8"))
        kind = next((k for k in kinds if mp.stem.startswith(k) and mp.stem[len(k):].isdigit()), None)
        if kind is None:
            continue
        lang = meta["lang"]
        reader = readers.get(lang) or readers.setdefault(lang, Reader(lang=lang, precision=args.precision))
        rgb = load_image(args.folder / meta["image"]).rgb
        t = time.perf_counter()
        res = read_image(reader, rgb, detector=det, direction=args.direction, turn=turn, vertical=vmode)
        dt = time.perf_counter() - t
        gt = meta["lines"]
        gq = [np.asarray(g["quad"], np.float32) for g in gt]
        pq = [np.asarray(ln.polygon, np.float32) for ln in res.lines]
        m = match(pq, gq)
        s = stats[kind]
        s["tp"].append(len(m))
        s["n_gt"].append(len(gt))
        s["n_pred"].append(len(pq))
        order = [m[j] for j in range(len(gt)) if j in m]
        s["in_order"].append(order == sorted(order))
        s["page_pred"].append(res.text)
        s["page_ref"].append("".join(g["text"] for g in gt))
        s["secs"].append(dt)
        s["det_secs"].append(sum(det_secs))
        det_secs.clear()
        s["dirs_ok"].append(sum(res.lines[m[j]].direction == gt[j]["direction"] for j in m))
        if not args.no_reference:
            cands = [page_mod._line_crops(rgb, q, g["direction"] == "vertical", turn, vmode) for q, g in zip(gq, gt)]
            flat = reader.read_arrays([c.image for cs in cands for c in cs])
            crop_reads, k = [], 0
            for cs in cands:
                best = None
                for r in flat[k:k + len(cs)]:
                    if best is None or page_mod._better(r, best):
                        best = r
                crop_reads.append(best)
                k += len(cs)
            srcs = []
            for g in gt:
                paths = [args.eval / p for p in g["sources"]]
                srcs.append(load_image(paths[0]).rgb if g["direction"] == "horizontal" else hstack_chars(paths))
            s["crop_pred"] += [r.text for r in crop_reads]
            s["src_pred"] += [r.text for r in reader.read_arrays(srcs)]
            s["line_ref"] += [g["text"] for g in gt]
        print(f"{mp.stem}: {len(m)}/{len(gt)} matched, {len(pq)} predicted, order {'ok' if order == sorted(order) else 'WRONG'}, "
              f"{dt:.1f} s", file=sys.stderr)
    report = {"detector": det.name, "precision": det_precision(det), "direction": args.direction, "turn": turn, "vertical": vmode, "kinds": {}}
    tot = defaultdict(list)
    for kind in kinds:
        s = stats.get(kind)
        if not s:
            continue
        for k, v in s.items():
            tot[k] += v
    for kind, s in [*((k, stats[k]) for k in kinds if k in stats), ("all", tot)]:
        tp, ng, npred = sum(s["tp"]), sum(s["n_gt"]), sum(s["n_pred"])
        row = {
            "pages": len(s["n_gt"]),
            "lines": ng,
            "recall": round(tp / ng, 4) if ng else 0.0,
            "precision": round(tp / npred, 4) if npred else 0.0,
            "direction_ok": round(sum(s["dirs_ok"]) / tp, 4) if tp else 0.0,
            "order_ok_pages": f"{sum(s['in_order'])}/{len(s['in_order'])}",
            "page_1cer": round(score(s["page_pred"], s["page_ref"]).accuracy, 4),
            "sec_per_page": round(float(np.mean(s["secs"])), 3),
            "detect_sec_per_page": round(float(np.mean(s["det_secs"])), 3),
        }
        if s["line_ref"]:
            row["line_1cer_src"] = round(score(s["src_pred"], s["line_ref"]).accuracy, 4)
            row["line_1cer_gt_crop"] = round(score(s["crop_pred"], s["line_ref"]).accuracy, 4)
        report["kinds"][kind] = row
    report["total_s"] = round(time.perf_counter() - t_all, 1)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


def det_precision(det) -> str:
    try:
        return str(det.session.compiled.get_property("INFERENCE_PRECISION_HINT"))
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    main()
