"""``butterflyer identify``: name the butterflies in photos from the command line.

Same code path and JSON fields as ``POST /v1/identify``. ``butterflyer fit-serving``
chooses a model's gate and roll-up thresholds on the validation split.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from butterflyer.cli.console import console as make_console
from butterflyer.errors import ButterflyerError, ImageError
from butterflyer.serve.settings import DEFAULT_MODEL_URI, ServeSettings

if TYPE_CHECKING:
    from butterflyer.serve.identify import Identifier

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders become their image files (recursively, sorted)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = (p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            out.extend(sorted(found))
        else:
            out.append(path)
    return out


def identify_cmd(
    paths: Annotated[list[Path], typer.Argument(help="image files or folders of images")],
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per image")] = False,
    model: Annotated[str, typer.Option(help="model folder or models:/NAME@ALIAS")] = DEFAULT_MODEL_URI,
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime threads (0: automatic)")] = None,
    explain_dir: Annotated[Path | None, typer.Option(help="write a heatmap PNG per image here")] = None,
    save: Annotated[bool, typer.Option("--save", help="save each photo as a sighting (resumable)")] = False,
    keep_photo: Annotated[bool, typer.Option(help="with --save, keep the original photos too")] = False,
    report: Annotated[Path | None, typer.Option(help="write an HTML report here, a Darwin Core CSV "
                                                     "beside it (resumable)")] = None,
) -> None:
    """Identify the butterfly or moth in each photo; --save/--report run a resumable batch."""
    from butterflyer.serve.identify import Identifier

    settings = ServeSettings.from_env(model_uri=model, threads=threads)
    ident = Identifier.load(settings.model_uri, settings)
    if save or report is not None:
        _batch(ident, paths, save=save, keep_photo=keep_photo, report=report)
        return
    console = make_console()
    table = Table("file", "verdict", "answer", "top alternatives")
    failures = 0
    for path in expand_paths(paths):
        try:
            result = ident.identify_path(path, explain=explain_dir is not None)
        except (ImageError, OSError) as exc:
            failures += 1
            reason = exc.reason if isinstance(exc, ImageError) else "unreadable"
            if as_json:
                print(json.dumps({"file": str(path), "error": reason, "detail": str(exc)}), flush=True)
            else:
                table.add_row(str(path), f"[red]error: {reason}[/]", str(exc), "")
            continue
        if explain_dir is not None and result.heatmap_png:
            _write_heatmap(explain_dir, path, result.heatmap_png)
            result.heatmap_png = None
        if as_json:
            print(result.model_dump_json(), flush=True)
        else:
            alts = ", ".join(f"{g.common_name} {_pct(g.probability)}" for g in result.top_k[1:4])
            table.add_row(str(path), result.verdict, result.message, alts)
    if not as_json:
        console.print(table)
    if failures:
        raise typer.Exit(code=1)


def _batch(ident: Identifier, paths: list[Path], save: bool, keep_photo: bool, report: Path | None) -> None:
    """The batch: a progress bar over run_batch, then the report and the Darwin Core CSV."""
    import hashlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from butterflyer.paths import home
    from butterflyer.sightings.batch import run_batch
    from butterflyer.sightings.report import write_batch_outputs
    from butterflyer.sightings.store import SightingStore

    photos = expand_paths(paths)
    root = paths[0] if len(paths) == 1 and paths[0].is_dir() else None
    if report is not None:
        state_dir = report.with_suffix(".batch")
    else:
        key = hashlib.sha256("\n".join(str(p.resolve()) for p in paths).encode()).hexdigest()[:16]
        state_dir = home() / "batch" / key
    store = SightingStore() if save else None
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=make_console(stderr=True)) as bar:
        task = bar.add_task("identifying", total=len(photos))
        outcome = run_batch(ident, photos, state_dir, root=root, store=store,
                            keep_photo=keep_photo,
                            progress=lambda done, total, _key: bar.update(task, completed=done))
    groups = ", ".join(f"{name} {n}" for name, n in sorted(outcome.groups.items()))
    print(f"{len(photos)} photos ({outcome.resumed} done before, {outcome.done_now} now): {groups}; "
          f"{outcome.saved} saved as sightings" if save else
          f"{len(photos)} photos ({outcome.resumed} done before, {outcome.done_now} now): {groups}")
    if report is not None:
        html_path, dwc_path = write_batch_outputs(outcome, report, ident.catalog)
        print(f"report: {html_path}\nDarwin Core: {dwc_path}")


def _pct(p: float) -> str:
    return "<1%" if p < 0.005 else f"{p:.0%}"


def _write_heatmap(folder: Path, source: Path, data_url: str) -> None:
    import base64

    from butterflyer.fileio import atomic_write_bytes

    payload = base64.b64decode(data_url.split(",", 1)[1])
    atomic_write_bytes(folder / f"{source.stem}.heatmap.png", payload)


def fit_serving_cmd(
    model: Annotated[Path, typer.Argument(help="model folder, or training run folder")],
    records: Annotated[str | None, typer.Option(help="records folder (default: <home>/records)")] = None,
    per_class: Annotated[int, typer.Option(help="training photos per species for the gate profile")] = 30,
    target_precision: Annotated[float, typer.Option(help="required precision of each roll-up rank")] = 0.95,
    tune_split: Annotated[str, typer.Option(help="split the thresholds are chosen on")] = "val",
    measure_split: Annotated[str | None, typer.Option(help="split to report the gate on (e.g. test)")] = None,
    write: Annotated[bool, typer.Option(help="store the result in the model's meta.json")] = True,
    threads: Annotated[int, typer.Option(help="ONNX Runtime threads (0: automatic)")] = 1,
) -> None:
    """Fit the not-a-butterfly gate and roll-up thresholds on train/validation photos."""
    from butterflyer.models.folder import resolve_model_folder
    from butterflyer.paths import records_dir
    from butterflyer.serve.fit import fit_model_folder, measure_gate, records_examples
    from butterflyer.serve.identify import Identifier
    from butterflyer.serve.session import load_served_model

    model = resolve_model_folder(model)
    source = records or str(records_dir())
    serving = fit_model_folder(model, source, per_class=per_class, tune_split=tune_split,
                               target_precision=target_precision, threads=threads, write=write)
    report: dict[str, object] = {"thresholds": serving["thresholds"], "fitted": serving["fitted"]}
    if write:
        report["written"] = str(model / "meta.json")
    if measure_split:
        served = load_served_model(str(model), threads)
        served.meta.extra["serving"] = serving
        ident = Identifier.from_model(served, ServeSettings.from_env(model_uri=str(model), threads=threads))
        report[f"gate_on_{measure_split}"] = measure_gate(ident, records_examples(source, measure_split))
    json.dump(report, sys.stdout, indent=2)
    print()


def register(app: typer.Typer) -> None:
    """Add ``identify`` and ``fit-serving`` to the main app."""
    app.command("identify")(identify_cmd)
    app.command("fit-serving")(fit_serving_cmd)


__all__ = ["ButterflyerError", "expand_paths", "register"]
