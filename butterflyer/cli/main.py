"""The ``butterflyer`` command: one sub-command group per pipeline stage.

Each ``butterflyer.cli.<stage>`` module exposes ``register(app)`` and stays a thin
wrapper over library functions. Our own errors become a one-line message and exit
status 2 here, at the edge; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from butterflyer.cli.console import console as make_console
from butterflyer.errors import ButterflyerError

STAGES = ("data", "train", "evaluate", "compress", "identify", "serve", "chat", "pipeline", "models",
          "deploy", "up")

app = typer.Typer(
    name="butterflyer",
    help="ButterFlyer: raw butterfly photos to a served identifier and a field-guide chatbot.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _stage in STAGES:
    importlib.import_module(f"butterflyer.cli.{_stage}").register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except ButterflyerError as exc:
        # soft_wrap: one line whatever the terminal width (Rich would wrap at COLUMNS, or 80 with no TTY)
        make_console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
