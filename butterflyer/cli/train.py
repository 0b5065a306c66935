"""``butterflyer train``: a thin wrapper over :func:`butterflyer.train.trainer.train`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from butterflyer.cli.console import console as make_console

if TYPE_CHECKING:
    from butterflyer.train.config import TrainConfig, TrainResult

console = make_console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add ``train`` to the main app."""

    @app.command("train")
    def train_cmd(
        input: Annotated[
            str, typer.Option("--input", "-i", help="Records URI (folder with manifest.json).")
        ] = "",
        output: Annotated[
            str, typer.Option(help="Run folder or bucket URI (default: BUTTERFLYER_HOME/runs/...).")
        ] = "",
        gpu: Annotated[int, typer.Option(help="GPUs to use; N > 1 launches N DDP processes (NCCL).")] = 0,
        nproc: Annotated[
            int | None, typer.Option(help="Processes on CPU (gloo DDP), e.g. to test DDP.")
        ] = None,
        model: Annotated[
            str, typer.Option(help="efficientnet_lite0|1|2, vgg16, tiny.")
        ] = "efficientnet_lite0",
        weights: Annotated[
            str | None, typer.Option(help="Backbone weights (.safetensors/.pth path or URI).")
        ] = None,
        epochs: Annotated[
            int | None, typer.Option(help="Epochs of the full profile, head stage included (default 10).")
        ] = None,
        head_epochs: Annotated[int, typer.Option(help="Epochs with the backbone frozen.")] = 1,
        batch_size: Annotated[int, typer.Option(help="Per-process batch size.")] = 64,
        lr: Annotated[float, typer.Option(help="Peak learning rate of the head.")] = 1e-3,
        resume: Annotated[bool, typer.Option(help="Continue from the run folder's last checkpoint.")] = False,
        profile: Annotated[
            str, typer.Option(help="auto | cpu-fast | full | best (longest schedule; see README).")
        ] = "auto",
        seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
        compile: Annotated[bool, typer.Option("--compile", help="torch.compile the model.")] = False,
        tracker: Annotated[str, typer.Option(help="mlflow | wandb | none.")] = "mlflow",
        tracking_uri: Annotated[
            str | None, typer.Option(help="MLflow tracking URI (default: SQLite in home).")
        ] = None,
        augment: Annotated[str, typer.Option(help="trivial | randaugment | none.")] = "trivial",
        patience: Annotated[int, typer.Option(help="Early-stopping patience in epochs (0 = off).")] = 3,
        finetune_epochs: Annotated[
            int | None, typer.Option(help="cpu-fast: late-stage fine-tune epochs (default 0 = head only).")
        ] = None,
        finetune_blocks: Annotated[
            int | None,
            typer.Option(help="cpu-fast: last stages fine-tuned with conv_head on cached maps (default 1)."),
        ] = None,
        fast_flip: Annotated[
            str, typer.Option(help="cpu-fast cached augmentation: maps (free) | images (2nd pass) | none.")
        ] = "maps",
        threads: Annotated[
            int | None, typer.Option(help="CPU threads (default: all cores, 1 if the machine is busy).")
        ] = None,
        workers: Annotated[int, typer.Option(help="DataLoader worker processes.")] = 0,
        run_name: Annotated[str | None, typer.Option(help="Name of the run (folder and tracker).")] = None,
    ) -> None:
        """Train a model on records; saves model.safetensors + meta.json and a test report."""
        from butterflyer.train.config import TrainConfig

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        options: dict[str, Any] = dict(
            input=input,
            output=output,
            gpu=gpu,
            nproc=nproc,
            model=model,
            weights=weights,
            epochs=epochs,
            head_epochs=head_epochs,
            batch_size=batch_size,
            lr=lr,
            resume=resume,
            profile=profile,
            seed=seed,
            compile=compile,
            tracker=tracker,
            tracking_uri=tracking_uri,
            augment=augment,
            patience=patience,
            fast_finetune_epochs=finetune_epochs,
            fast_finetune_blocks=finetune_blocks,
            fast_flip=fast_flip,
            threads=threads,
            num_workers=workers,
            run_name=run_name,
        )
        # options left unset keep TrainConfig's defaults (and let --profile best choose them)
        result = _train_with_progress(TrainConfig(**{k: v for k, v in options.items() if v is not None}))
        _print_result(result)
        typer.echo(str(result.model_dir))


SHOWN_METRICS = ("val_top1", "test_top1", "test_top5", "test_ece", "test_ece_calibrated", "temperature",
                 "imagenet_agreement_val", "time_train_s")


def _train_with_progress(cfg: TrainConfig) -> TrainResult:
    """Train with a progress bar per phase and one line per epoch on stderr."""
    from butterflyer.train.trainer import train

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(TaskID(tasks[name]), completed=done)

        def on_epoch(r: dict[str, float]) -> None:
            bar.console.print(f"epoch {int(r['epoch']):3d} stage {int(r.get('stage', 1))}  "
                              f"train loss {r.get('train_loss', float('nan')):.4f}  "
                              f"val top-1 {r['val_top1']:.4f}", highlight=False)

        return train(cfg, progress=progress, on_epoch=on_epoch)


def _print_result(result: TrainResult) -> None:
    """Where the model is and its headline figures."""
    console.print(f"[bold green]model:[/] {result.model_dir}", highlight=False)
    for key in SHOWN_METRICS:
        if key in result.metrics:
            console.print(f"  {key:24s} {result.metrics[key]:.4f}", highlight=False)
    if result.run_id:
        console.print(f"  tracking run id          {result.run_id}", highlight=False)
