"""``butterflyer serve``: the identification API and web page on one port."""

from __future__ import annotations

from typing import Annotated

import typer

from butterflyer.serve.settings import ServeSettings


def serve_cmd(
    model: Annotated[str | None, typer.Option(help="model folder or models:/NAME@ALIAS "
                                              "(default models:/butterflyer@champion)")] = None,
    host: Annotated[str | None, typer.Option(help="interface to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000)")] = None,
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime threads (0: automatic)")] = None,
    refresh: Annotated[float | None, typer.Option(help="seconds between checks for a new champion (0: off)")]
    = None,
    max_upload_mb: Annotated[float | None, typer.Option(help="upload limit in MB (default 10)")] = None,
) -> None:
    """Serve the API (/v1/identify, /v1/species, /docs) and the web page at /."""
    from butterflyer.serve.server import serve

    limit = None if max_upload_mb is None else int(max_upload_mb * 1_000_000)
    settings = ServeSettings.from_env(model_uri=model, host=host, port=port, threads=threads,
                                      refresh_seconds=refresh, max_upload_bytes=limit)
    typer.echo(f"ButterFlyer on http://{settings.host}:{settings.port}/  (model {settings.model_uri})")
    serve(settings)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the main app."""
    app.command("serve")(serve_cmd)
