"""``hwocr page``: read whole pages (images, multi-page TIFF, PDF)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .errors import HwocrError


@click.command("page")
@click.argument("files", nargs=-1, required=True)
@click.option("--lang", type=click.Choice(["auto", "zh", "ja"]), default="auto", show_default=True,
              help="Language of the text (auto: decided per block; any kana means Japanese).")
@click.option("--engine", default="ppocr", show_default=True, help="Line recogniser: ppocr, omz or a model path.")
@click.option("--detector", default="ppocr", show_default=True,
              help="Line detector: ppocr (embedded PP-OCRv6 DB), omz (horizontal-text-detection-0001) or an IR .xml.")
@click.option("--device", default="CPU", show_default=True, help="OpenVINO device.")
@click.option("--decoder", type=click.Choice(["greedy", "beam"]), default=None,
              help="CTC decoding (default: beam with a language model for ppocr, greedy otherwise).")
@click.option("--direction", type=click.Choice(["auto", "horizontal", "vertical"]), default="auto", show_default=True,
              help="Text direction; auto decides per block (vertical columns are read right to left).")
@click.option("--vertical", type=click.Choice(["both", "rotate", "reflow"]), default="both", show_default=True,
              help="How vertical columns are read: turned 90 degrees, characters laid out upright, or both "
                   "(keep the more confident).")
@click.option("--format", "fmt", type=click.Choice(["json", "txt", "hocr", "pdf"]), default="txt", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout (required for pdf).")
@click.option("--overlay", type=click.Path(dir_okay=False),
              help="Write a picture of each page with line boxes, order and text (OUT.png; OUT-2.png ... for more pages).")
@click.option("--dpi", type=click.FloatRange(10, 1200), default=200, show_default=True, help="PDF rendering resolution.")
@click.option("--model-dir", type=click.Path(file_okay=False), help="Model cache folder.")
@click.option("--offline", is_flag=True, default=None, help="Never download models.")
def page(files, lang, engine, detector, device, decoder, direction, vertical, fmt, output, overlay, dpi, model_dir, offline):
    """Read whole pages: detect text lines, order them, read each line."""
    from .pages import export
    from .pages.document import read_image
    from .pages.inputs import load_pages
    from .reader import Reader

    if fmt == "pdf" and not output:
        raise HwocrError("--format pdf writes a file: give it with -o OUT.pdf")
    reader = Reader(lang=lang, engine=engine, device=device, decoder=decoder, model_dir=model_dir, offline=offline,
                    parallel=True)
    det = reader.detector(detector)
    results, images = [], []
    failed = 0
    for f in files:
        try:
            pages = load_pages(f, dpi=dpi, max_pixels=reader.max_pixels)
        except HwocrError as e:
            click.echo(f"hwocr: error: {e}", err=True)
            failed += 1
            continue
        for p in pages:
            results.append(read_image(reader, p.rgb, detector=det, direction=direction, source=p.name, page=p.index,
                                      vertical=vertical))
            images.append(p.rgb)
    if overlay and results:
        o = Path(overlay)
        for k, (res, rgb) in enumerate(zip(results, images)):
            dest = o if k == 0 else o.with_name(f"{o.stem}-{k + 1}{o.suffix}")
            try:
                export.overlay(rgb, res).save(dest)
            except (OSError, ValueError) as e:
                raise HwocrError(f"{dest}: cannot write overlay ({e})") from None
    if fmt == "pdf":
        data = export.to_pdf(results, images, dpi)
        _write(output, data)
    else:
        text = {"json": lambda: export.to_json(results) + "\n", "txt": lambda: export.to_text(results),
                "hocr": lambda: export.to_hocr(results, lang)}[fmt]()
        if output:
            _write(output, text.encode("utf-8"))
        else:
            click.echo(text, nl=False)
    if failed:
        sys.exit(1)


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise HwocrError(f"{path}: cannot write ({e.strerror or e})") from None
