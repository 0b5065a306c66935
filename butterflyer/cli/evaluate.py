"""``butterflyer evaluate``: a thin wrapper over :func:`butterflyer.train.evaluate.evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from butterflyer.cli.console import console as make_console

console = make_console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the main app."""

    @app.command("evaluate")
    def evaluate_cmd(
        model_dir: Annotated[
            Path, typer.Argument(help="Saved model folder, or the training run folder holding model/.")
        ],
        input: Annotated[str, typer.Option("--input", "-i", help="Records URI.")],
        split: Annotated[str, typer.Option(help="train | val | test.")] = "test",
        out: Annotated[
            Path | None, typer.Option(help="Report folder (default: <model>/../report-<split>).")
        ] = None,
        calibrate: Annotated[
            bool, typer.Option(help="Refit the temperature on val first (writes meta.json).")
        ] = False,
    ) -> None:
        """Top-1/top-5, per-class P/R/F1, confusion matrix, calibration; writes a report folder."""
        from butterflyer.models.folder import resolve_model_folder
        from butterflyer.train.evaluate import calibrate as fit_t
        from butterflyer.train.evaluate import evaluate

        model_dir = resolve_model_folder(model_dir)
        if calibrate:
            t = fit_t(model_dir, input)
            console.print(f"temperature fitted on val: {t:.3f}", highlight=False)
        r = evaluate(model_dir, input, split, out)
        console.print(
            f"top-1 {r['top1']:.4f}  top-5 {r['top5']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
            f"ECE {r['ece']:.4f} -> {r['ece_calibrated']:.4f} (T = {r['temperature']:.3f})",
            highlight=False,
        )
        typer.echo(r["report_dir"])
