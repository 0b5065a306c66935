"""``butterflyer deploy vertex``: the champion to a Vertex AI endpoint (not run here: no GCP)."""

from __future__ import annotations

from typing import Annotated

import typer

from butterflyer.cli.console import console as make_console

deploy_app = typer.Typer(help="Deploy the champion model.", no_args_is_help=True)
console = make_console()


@deploy_app.command("vertex")
def vertex_cmd(
    project: Annotated[str, typer.Option(help="GCP project id")],
    region: Annotated[str, typer.Option(help="e.g. us-central1")],
    serving_image: Annotated[str, typer.Option(help="the serve image built from docker/serve.Dockerfile")],
    artifact_root: Annotated[str, typer.Option(help="gs:// folder to upload the model folder to")],
    model: Annotated[str, typer.Option(help="model URI")] = "models:/butterflyer@champion",
    endpoint: Annotated[str, typer.Option(help="endpoint display name (created if missing)")] = "butterflyer",
    machine_type: Annotated[str, typer.Option()] = "n1-standard-2",
    min_replicas: Annotated[int, typer.Option()] = 1,
    max_replicas: Annotated[int, typer.Option()] = 2,
    service_account: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Upload the model and serving container to the Vertex AI Model Registry and deploy an endpoint."""
    from butterflyer.deploy.vertex import deploy_to_vertex
    from butterflyer.registry.resolve import resolve_model_uri

    folder = resolve_model_uri(model)
    name = folder.name
    if model.startswith("models:/"):
        name = model.removeprefix("models:/").replace("@", "-").replace("/", "-")
    result = deploy_to_vertex(folder, {"project": project, "region": region, "serving_image": serving_image,
                                       "artifact_root": artifact_root, "endpoint": endpoint,
                                       "machine_type": machine_type, "min_replicas": min_replicas,
                                       "max_replicas": max_replicas, "service_account": service_account},
                              display_name=name)
    console.print(f"deployed {result['model']} to {result['endpoint']}")


def register(app: typer.Typer) -> None:
    """Add ``deploy`` to the main app."""
    app.add_typer(deploy_app, name="deploy")
