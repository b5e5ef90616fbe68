"""``hwocr batch``: the command line of :mod:`hwocr.batch` (registered by :mod:`hwocr.cli`)."""

from __future__ import annotations

import os
import sys

import click

from ..cli_common import FiniteFloatRange, fail, lang_option, not_empty, precision_option
from ..errors import HwocrError
from ..jsontext import dumps


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


@click.command("batch")
@click.argument("inputs", nargs=-1)
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False), callback=not_empty,
              help="Output folder: JSON-lines shards of page records (resumable: a rerun skips what is there).")
@click.option("--manifest", "manifests", multiple=True, type=click.Path(dir_okay=False),
              help="File listing inputs, one path per line (repeatable; also as @FILE).")
@click.option("--workers", type=click.IntRange(1, 512), default=None,
              help="Worker processes of the local cluster or pool (default: one per CPU).")
@click.option("--address", callback=not_empty, help="Join an existing Dask cluster (e.g. tcp://10.0.0.5:8786) instead of starting one.")
@click.option("--runner", type=click.Choice(["auto", "dask", "local"]), default="auto", show_default=True,
              help="dask (hwocr[cluster]), local processes, or auto: dask when installed.")
@click.option("--in-flight", type=click.IntRange(1, 100_000), default=None,
              help="Pages submitted and not yet returned (default: twice the worker threads).")
@click.option("--shard-size", type=click.IntRange(1, 1_000_000), default=256, show_default=True,
              help="Records per output shard (a shard is also written every --commit-seconds).")
@click.option("--commit-seconds", type=FiniteFloatRange(0.0, 3600.0), default=5.0, show_default=True)
@lang_option
@click.option("--engine", default="ppocr", show_default=True, help="Line recogniser: ppocr, omz or a model path.")
@click.option("--detector", default="ppocr", show_default=True, help="Line detector: ppocr, omz or an IR .xml.")
@click.option("--device", default="CPU", show_default=True, help="OpenVINO device.")
@click.option("--decoder", type=click.Choice(["greedy", "beam"]), default=None)
@precision_option
@click.option("--direction", type=click.Choice(["auto", "horizontal", "vertical"]), default="auto", show_default=True)
@click.option("--vertical", type=click.Choice(["both", "rotate", "reflow"]), default="both", show_default=True)
@click.option("--dpi", type=FiniteFloatRange(10, 1200), default=200, show_default=True, help="PDF rendering resolution.")
@click.option("--model-dir", type=click.Path(file_okay=False))
@click.option("--offline", is_flag=True, default=None)
@click.option("--hocr", is_flag=True, help="Also write OUT/docs/NAME.hocr for each document whose pages all read.")
@click.option("--pdf", is_flag=True, help="Also write a searchable OUT/docs/NAME.pdf for each such document.")
@click.option("--retry-failed", is_flag=True,
              help="Read again the pages an earlier run recorded as failed (a rerun skips them otherwise).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: on a terminal).")
def batch(inputs, out, manifests, workers, address, runner, in_flight, shard_size, commit_seconds, hocr, pdf,
          retry_failed, as_json, progress, **opts):
    """Read every page of INPUTS (files, folders, glob patterns, PDFs, multi-page TIFFs, @manifest) into
    OUT, on a Dask cluster or local processes. Rerun the same command to resume: pages already written
    are skipped, none is written twice; a bad file is recorded with its reason and the job goes on."""
    from tqdm import tqdm

    from .job import Commit, run_job
    from .runners import have_dask, open_runner
    from .settings import Settings

    if not inputs and not manifests:
        raise HwocrError("give the pages to read: files, folders, patterns or --manifest FILE")
    settings = Settings(**{**opts, "dpi": float(opts["dpi"])})
    n = workers or _default_workers()

    def factory():
        if runner == "auto" and not address and not have_dask():
            click.echo(f"hwocr: Dask distributed is not installed: reading in {n} local process{'es' if n > 1 else ''} "
                       f"(pip install 'hwocr[cluster]' for a cluster)", err=True)
        r = open_runner(runner, settings, n, address, in_flight)
        click.echo(f"hwocr: reading on {r.description}", err=True)
        return r

    show = progress if progress is not None else sys.stderr.isatty()
    with tqdm(total=0, unit="page", file=sys.stderr, disable=not show, leave=False) as bar:
        def tick(done: int, total: int) -> None:
            bar.total = max(total, done)
            bar.n = done
            bar.refresh()

        summary = run_job(inputs, out, settings, factory, manifests=manifests,
                          commit=Commit(shard_size, commit_seconds), progress=tick,
                          exports=[f for f, on in (("hocr", hocr), ("pdf", pdf)) if on], retry_failed=retry_failed)
    from ..files import shown

    for msg in summary.input_errors:
        fail(msg)
    for f in summary.failures:
        click.echo(f"hwocr: failed: {shown(f['error'])}", err=True)
    if as_json:
        click.echo(dumps(summary.to_dict()))
    else:
        click.echo(summary.text())
    if summary.failed_total or summary.input_errors:
        sys.exit(1)
