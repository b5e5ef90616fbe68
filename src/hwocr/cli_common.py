"""What the ``hwocr`` commands share: exit codes, messages, the engine options, input expansion."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .charsets import AUTO, LANG_CHOICES, LANGS
from .errors import HwocrError

#: exit statuses (README "Exit codes")
EXIT_OK = 0
EXIT_ERROR = 1  # a user-caused failure: an input that could not be read, a model that cannot load, ...
EXIT_USAGE = 2  # a bad command line (unknown option, value out of range)
EXIT_WARNING = 3  # everything was read, but some input looked unlike what the command reads (see warnings)
EXIT_INTERRUPTED = 130

STDIN = "-"


#: an error or warning line is cut to this many characters (a hostile value of thousands of characters,
#: a --device or a model name, would otherwise be echoed whole): its start and its end are kept
MAX_MESSAGE = 400


def _bounded(msg: str) -> str:
    from .files import shown

    s = shown(msg)
    return s if len(s) <= MAX_MESSAGE else f"{s[:MAX_MESSAGE - 100]} ... {s[-95:]}"


def fail(msg: str) -> None:
    click.echo(f"hwocr: error: {_bounded(msg)}", err=True)


def warn(msg: str) -> None:
    click.echo(f"hwocr: warning: {_bounded(msg)}", err=True)


def lang_option(f):
    return click.option("--lang", type=click.Choice(LANG_CHOICES), default=AUTO, show_default=True,
                        help="Language of the text (auto: decided per line, per block on a page, by its kana and "
                             "Japanese-only kanji against its Chinese-only hanzi; lines that say little follow the language most images of the same "
                             "command read as).")(f)


def hint_option(f):
    return click.option("--hint", type=click.Choice(LANGS), default=None,
                        help="With --lang auto: the language of the document these images come from. An image whose own "
                             "characters do not decide (an isolated kanji, a name) reads as it, before the majority "
                             "of the other images; one they do decide (a kana, a Japanese-only kanji) keeps its own. "
                             "The JSON's lang_by says what decided.")(f)


def check_hint(hint: str | None, lang: str) -> None:
    """A hint only guides --lang auto; with a fixed --lang it would do nothing, so say so."""
    if hint and lang != AUTO:
        raise click.UsageError(f"--hint {hint} guides --lang auto only; with --lang {lang} every line reads as {lang}")


#: what --precision accepts (ppocr: auto, f32 = FP32, bf16, INT8; omz: FP16, FP32, FP16-INT8)
PRECISION_CHOICES = ("auto", "f32", "bf16", "FP32", "INT8", "FP16", "FP16-INT8")


def precision_option(f):
    return click.option("--precision", type=click.Choice(PRECISION_CHOICES, case_sensitive=False), default=None,
                        help="ppocr: auto (default: bf16 on CPUs with native bf16 (AMX-BF16 or AVX512-BF16), f32 elsewhere; 'hwocr devices' "
                             "says which), f32 (= FP32), bf16 or INT8; omz: FP16 (default), FP32 or FP16-INT8.")(f)


def not_empty(ctx, param, value):
    """An option given as '' (an unset shell variable) is a usage error: '' would mean the current folder
    (--model-dir, --engine) or nothing at all (--mirror: then the download went to the network)."""
    if value is not None and not str(value).strip():
        raise click.BadParameter("empty (an unset shell variable?)", ctx, param)
    return value


def parsed_input_spec(ctx, param, value):
    """--input-spec checked with the command line (a bad field is a usage error, not a model failure)."""
    if value is None:
        return None
    from .engines.modelcard import parse_input_option
    from .errors import ModelError

    try:
        return parse_input_option(value)
    except ModelError as e:
        raise click.BadParameter(str(e).removeprefix("--input-spec: "), ctx, param) from None


def engine_options(f):
    """--lang, --engine and everything that chooses or loads the recogniser (read, eval, page)."""
    f = lang_option(f)
    f = click.option("--engine", default="ppocr", show_default=True, callback=not_empty,
                     help="ppocr (embedded PP-OCRv6), omz (Intel OMZ model, downloaded on first use), a model folder "
                          "with hwocr-model.json, or a model file (.xml / .onnx, optional <file>.hwocr.json card).")(f)
    f = click.option("--device", default="CPU", show_default=True, callback=not_empty,
                     help="OpenVINO device: CPU, GPU, AUTO, ...")(f)
    f = click.option("--decoder", type=click.Choice(["greedy", "beam"]), default=None,
                     help="CTC decoding (default: beam with a language model for ppocr, a model card's choice, "
                          "else greedy).")(f)
    f = precision_option(f)
    f = click.option("--charlist", type=click.Path(dir_okay=False), callback=not_empty,
                     help="Charlist for a custom model (one symbol per line).")(f)
    f = click.option("--input-spec", metavar="KEY=VAL,...", callback=parsed_input_spec,
                     help="Preprocessing, overriding a custom model's card / metadata, e.g. "
                          "'height=48,channels=3,mean=127.5,scale=0.00784,bgr=true', or a built-in "
                          "model's, e.g. 'char_views=[]' (isolated characters read once: faster) "
                          "(InputSpec fields).")(f)
    f = click.option("--model-dir", type=click.Path(file_okay=False), callback=not_empty,
                     help="Model cache folder (default: $HWOCR_MODEL_DIR or the user cache).")(f)
    f = click.option("--offline", is_flag=True, default=None, help="Never download; fail if a model is missing.")(f)
    f = click.option("--mirror", callback=not_empty, help="Model mirror: a base URL (http://, https://, file://) or a folder, laid out "
                                      "like the cache.")(f)
    f = click.option("--ensemble/--no-ensemble", default=None,
                     help="Japanese lines also read by PP-OCRv5 mobile, the two readings merged by character voting "
                          "(default: on for ppocr where PP-OCRv5 is installed; about 1.5-1.8x the time per Japanese line).")(f)
    f = click.option("--restrict/--no-restrict", default=None,
                     help="Limit output to the characters of --lang (default: on for ppocr, off for omz).")(f)
    return f


def make_reader(lang, engine, device, decoder, precision, charlist, model_dir, offline, mirror, restrict=None,
                input_spec=None, **kw):
    from .reader import Reader

    return Reader(lang=lang, engine=engine, device=device, decoder=decoder, precision=precision, charlist=charlist,
                  model_dir=model_dir, offline=offline, mirror=mirror, restrict=restrict, parallel=True,
                  input_spec=input_spec, **kw)


def expand_inputs(args: tuple[str, ...] | list[str], extensions: tuple[str, ...], problems: list[str]) -> list[str]:
    """Input paths from command-line arguments: a directory gives its files with ``extensions``
    (sorted, not recursive), a glob pattern (``*``, ``?``, ``[``; ``**`` recurses) its sorted matches,
    ``-`` standard input (once), anything else is taken as a file. A directory or pattern that gives
    nothing adds one line to ``problems`` and the other arguments are still expanded (one empty
    folder among many must not stop an archive's reading)."""
    import glob as globmod

    from .files import glob_files

    out: list[str] = []
    for a in args:
        p = Path(a)
        if not a:  # Path("") is the current folder: an unset shell variable must not read it
            problems.append("an empty file name")
        elif a == STDIN:
            if STDIN in out:
                raise click.UsageError("'-' (standard input) can be given only once")
            out.append(a)
        elif p.is_dir():
            found = sorted(str(f) for f in p.iterdir() if f.is_file() and f.suffix.lower() in extensions)
            if not found:
                problems.append(f"{a}: no images in this folder ({', '.join(extensions)})")
            out.extend(found)
        elif not p.exists() and globmod.has_magic(a):
            found = glob_files(a)
            if not found:
                problems.append(f"{a}: no files match this pattern")
            out.extend(found)
        else:
            out.append(a)
    return out


def reported_inputs(args: tuple[str, ...] | list[str], extensions: tuple[str, ...]) -> tuple[list[str], int]:
    """``expand_inputs`` for a command: each argument that gives nothing is reported (one error line),
    and the count of them is returned with the paths. Nothing at all to read is an error."""
    problems: list[str] = []
    paths = expand_inputs(args, extensions, problems)
    if not paths:
        raise HwocrError("; ".join(problems) or "nothing to read")
    for msg in problems:
        fail(msg)
    return paths, len(problems)


#: bytes read from standard input at most (a line image or a page; the decoder bounds pixels)
MAX_STDIN_BYTES = 256 << 20


def source(path: str) -> tuple[str, str | bytes]:
    """(name for messages, what to load): a path as it is, ``-`` as the bytes of standard input."""
    if path != STDIN:
        return path, path
    data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    if len(data) > MAX_STDIN_BYTES:
        raise HwocrError(f"<stdin>: more than {MAX_STDIN_BYTES >> 20} MB")
    if not data:
        raise HwocrError("<stdin>: empty input")
    return "<stdin>", data


def renamed(e: HwocrError, data: object, name: str) -> HwocrError:
    """``e`` with the loader's description of ``data`` (``<123 bytes>``) replaced by ``name``."""
    from .imageio import describe

    return type(e)(str(e).replace(describe(data), name, 1)) if not isinstance(data, str) else e


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses NaN (every comparison with NaN is false, so a range lets it
    through)."""

    def convert(self, value, param, ctx):
        import math

        rv = super().convert(value, param, ctx)
        if isinstance(rv, float) and math.isnan(rv):
            self.fail("NaN is not a number here", param, ctx)
        return rv


def check_outputs(outputs: dict[str, str | None], inputs: list[str], numbered: bool = True) -> None:
    """Before anything is read: each output file (option -> path; None: not asked for) is named, lies
    in a folder that exists, and neither it nor (``numbered``: there may be several pictures) a numbered
    sibling (OUT-1.png, OUT-2.png ...) is one of ``inputs`` (a preview or ``-o`` written over the image it reads). A usage error
    otherwise: before, a missing folder was found after every page was read, and the input was lost."""
    import os
    import re

    from .files import shown

    def brief(name: str) -> str:  # a path's end says most about it
        s = shown(name)
        return s if len(s) <= 60 else "..." + s[-57:]

    def same(a: Path, b: str) -> bool:
        try:
            return os.path.samefile(a, b)
        except (OSError, ValueError):
            return False

    for opt, out in outputs.items():
        if out is None:
            continue
        if not out:
            raise click.UsageError(f"{opt}: an empty file name")
        p = Path(out)
        if not p.parent.is_dir():
            raise click.UsageError(f"{opt} {brief(out)}: the folder {brief(str(p.parent))} does not exist")
        sibling = re.compile(re.escape(p.stem) + r"-\d+" + re.escape(p.suffix) + "$")
        for f in inputs:
            if f != STDIN and (same(p, f) or (numbered and sibling.match(Path(f).name)
                                              and same(p.parent, str(Path(f).parent)))):
                raise click.UsageError(f"{opt} {brief(out)} would overwrite the input {brief(f)}")


class PicturePath(click.Path):
    """A file to write a picture to: its suffix must name a format Pillow writes (.png, .jpg, .webp ...),
    checked before anything is read."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False)

    def convert(self, value, param, ctx):
        from PIL import Image

        rv = super().convert(value, param, ctx)
        fmt = Image.registered_extensions().get(Path(str(rv)).suffix.lower())
        if fmt is None or fmt not in Image.SAVE:
            self.fail(f"{str(rv)[:60]!r}: name a picture file (.png, .jpg, .webp, ...)", param, ctx)
        return rv
