"""``butterflyer up``: the main job (``make run``). Pipeline, then the served app.

Runs the local Kubeflow pipeline on the data (default: the shared butterflies-100
zip), which skips every step whose inputs are unchanged, then serves the
champion and the web page and prints the address.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from butterflyer.cli.console import console as make_console
from butterflyer.errors import ConfigError

DEFAULT_DATA = "../shared/datasets/butterflies-100.zip"
console = make_console()


def check_source(data: str) -> str:
    """The source as the pipeline should see it; a clear error when a local path is missing."""
    if "://" in data and not data.startswith("file://"):
        return data
    path = Path(data.removeprefix("file://")).expanduser()
    if not path.exists():
        hint = " (the default dataset)" if data == DEFAULT_DATA else ""
        raise ConfigError(f"data source {data}{hint} not found. Pass another one: "
                          "'butterflyer up --data PATH_OR_URL' or 'make run DATA=PATH_OR_URL' "
                          "(a folder of class folders, a .zip/.tar, an http(s) URL or a gs:// bucket)")
    return str(path.resolve())


def up_cmd(
    data: Annotated[str, typer.Option("--data", help="folder, .zip/.tar, URL or bucket")] = DEFAULT_DATA,
    host: Annotated[str, typer.Option(help="interface to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to serve on")] = 8000,
    model: Annotated[str, typer.Option(help="architecture to train")] = "efficientnet_lite0",
    epochs: Annotated[int, typer.Option(help="epochs (0: the training profile's default)")] = 0,
    profile: Annotated[str, typer.Option(help="training profile: auto, cpu-fast, full, best")] = "auto",
    compress: Annotated[bool, typer.Option("--compress/--no-compress", help="ship the pruned int8 model")]
    = True,
    min_top1: Annotated[float, typer.Option(help="test top-1 floor for promotion")] = 0.0,
    latency_budget_ms: Annotated[float, typer.Option(help="batch-1 CPU p50 limit for promotion")] = 250.0,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="skip unchanged steps")] = True,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="serve the champion afterwards")] = True,
    verbose: Annotated[bool, typer.Option("--verbose", help="print every task's full kfp log")] = False,
) -> None:
    """Run the pipeline on DATA (default: the shared butterflies-100 zip), then serve the champion."""
    from butterflyer.cli.pipeline import pipeline_params, print_run
    from butterflyer.pipeline.local import run_local

    started = time.perf_counter()
    source = check_source(data)
    params = pipeline_params(model=model, epochs=epochs, profile=profile, seed=0, compress=compress,
                             margin=0.0, min_top1=min_top1, latency_budget_ms=latency_budget_ms)
    result = run_local({"source": source, **params}, cache=cache, verbose=verbose)
    print_run(result)
    if result.champion is None:
        raise ConfigError("nothing to serve: no model was promoted (see the reason above); "
                          "lower --min-top1 or --latency-budget-ms, or promote one with 'butterflyer models "
                          "promote VERSION'")
    console.print(f"pipeline + checks took {time.perf_counter() - started:.0f}s")
    if not serve:
        return
    from butterflyer.serve.server import serve as run_server
    from butterflyer.serve.settings import DEFAULT_MODEL_URI, ServeSettings

    settings = ServeSettings.from_env(model_uri=DEFAULT_MODEL_URI, host=host, port=port)
    console.print(f"[bold green]ButterFlyer is up:[/] http://{settings.host}:{settings.port}/  "
                  f"(champion v{result.champion['version']}; Ctrl+C to stop)")
    run_server(settings)


def register(app: typer.Typer) -> None:
    """Add ``up`` to the main app."""
    app.command("up")(up_cmd)
