"""``finetune``: a folder of a person's labelled images -> a model directory that reads them better.

Steps: load and check the folder; hold a part out; measure the base model on it and on the packaged
general synthetic set; train (see loop.py); refuse the result unless it reads the held-out part
better and the general set no worse (within a tolerance); write the directory (ONNX = the base
graph with the new weights, charlist, model card, training report) and check it reads as trained.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from .. import __version__
from ..charsets import language_filter
from ..decode import class_mask
from ..engines.modelcard import CARD_NAME, ModelCard, card_input, save_card
from ..errors import HwocrError
from ..registry import PPOCR_REC, InputSpec
from ..store import packaged_path
from .data import load_folder
from .graph import OnnxModule
from .loop import (Frozen, Scorer, TrainConfig, TrainReport, WorseModelError, check_not_worse, pick_device, scope_start,
                   split_heldout, train)

BASES = ("ppocr",)
MODEL_FILE = "model.onnx"
CHARLIST_FILE = "charlist.txt"
REPORT_FILE = "report.json"


@dataclass(frozen=True)
class FinetuneResult:
    directory: Path
    report: TrainReport
    data: dict


def replay_dir(lang: str, part: str) -> Path:
    """The packaged synthetic lines of ``lang``: ``train`` (replayed) or ``check`` (the general set)."""
    return Path(str(resources.files("hwocr.train").joinpath("replay", lang, part)))


def base_model(base: str) -> tuple[Path, str, InputSpec, str]:
    """(ONNX path, name, input spec, sha256) of a base recogniser."""
    if base != "ppocr":
        raise HwocrError(f"unknown base model {base!r} (fine-tuning supports: {', '.join(BASES)})")
    assert PPOCR_REC.input is not None
    return packaged_path(PPOCR_REC), PPOCR_REC.name, PPOCR_REC.input, PPOCR_REC.sha256


def charset_of(model: OnnxModule) -> tuple[str, ...]:
    """PaddleOCR CTC classes: blank, the model's character list, a space."""
    meta = {p.key: p.value for p in model.proto.metadata_props}
    if "character" not in meta:
        raise HwocrError("the base model carries no character list")
    return ("", *meta["character"].split("\n"), " ")


def finetune(folder: str | Path, out: str | Path, *, lang: str = "zh", base: str = "ppocr",
             config: TrainConfig = TrainConfig(), holdout: float = 0.2, device: str | None = None,
             progress: Callable[[int, int, float, float], None] | None = None,
             replay: str | Path | None = None, general: str | Path | None = None) -> FinetuneResult:
    """Fine-tune ``base`` on ``folder`` (a seeded ``holdout`` share held out for early stopping and
    the final check) and write the model directory ``out``. ``replay`` / ``general``: labelled
    folders replacing the packaged synthetic replay lines / general set of ``lang``."""
    # the folder itself, not the name given: the model is written by renaming a sibling folder onto it,
    # which failed after the training for a link to an empty folder (rmdir of a link), a dangling link
    # and "-o ." (the sibling folder was made inside it)
    out = Path(os.path.realpath(out))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HwocrError(f"{out}: already exists and is not an empty folder (choose a new -o folder)")
    _check_writable(out)  # before training, not after minutes of it
    dev = pick_device(device)  # before the samples are read, too
    path, name, spec, sha = base_model(base)
    model = OnnxModule.load(path)
    charset = charset_of(model)
    keep = language_filter(lang)
    data = load_folder(folder, charset, spec, allowed=keep)
    train_set, held = split_heldout(data.samples, holdout, config.seed)
    replay_set = load_folder(replay or replay_dir(lang, "train"), charset, spec).samples if config.replay > 0 else []
    general_set = load_folder(general or replay_dir(lang, "check"), charset, spec).samples
    model.to(dev)
    mask = class_mask(charset, keep)
    frozen = Frozen(model, scope_start(model, config.scope), dev)
    report = train(model, frozen, train_set, Scorer(held, spec, charset, mask, frozen),
                   Scorer(general_set, spec, charset, mask, frozen), replay_set, spec, config, progress)
    try:
        check_not_worse(report.base, report.best, config.general_tolerance, report.history)
    except WorseModelError as e:
        e.report = report  # what was tried (every evaluation), for the caller
        raise
    summary = {**data.summary(), "train": len(train_set), "heldout": len(held), "replay": len(replay_set),
               "general": len(general_set)}
    write_model_dir(out, model.cpu(), charset, spec, lang, report,
                    {"base": name, "base_sha256": sha, "created": dt.datetime.now(dt.timezone.utc).isoformat(
                        timespec="seconds"), "hwocr": __version__, "lang": lang, "data": summary})
    return FinetuneResult(out, report, summary)


def _check_writable(out: Path) -> None:
    """``out`` can be made: its nearest existing folder above it is a folder this user may write."""
    above = out.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir() or not os.access(above, os.W_OK | os.X_OK):
        raise HwocrError(f"{out}: cannot be created ({above} is not a folder this user may write in)")


def write_model_dir(out: Path, model: OnnxModule, charset: tuple[str, ...], spec: InputSpec, lang: str,
                    report: TrainReport, provenance: dict) -> Path:
    """Write the directory atomically: built in a sibling temporary folder, then renamed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a model folder is an ordinary one
    try:
        model.write_onnx(tmp / MODEL_FILE)
        # classes 1..C-2; the trailing space class is recognised from the model's output size
        (tmp / CHARLIST_FILE).write_text("".join(c + "\n" for c in charset[1:-1]), encoding="utf-8")
        (tmp / REPORT_FILE).write_text(json.dumps({"provenance": provenance, **report.to_dict()}, indent=1,
                                                  ensure_ascii=False) + "\n", encoding="utf-8")
        inp = card_input(spec)
        card = ModelCard(name=f"{provenance['base']}-finetuned", model=MODEL_FILE, charlist=CHARLIST_FILE,
                         lang="multi",  # the charlist is the base's (zh, ja, Latin): read with --lang
                         input=inp, decoder="beam", provenance=provenance, report=REPORT_FILE)
        save_card(card, tmp)
        if out.exists():
            _move_into(tmp, out)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / CARD_NAME


def _move_into(tmp: Path, out: Path) -> None:
    """The files of ``tmp`` moved into the empty folder ``out``, its card last (only then is it a model;
    on failure the files already moved are taken out again). Replacing the folder instead left a shell
    whose ``-o .`` it was in a deleted folder."""
    moved = []
    try:
        for f in sorted(tmp.iterdir(), key=lambda f: f.name == CARD_NAME):
            f.rename(out / f.name)
            moved.append(out / f.name)
        tmp.rmdir()
    except BaseException:
        for f in moved:
            f.unlink(missing_ok=True)
        raise
