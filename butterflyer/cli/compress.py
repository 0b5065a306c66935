"""``butterflyer compress``: prune + distil + int8 (``run``), and the single steps
``export`` (ONNX) and ``quantize`` (static int8). Thin wrappers over
:mod:`butterflyer.compress`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from butterflyer.cli.console import console as make_console

console = make_console(stderr=True)
compress_app = typer.Typer(help="Prune, distil, export to ONNX and quantize models, with a report.",
                           no_args_is_help=True)


def _latest_model() -> Path:
    """The newest saved PyTorch model under the home folder's runs/."""
    from butterflyer.errors import ModelError
    from butterflyer.paths import runs_dir

    found = [p.parent for p in runs_dir().rglob("model.safetensors") if (p.parent / "meta.json").is_file()]
    if not found:
        raise ModelError("no trained model found under runs/; "
                         "train one ('butterflyer train') or pass MODEL_DIR")
    return max(found, key=lambda p: (p / "model.safetensors").stat().st_mtime)


@compress_app.command("run")
def run_cmd(
    model_dir: Annotated[Path | None, typer.Argument(
        help="Teacher model folder or training run folder (default: the newest run).")] = None,
    input: Annotated[str, typer.Option(
        "--input", "-i", help="Records URI (default: home/records).")] = "",
    output: Annotated[Path | None, typer.Option(
        help="Output folder (default: home/models/TEACHER-compressed).")] = None,
    profile: Annotated[str, typer.Option(help="fast (CPU, minutes) | full (deeper cut, long).")] = "fast",
    target: Annotated[float | None, typer.Option(help="Fraction of MACs/params to keep, e.g. 0.8.")] = None,
    metric: Annotated[str | None, typer.Option(help="macs | params.")] = None,
    steps: Annotated[int | None, typer.Option(help="Prune + distil rounds.")] = None,
    finetune_steps: Annotated[int | None, typer.Option(help="Distillation steps per round.")] = None,
    finetune_stages: Annotated[int | None, typer.Option(
        help="Prune and distil only the last N stages, on cached maps of the others.")] = None,
    finetune_epochs: Annotated[int | None, typer.Option(help="Epochs per round (late-stage mode).")] = None,
    train_resolution: Annotated[int | None, typer.Option(help="Fine-tuning input size.")] = None,
    train_per_class: Annotated[int | None, typer.Option(help="Train images per class for tuning.")] = None,
    max_top1_drop: Annotated[float | None, typer.Option(
        help="Max val top-1 loss to ship, a fraction (0.01 = 1 point).")] = None,
    gate_check: Annotated[bool | None, typer.Option(
        "--gate-check/--no-gate-check",
        help="Ship only a model whose fitted not-a-butterfly gate rejects bundled everyday photos.")] = None,
    min_everyday_rejected: Annotated[float | None, typer.Option(
        help="Least fraction of those photos the shipped model's gate must reject.")] = None,
    vgg16: Annotated[bool | None, typer.Option("--vgg16/--no-vgg16", help="Add the VGG16 rows.")] = None,
    vgg16_dir: Annotated[str | None, typer.Option(help="A trained VGG16 folder for those rows.")] = None,
) -> None:
    """Compress a trained model; prints the folder of the model to ship."""
    from butterflyer.compress.config import profile_config
    from butterflyer.compress.stage import compress
    from butterflyer.errors import ConfigError
    from butterflyer.models.folder import resolve_model_folder
    from butterflyer.paths import models_dir, records_dir

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    teacher = resolve_model_folder(model_dir) if model_dir else _latest_model()
    records = input or str(records_dir())
    if metric not in (None, "macs", "params"):
        raise ConfigError(f"--metric must be macs or params, got {metric!r}")
    config = profile_config(profile, target=target, metric=metric, steps=steps, finetune_steps=finetune_steps,
                            finetune_stages=finetune_stages, finetune_epochs=finetune_epochs,
                            train_resolution=train_resolution, train_per_class=train_per_class,
                            max_top1_drop=max_top1_drop, gate_check=gate_check,
                            min_everyday_rejected=min_everyday_rejected,
                            vgg16=vgg16, vgg16_dir=vgg16_dir)
    # a run's model sits in RUN/model/: name the output after the run
    name = teacher.parent.name if teacher.name == "model" else teacher.name
    out = output or models_dir() / f"{name}-compressed"
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def progress(message: str, done: int, total: int) -> None:
            bar.update(task, description=message, completed=done, total=total or None)

        result = compress(teacher, records, out, config, progress=progress)
    console.print(f"[bold green]shipped:[/] {result.shipped} -> {result.ship_dir}", highlight=False)
    for key, value in result.targets.items():
        if key not in ("shipped", "selection"):
            console.print(f"  {key:32s} {value}", highlight=False)
    console.print(f"  report                           {result.report_md}", highlight=False)
    typer.echo(str(result.ship_dir))


@compress_app.command("export")
def export_cmd(
    model_dir: Annotated[Path, typer.Argument(help="Saved model folder (or training run).")],
    output: Annotated[Path | None, typer.Option(help="Output folder (default: the model folder).")] = None,
) -> None:
    """Export a saved model to ONNX (input 'image', outputs 'logits' [+ 'imagenet_logits'])."""
    from butterflyer.compress.export import export_onnx
    from butterflyer.models.folder import resolve_model_folder

    typer.echo(str(export_onnx(resolve_model_folder(model_dir), output) / "model.onnx"))


@compress_app.command("quantize")
def quantize_cmd(
    onnx_dir: Annotated[Path, typer.Argument(help="Folder with model.onnx + meta.json.")],
    output: Annotated[Path, typer.Option(help="Output folder for the int8 model.")],
    input: Annotated[str, typer.Option("--input", "-i", help="Records URI; val images calibrate.")] = "",
    images: Annotated[int, typer.Option(help="Calibration images.")] = 256,
    method: Annotated[str, typer.Option(help="minmax | percentile | entropy.")] = "minmax",
) -> None:
    """Static int8 quantization (QDQ, per-channel weights) with ONNX Runtime."""
    from butterflyer.compress.quantize import quantize_int8
    from butterflyer.models.folder import resolve_model_folder
    from butterflyer.paths import records_dir

    out = quantize_int8(resolve_model_folder(onnx_dir), input or str(records_dir()), output, images, method)
    typer.echo(str(out / "model.onnx"))


def register(app: typer.Typer) -> None:
    """Add the ``compress`` command group to the main app."""
    app.add_typer(compress_app, name="compress")
