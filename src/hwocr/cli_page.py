"""``hwocr page``: read whole pages (images, multi-page TIFF, PDF)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .cli_common import (EXIT_ERROR, FiniteFloatRange, PicturePath, check_hint, check_outputs, engine_options, fail,
                         hint_option, make_reader, not_empty, renamed, reported_inputs, source)
from .errors import HwocrError


@click.command("page")
@click.argument("files", nargs=-1, required=True)
@engine_options
@click.option("--detector", default="ppocr", show_default=True, callback=not_empty,
              help="Line detector: ppocr (embedded PP-OCRv6 DB), omz (horizontal-text-detection-0001) or an IR .xml.")
@click.option("--direction", type=click.Choice(["auto", "horizontal", "vertical"]), default="auto", show_default=True,
              help="Text direction; auto decides per block (vertical columns are read right to left).")
@click.option("--vertical", type=click.Choice(["both", "rotate", "reflow"]), default="both", show_default=True,
              help="How vertical columns are read: turned 90 degrees, characters laid out upright, or both "
                   "(keep the more confident).")
@click.option("--format", "fmt", type=click.Choice(["json", "txt", "hocr", "pdf"]), default="txt", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout (required for pdf).")
@click.option("--overlay", type=PicturePath(),
              help="Write a picture of each page with line boxes, order and text (OUT.png; OUT-1.png, OUT-2.png ... "
                   "for several pages).")
@click.option("--filenames/--no-filenames", default=None,
              help="txt: start each page with a line '==> FILE <==' (default: with several pages); without, "
                   "pages are separated by a form feed.")
@click.option("--dpi", type=FiniteFloatRange(10, 1200), default=200, show_default=True, help="PDF rendering resolution.")
@hint_option
def page(files, detector, direction, vertical, fmt, output, overlay, filenames, dpi, hint, **opts):
    """Read whole pages from FILES (images, multi-page TIFF, PDF; folders, glob patterns, or - for
    standard input): detect text lines, order them, read each line."""
    from .imageio import EXTENSIONS, describe
    from .pages import export
    from .pages.document import read_image
    from .pages.inputs import iter_pages
    from .pages.pdfwrite import encode_page

    check_hint(hint, opts["lang"])
    if fmt == "pdf" and not output:
        raise HwocrError("--format pdf writes a file: give it with -o OUT.pdf")
    paths, failed = reported_inputs(files, EXTENSIONS)
    check_outputs({"-o": output, "--overlay": overlay}, paths)
    reader = make_reader(**opts)
    det = reader.detector(detector)
    # pages are decoded, read and dropped one at a time: only the results (and, for --format pdf,
    # each page's JPEG) are kept, so a long document costs one page's pixels at a time
    results, images = [], []
    overlays = _Overlays(overlay)
    # txt and json to the terminal or a pipe come out page by page, as they are read
    printer = _Printer(fmt, filenames) if fmt in ("txt", "json") and not output else None
    for f in paths:
        try:
            name, src = source(f)
        except HwocrError as e:
            fail(str(e))
            failed += 1
            continue
        try:
            for p in iter_pages(src, dpi=dpi, max_pixels=reader.max_pixels):
                label = p.name if isinstance(src, str) else p.name.replace(describe(src), name, 1)
                res = read_image(reader, p.rgb, detector=det, direction=direction, source=label, page=p.index,
                                 vertical=vertical, hint=hint)
                if printer is not None:
                    printer.add(res)
                else:
                    results.append(res)
                overlays.add(p.rgb, res)
                if fmt == "pdf":
                    images.append(encode_page(p.rgb))
        except HwocrError as e:  # this file's remaining pages are skipped; those read are kept
            fail(str(renamed(e, src, name)))
            failed += 1
    overlays.close()
    if printer is not None:
        printer.close()
    elif fmt == "pdf":
        data = export.to_pdf(results, images, dpi)
        _write(output, data)
    else:
        headers = filenames if filenames is not None else len(results) > 1
        text = {"json": lambda: export.to_json(results) + "\n", "txt": lambda: export.to_text(results, headers),
                "hocr": lambda: export.to_hocr(results, opts["lang"])}[fmt]()
        if output:
            _write(output, text.encode("utf-8"))
        else:
            click.echo(text, nl=False)
    if failed:
        sys.exit(EXIT_ERROR)


class _Printer:
    """txt or json on standard output, a page at a time: the same text as the whole document's
    export. txt without --filenames/--no-filenames has headers when there are several pages, so the
    first page waits until a second one shows there are."""

    def __init__(self, fmt: str, filenames: bool | None) -> None:
        self.fmt, self.filenames, self.n, self.first = fmt, filenames, 0, None

    def add(self, res) -> None:
        from .pages import export

        self.n += 1
        if self.fmt == "json":
            from . import jsontext

            click.echo(('{"pages": [' if self.n == 1 else ", ") + jsontext.dumps(res.to_dict()),
                       nl=False)
        elif self.filenames is None and self.n == 1:
            self.first = res
        elif self.filenames is None:
            if self.first is not None:
                click.echo(export.to_text([self.first], True), nl=False)
                self.first = None
            click.echo(export.to_text([res], True), nl=False)
        else:
            click.echo(("\f" if self.n > 1 and not self.filenames else "") + export.to_text([res], self.filenames),
                       nl=False)

    def close(self) -> None:
        from .pages import export

        if self.fmt == "json":
            click.echo('{"pages": []}' if self.n == 0 else "]}")
        elif self.first is not None:
            click.echo(export.to_text([self.first], False), nl=False)


class _Overlays:
    """--overlay pictures written as pages are read: OUT.png for a single page, else OUT-1.png,
    OUT-2.png, ... (the first page waits until a second one shows there are several)."""

    def __init__(self, path: str | None) -> None:
        self.path, self.n, self.first = path, 0, None

    def add(self, rgb, res) -> None:
        if not self.path:
            return
        self.n += 1
        if self.n == 1:
            self.first = (rgb, res)
            return
        if self.first is not None:
            self._save(*self.first, 0, 2)
            self.first = None
        self._save(rgb, res, self.n - 1, 2)

    def close(self) -> None:
        if self.first is not None:
            self._save(*self.first, 0, 1)
            self.first = None

    def _save(self, rgb, res, k: int, n: int) -> None:
        from .pages import export
        from .render import numbered

        dest = numbered(self.path, k, n)
        try:
            export.overlay(rgb, res).save(dest)
        except (OSError, ValueError) as e:
            raise HwocrError(f"{dest}: cannot write overlay ({e})") from None


def _write(path: str, data: bytes) -> None:
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        raise HwocrError(f"{path}: cannot write ({e.strerror or e})") from None
