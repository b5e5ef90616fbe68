"""The ``hwocr`` command line. Errors are one line on stderr and a non-zero exit code."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from .errors import HwocrError

EXIT_ERROR = 1


def _fail(msg: str) -> None:
    click.echo(f"hwocr: error: {msg}", err=True)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HwocrError as e:
            _fail(str(e))
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            _fail("interrupted")
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hwocr")
def cli() -> None:
    """Read handwritten Chinese (simplified) and Japanese text lines, offline."""


def _engine_options(f):
    f = click.option("--lang", type=click.Choice(["zh", "ja"]), default="zh", show_default=True, help="Language of the text.")(f)
    f = click.option("--engine", default="ppocr", show_default=True,
                     help="ppocr (embedded PP-OCRv6), omz (Intel OMZ model, downloaded on first use), a model folder "
                          "with hwocr-model.json, or a model file (.xml / .onnx, optional <file>.hwocr.json card).")(f)
    f = click.option("--device", default="CPU", show_default=True, help="OpenVINO device: CPU, GPU, AUTO, ...")(f)
    f = click.option("--decoder", type=click.Choice(["greedy", "beam"]), default=None,
                     help="CTC decoding (default: beam with a language model for ppocr, greedy for omz/custom).")(f)
    f = click.option("--precision", type=click.Choice(["FP32", "INT8", "FP16", "FP16-INT8"]), default=None,
                     help="ppocr: FP32 (default) or INT8 (about 1.5x faster, a little less accurate on single "
                          "characters); omz: FP16 (default), FP32 or FP16-INT8.")(f)
    f = click.option("--charlist", type=click.Path(dir_okay=False), help="Charlist for a custom model (one symbol per line).")(f)
    f = click.option("--input-spec", metavar="KEY=VAL,...",
                     help="Custom model preprocessing, overriding its model card / metadata, e.g. "
                          "'height=48,channels=3,mean=127.5,scale=0.00784,bgr=true' (InputSpec fields).")(f)
    f = click.option("--model-dir", type=click.Path(file_okay=False), help="Model cache folder (default: $HWOCR_MODEL_DIR or the user cache).")(f)
    f = click.option("--offline", is_flag=True, default=None, help="Never download; fail if a model is missing.")(f)
    f = click.option("--mirror", help="Base URL of a model mirror (same layout as the cache).")(f)
    f = click.option("--restrict/--no-restrict", default=None,
                     help="Limit output to the characters of --lang (default: on for ppocr, off for omz).")(f)
    return f


def _reader(lang, engine, device, decoder, precision, charlist, model_dir, offline, mirror, restrict=None,
            input_spec=None, **kw):
    from .reader import Reader

    return Reader(lang=lang, engine=engine, device=device, decoder=decoder, precision=precision, charlist=charlist,
                  model_dir=model_dir, offline=offline, mirror=mirror, restrict=restrict, parallel=True,
                  input_spec=input_spec, **kw)


#: what a directory argument of ``hwocr read`` expands to
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
#: show a progress bar (on a terminal) from this many images on
PROGRESS_MIN = 8


def expand_images(args: tuple[str, ...] | list[str]) -> list[str]:
    """Image paths from command-line arguments: a directory gives its images (IMAGE_EXTS, sorted, not
    recursive), a glob pattern (``*``, ``?``, ``[``; ``**`` recurses) its sorted matches, anything else
    is taken as a file. A directory or pattern that gives nothing is an error."""
    import glob as globmod

    out: list[str] = []
    for a in args:
        p = Path(a)
        if p.is_dir():
            found = sorted(str(f) for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTS)
            if not found:
                raise HwocrError(f"{a}: no images in this folder ({', '.join(IMAGE_EXTS)})")
            out.extend(found)
        elif not p.exists() and globmod.has_magic(a):
            found = sorted(f for f in globmod.glob(a, recursive=True) if Path(f).is_file())
            if not found:
                raise HwocrError(f"{a}: no files match this pattern")
            out.extend(found)
        else:
            out.append(a)
    return out


@cli.command()
@click.argument("images", nargs=-1, required=True)
@_engine_options
@click.option("--json", "as_json", is_flag=True,
              help="JSON lines: one object per image (file, text, confidence, characters), written as read.")
@click.option("--allow", type=click.Path(dir_okay=False), help="File of allowed characters (one per line).")
@click.option("--top-k", type=click.IntRange(0, 50), default=0, show_default=True, help="Alternatives per character.")
@click.option("--preview", type=click.Path(dir_okay=False, writable=True),
              help="Write a picture of the scaled line with the characters under their spans.")
@click.option("--progress/--no-progress", default=None,
              help=f"Progress bar on stderr (default: on a terminal with {PROGRESS_MIN}+ images).")
def read(images, as_json, allow, top_k, preview, progress, **opts):
    """Read text lines from IMAGES (files, folders of images, or glob patterns such as 'scans/*.png').

    One output line per image, in input order, each written as soon as it is read; lines are
    batched and run in parallel, with the same results as reading them one at a time."""
    from .imageio import load_image
    from .reader import check_line_shape

    paths = expand_images(images)
    reader = _reader(**opts, allow=allow, top_k=top_k if as_json or top_k else 0)
    failed = 0
    names: list[str] = []  # the images that loaded, in order (results come back in this order)
    kept: list = []  # their pixels, only when a preview is wanted

    def lines():
        nonlocal failed
        for path in paths:
            try:
                rgb = load_image(path, reader.max_pixels).rgb
                check_line_shape(rgb, path)
            except HwocrError as e:
                _fail(str(e))
                failed += 1
                bar.update(1)
                continue
            names.append(path)
            if preview:
                kept.append(rgb)
            yield rgb

    show = progress if progress is not None else (len(paths) >= PROGRESS_MIN and sys.stderr.isatty())
    from tqdm import tqdm

    results = []
    with tqdm(total=len(paths), unit="img", file=sys.stderr, disable=not show, leave=False) as bar:
        for k, res in enumerate(reader._iter_results(lines())):
            if as_json:
                click.echo(json.dumps({"file": names[k], **res.to_dict()}, ensure_ascii=False))
            else:
                click.echo(res.text)
            if preview:
                results.append(res)
            bar.update(1)
    if preview and results:
        from .render import preview as render_preview

        p = Path(preview)
        for k, (rgb, res) in enumerate(zip(kept, results)):
            out = p if len(results) == 1 else p.with_name(f"{p.stem}-{k}{p.suffix}")
            try:
                render_preview(rgb, res).save(out)
            except (OSError, ValueError) as e:
                raise HwocrError(f"{out}: cannot write preview ({e})") from None
    if failed:
        sys.exit(EXIT_ERROR)


@cli.command("eval")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@_engine_options
@click.option("--json", "as_json", is_flag=True)
@click.option("--errors", "show_errors", is_flag=True, help="Also print each misread line.")
def eval_cmd(folder, as_json, show_errors, **opts):
    """Score a FOLDER with labels.tsv (name TAB text): 1 - CER (NFKC, no white space), exact lines, ms/line."""
    from .imageio import load_image
    from .metrics import char_calibration, normalize, read_labels, score

    items = read_labels(folder)
    reader = _reader(**opts)
    imgs = [load_image(p, reader.max_pixels).rgb for p, _ in items]
    reader.read_arrays(imgs[:1])  # warm-up: the first inference compiles kernels
    results, times = [], []
    for img in imgs:
        t = time.perf_counter()
        results.append(reader.read_arrays([img])[0])
        times.append((time.perf_counter() - t) * 1000)
    preds = [r.text for r in results]
    refs = [t for _, t in items]
    s = score(preds, refs, times)
    ece = char_calibration(results, refs)
    if as_json:
        click.echo(json.dumps({"folder": str(folder), "engine": reader.engine.name, "decoder": reader.decoder,
                               **s.to_dict(), "char_calibration_error": round(ece, 4)}, ensure_ascii=False))
    else:
        click.echo(f"n={s.n}  1-CER={s.accuracy:.4f}  exact={s.exact:.4f}  median={s.median_ms:.1f} ms/line  "
                   f"ECE={ece:.3f}")
    if show_errors:
        for (p, ref), pred in zip(items, preds):
            if normalize(pred) != normalize(ref):
                click.echo(f"{p.name}\tpred={pred}\tref={ref}", err=True)


@cli.command()
def devices():
    """List the OpenVINO devices available here."""
    from .engines.runtime import available_devices

    for d in available_devices():
        click.echo(d)


@cli.group()
def models():
    """List, download, describe and verify models."""


def _store(model_dir, mirror, offline):
    from .store import Store

    return Store.from_env(model_dir, mirror, offline)


_store_opts = [
    click.option("--model-dir", type=click.Path(file_okay=False)),
    click.option("--mirror"),
    click.option("--offline", is_flag=True, default=None),
]


def _with_store(f):
    for o in reversed(_store_opts):
        f = o(f)
    return f


@models.command("list")
@_with_store
def models_list(model_dir, mirror, offline):
    """Every known model and whether it is available here."""
    from .registry import DETECTION_MODELS, MODELS, PACKAGED
    from .store import packaged_path

    st = _store(model_dir, mirror, offline)
    for m in PACKAGED.values():
        try:
            packaged_path(m, verify=False)
            state = "embedded"
        except HwocrError:
            state = "missing"
        click.echo(f"{m.name:50s} {state:10s} {m.description}")
    for m in (*MODELS.values(), *DETECTION_MODELS.values()):
        have = [p for p, (x, b) in m.files.items() if st.is_present(x) and st.is_present(b)]
        state = ("cached:" + ",".join(have)) if have else "not cached"
        click.echo(f"{m.name:50s} {state:10s} {m.description}")


def _resolve(names):
    from .errors import ModelError
    from .registry import DETECTION_MODELS, MODELS, OMZ_BY_LANG

    known = {**MODELS, **DETECTION_MODELS}
    if not names or names == ("all",):
        return list(known.values())
    out = []
    for n in names:
        key = OMZ_BY_LANG.get(n, n)
        if key not in known:
            raise ModelError(f"unknown model {n!r}; see 'hwocr models list'")
        out.append(known[key])
    return out


@models.command("download")
@click.argument("names", nargs=-1)
@click.option("--precision", "precisions", multiple=True, type=click.Choice(["FP16", "FP32", "FP16-INT8"]),
              default=("FP16",), show_default=True)
@_with_store
def models_download(names, precisions, model_dir, mirror, offline):
    """Download and verify models (default: all OMZ models, FP16) into the cache."""
    st = _store(model_dir, mirror, offline)
    for m in _resolve(names):
        precs = [p for p in precisions if p in m.files] or list(m.files)[:1]  # e.g. a detector only in FP16-INT8
        specs = [f for p in precs for f in m.files[p]] + ([m.charlist] if m.charlist else [])
        for f in specs:
            click.echo(f"{st.ensure(f)}")


@models.command("verify")
@click.argument("names", nargs=-1)
@_with_store
def models_verify(names, model_dir, mirror, offline):
    """Check size and hash of every cached file of the models."""
    from .store import verify_file

    st = _store(model_dir, mirror, offline)
    bad = 0
    for m in _resolve(names):
        specs = [f for pair in m.files.values() for f in pair] + ([m.charlist] if m.charlist else [])
        for f in specs:
            p = st.path(f)
            if not p.exists():
                continue
            try:
                verify_file(p, f)
                click.echo(f"ok       {p}")
            except HwocrError as e:
                click.echo(f"BAD      {e}")
                bad += 1
    if bad:
        sys.exit(EXIT_ERROR)


@models.command("info")
@click.argument("name")
@_with_store
def models_info(name, model_dir, mirror, offline):
    """Show a model's files, URLs, sizes, hashes and input spec."""
    from .registry import PACKAGED

    st = _store(model_dir, mirror, offline)
    if name in ("ppocr", *PACKAGED):
        m = PACKAGED.get(name) or PACKAGED["PP-OCRv6_rec_small"]
        click.echo(f"{m.name}\n  {m.description}\n  licence: {m.licence}\n  file: {m.package}/{m.resource}"
                   f"\n  size: {m.size}\n  sha256: {m.sha256}\n  input: {m.input}")
        if m.weights:
            click.echo(f"  weights: {m.package}/{m.weights[0]}\n  size: {m.weights[1]}\n  sha256: {m.weights[2]}")
        return
    (m,) = _resolve((name,))
    click.echo(f"{m.name}\n  {m.description}\n  accuracy: {m.accuracy}\n  licence: {m.licence}\n  input: {m.input}")
    for prec, pair in m.files.items():
        for f in pair:
            click.echo(f"  [{prec}] {f.url}\n      size {f.size}  {f.algo} {f.digest}\n      -> {st.path(f)}"
                       f" ({'present' if st.is_present(f) else 'absent'})")
    if m.charlist:
        f = m.charlist
        click.echo(f"  [charlist] {f.url}\n      size {f.size}  {f.algo} {f.digest}\n      -> {st.path(f)}")


from .server.cli import serve as _serve; cli.add_command(_serve)  # noqa: E402,E702


from .cli_page import page as _page_cmd; cli.add_command(_page_cmd)  # noqa: E402, E702

# `hwocr finetune` (needs the [train] extra only when it runs)
from .train.cli import finetune as _finetune_cmd; cli.add_command(_finetune_cmd)  # noqa: E402, E702


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="hwocr")


if __name__ == "__main__":
    main()
