"""``butterflyer pipeline compile|run|submit``: the Kubeflow DAG, here or on Vertex AI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from butterflyer.cli.console import console as make_console
from butterflyer.errors import ConfigError

pipeline_app = typer.Typer(help="Compile, run locally (kfp.local) or submit (Vertex AI) the pipeline.",
                           no_args_is_help=True)
console = make_console()

DataOpt = Annotated[str, typer.Option("--data", help="folder, .zip/.tar, http(s) URL or bucket URI")]


def _json(value: str | None, flag: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{flag} must be a JSON object, e.g. '{{\"epochs\": 3}}': {exc}") from exc
    if not isinstance(parsed, dict):
        raise ConfigError(f"{flag} must be a JSON object, got {type(parsed).__name__}")
    return parsed


def pipeline_params(*, model: str, epochs: int, profile: str, seed: int, compress: bool, margin: float,
                    min_top1: float, latency_budget_ms: float, train_config: str | None = None,
                    compress_config: str | None = None, prepare_config: str | None = None,
                    compress_target: float = 0.0) -> dict[str, Any]:
    """Pipeline parameter values from CLI flags (shared by ``run``, ``submit`` and ``up``)."""
    return {"model": model, "epochs": epochs, "train_profile": profile, "seed": seed, "compress": compress,
            "compress_target": compress_target,
            "promotion_margin": margin, "min_top1": min_top1, "latency_budget_ms": latency_budget_ms,
            "train_config": _json(train_config, "--train-config"),
            "compress_config": _json(compress_config, "--compress-config"),
            "prepare_config": _json(prepare_config, "--prepare-config")}


@pipeline_app.command("compile")
def compile_cmd(
    output: Annotated[Path, typer.Option(help="where to write the spec")] = Path("pipeline.yaml"),
    check: Annotated[bool, typer.Option("--check", help="only verify that OUTPUT is up to date")] = False,
) -> None:
    """Compile the DAG to pipeline.yaml (kept in the repository; CI checks it is current)."""
    from butterflyer.pipeline.compile import compile_pipeline, compiled_text

    if check:
        current = output.read_text(encoding="utf-8") if output.is_file() else ""
        if current != compiled_text():
            raise ConfigError(f"{output} is out of date; run 'butterflyer pipeline compile' and commit it")
        console.print(f"{output} is up to date")
        return
    console.print(f"wrote {compile_pipeline(output)}")


@pipeline_app.command("run")
def run_cmd(
    data: DataOpt = "../shared/datasets/butterflies-100.zip",
    model: Annotated[str, typer.Option(help="architecture")] = "efficientnet_lite0",
    epochs: Annotated[int, typer.Option(help="epochs (0: the training profile's default)")] = 0,
    profile: Annotated[str, typer.Option(help="training profile: auto, cpu-fast, full, best")] = "auto",
    seed: Annotated[int, typer.Option()] = 0,
    compress: Annotated[bool, typer.Option("--compress/--no-compress", help="prune+int8 the shipped model")]
    = True,
    margin: Annotated[float, typer.Option(help="top-1 gain needed to replace the champion")] = 0.0,
    min_top1: Annotated[float, typer.Option(help="test top-1 floor for any promotion")] = 0.0,
    latency_budget_ms: Annotated[float, typer.Option(help="batch-1 CPU p50 limit for promotion")] = 250.0,
    train_config: Annotated[str | None, typer.Option(help="JSON of extra TrainConfig fields")] = None,
    compress_target: Annotated[float, typer.Option(
        help="prune to this fraction of the MACs (0: no pruning, the teacher's int8 model ships)")]
    = 0.0,
    compress_config: Annotated[str | None, typer.Option(help="JSON of CompressConfig fields")] = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="skip steps whose inputs are unchanged")]
    = True,
    verbose: Annotated[bool, typer.Option("--verbose", help="print every task's full kfp log")] = False,
) -> None:
    """Run the whole DAG on this machine with kfp.local (collect -> ... -> register -> deploy)."""
    from butterflyer.pipeline.local import run_local

    params = pipeline_params(model=model, epochs=epochs, profile=profile, seed=seed, compress=compress,
                             margin=margin, min_top1=min_top1, latency_budget_ms=latency_budget_ms,
                             train_config=train_config, compress_config=compress_config,
                             compress_target=compress_target)
    result = run_local({"source": data, **params}, cache=cache, verbose=verbose)
    print_run(result)


def print_run(result: Any) -> None:
    """A short summary of a local run: each step's time and whether it was reused (and why), then the
    promotion decision and the champion with its figures."""
    console.print(f"[bold]pipeline finished[/] in {result.seconds:.0f}s"
                  + (f" (task logs: {result.log})" if result.log else ""))
    for step in result.steps:
        state = "reused" if step["cached"] else "ran"
        console.print(f"  {step['step']:<14} {step['seconds']:>7.1f}s  {state:<6} {step['reason']}",
                      highlight=False)
    if result.candidate:
        from butterflyer.registry.promotion import recorded_decision

        decision, reason = recorded_decision(result.candidate["tags"])
        console.print(f"candidate v{result.candidate['version']}: {decision} - {reason}")
    if result.champion:
        metrics = result.champion["metrics"]
        tags = result.champion["tags"]
        figures = [f"{label} {metrics[key]:.2%}" for key, label in
                   (("test_top1", "test top-1"), ("test_top5", "top-5")) if key in metrics]
        if "latency_ms_p50" in metrics:
            figures.append(f"p50 {metrics['latency_ms_p50']:.1f} ms")
        console.print(f"champion: v{result.champion['version']} ({tags.get('architecture')}, "
                      f"{tags.get('stage')}): {', '.join(figures) or 'no figures recorded'}")
    else:
        console.print("[yellow]no champion yet[/]: no candidate was promoted")


@pipeline_app.command("submit")
def submit_cmd(
    project: Annotated[str, typer.Option(help="GCP project id")],
    region: Annotated[str, typer.Option(help="e.g. us-central1")],
    pipeline_root: Annotated[str, typer.Option(help="gs:// folder for pipeline outputs")],
    image: Annotated[str, typer.Option(help="image prefix REGISTRY/REPO[:TAG] (docker/ builds <prefix>/"
                                            "{data,train,compress,workflow})")],
    data: Annotated[str, typer.Option("--data", help="gs:// or https:// source")],
    accelerator: Annotated[str, typer.Option(help="train step GPU type")] = "NVIDIA_L4",
    gpus: Annotated[int, typer.Option(help="GPUs for the train step (0: CPU)")] = 1,
    service_account: Annotated[str | None, typer.Option(help="service account to run as")] = None,
    model: Annotated[str, typer.Option()] = "efficientnet_lite0",
    epochs: Annotated[int, typer.Option()] = 0,
    profile: Annotated[str, typer.Option()] = "auto",
    margin: Annotated[float, typer.Option()] = 0.0,
    min_top1: Annotated[float, typer.Option()] = 0.0,
    latency_budget_ms: Annotated[float, typer.Option()] = 250.0,
    wait: Annotated[bool, typer.Option(help="wait for the job to finish")] = False,
) -> None:
    """Submit the pipeline to Vertex AI Pipelines (train on a GPU)."""
    from butterflyer.pipeline.vertex import submit_pipeline

    params = pipeline_params(model=model, epochs=epochs, profile=profile, seed=0, compress=True,
                             margin=margin, min_top1=min_top1, latency_budget_ms=latency_budget_ms)
    job = submit_pipeline({"project": project, "region": region, "pipeline_root": pipeline_root,
                           "image": image, "source": data, "accelerator": accelerator, "gpus": gpus,
                           "service_account": service_account, "params": params}, wait=wait)
    console.print(f"submitted {getattr(job, 'resource_name', job)}")


def register(app: typer.Typer) -> None:
    """Add ``pipeline`` to the main app."""
    app.add_typer(pipeline_app, name="pipeline")
