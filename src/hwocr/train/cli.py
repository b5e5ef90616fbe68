"""``hwocr finetune``: the click command (registered by hwocr.cli). torch is imported only when it runs."""

from __future__ import annotations

import sys

import click

from ..cli_common import FiniteFloatRange
from ..errors import HwocrError

INSTALL_HINT = "fine-tuning needs PyTorch: pip install 'hwocr[train]'"


class MissingTorch(HwocrError):
    """The [train] extra is not installed."""


def _require_torch() -> None:
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        raise MissingTorch(INSTALL_HINT) from None


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("-o", "--output", "out", required=True, type=click.Path(),
              help="Model folder to write (new or empty); use it as --engine MODEL_DIR.")
@click.option("--lang", type=click.Choice(["zh", "ja"]), default="zh", show_default=True, help="Language of the text.")
@click.option("--base", type=click.Choice(["ppocr"]), default="ppocr", show_default=True, help="Model to start from.")
@click.option("--minutes", type=FiniteFloatRange(0.1, 24 * 60), default=10.0, show_default=True,
              help="Training time budget (training stops earlier when the held-out samples stop improving).")
@click.option("--steps", type=click.IntRange(1, 100000), default=400, show_default=True, help="At most this many steps.")
@click.option("--layers", type=click.Choice(["head", "neck", "all"]), default="neck", show_default=True,
              help="Which layers to train: the classifier, the sequence neck and classifier, or everything.")
@click.option("--holdout", type=FiniteFloatRange(0.05, 0.5), default=0.2, show_default=True,
              help="Share of the samples held out to check the result.")
@click.option("--lr", type=FiniteFloatRange(1e-6, 1.0), default=None, help="Learning rate (default: by --layers).")
@click.option("--device", default=None, help="torch device (default: cuda when available, else cpu).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal).")
def finetune(folder, out, lang, base, minutes, steps, layers, holdout, lr, device, seed, progress):
    """Teach the recogniser your handwriting from FOLDER/labels.tsv (name<TAB>text per image).

    A share of the samples is held out; the result is written only if it reads them better than the
    base model, and the general synthetic set no worse."""
    _require_torch()
    from tqdm import tqdm

    from .finetune import finetune as run
    from .loop import TrainConfig

    defaults = TrainConfig()
    cfg = TrainConfig(scope=layers, minutes=minutes, max_steps=steps, seed=seed,
                      lr=lr if lr is not None else (defaults.lr if layers != "all" else defaults.lr / 3))
    show = progress if progress is not None else sys.stderr.isatty()
    with tqdm(total=steps, unit="step", file=sys.stderr, disable=not show, leave=False) as bar:
        def report(step: int, total: int, heldout: float, best: float) -> None:
            bar.update(step - bar.n)
            bar.set_postfix_str(f"held-out 1-CER {heldout:.4f} (best {best:.4f})")

        res = run(folder, out, lang=lang, base=base, config=cfg, holdout=holdout, device=device, progress=report)
    r = res.report
    skipped = ", ".join(f"{n} {why}" for why, n in res.data["skipped"].items())
    click.echo(f"held-out 1-CER {r.base.heldout:.4f} -> {r.best.heldout:.4f} ({res.data['heldout']} samples), "
               f"general synthetic set {r.base.general:.4f} -> {r.best.general:.4f}; "
               f"{r.steps} steps in {r.seconds:.0f} s (best at step {r.best_step}, stopped: {r.stopped})"
               + (f"; skipped: {skipped}" if skipped else ""), err=True)
    click.echo(str(res.directory))
