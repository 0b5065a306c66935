"""``butterflyer models list|show|register|decide|promote|rollback``: the model registry."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from butterflyer.cli.console import console as make_console

models_app = typer.Typer(help="Registered models, their lineage, and the champion/challenger aliases.",
                         no_args_is_help=True)
console = make_console()
if not console.is_terminal:  # piped output: keep table rows on one line
    console = make_console(width=160)
NameOpt = Annotated[str, typer.Option("--name", help="registered model name")]
RecordsOpt = Annotated[str, typer.Option("--records", help="records folder: re-evaluate the champion on the "
                                                           "challenger's test split when they differ")]
MarginOpt = Annotated[float, typer.Option(help="top-1 gain needed to replace the champion")]
FloorOpt = Annotated[float, typer.Option(help="test top-1 floor for any promotion")]
BudgetOpt = Annotated[float, typer.Option(help="batch-1 CPU p50 latency limit (ms)")]


@models_app.command("list")
def list_cmd(name: NameOpt = "butterflyer") -> None:
    """Every version, newest first, with aliases and test top-1."""
    from butterflyer.registry import store
    from butterflyer.registry.promotion import recorded_decision

    versions = store.list_versions(name)
    if not versions:
        console.print(f"no versions of {name!r} yet: run 'butterflyer up' or 'butterflyer models register'")
        return
    table = Table(title=f"models:/{name}")
    for col in ("version", "aliases", "architecture", "stage", "test top-1", "p50 ms", "data sha",
                "promotion", "created"):
        table.add_column(col, no_wrap=True)
    for v in versions:
        m = v.metrics
        decision, _ = recorded_decision(v.tags)
        top1 = m.get("test_top1")
        lat = m.get("latency_ms_p50")
        table.add_row(str(v.version), ",".join(v.aliases), v.tags.get("architecture", ""),
                      v.tags.get("stage", ""),
                      "" if top1 is None else f"{top1:.2%}", "" if lat is None else f"{lat:.1f}",
                      v.tags.get("data_manifest_sha256", "")[:12], decision,
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(v.created)))
    console.print(table)


@models_app.command("show")
def show_cmd(ref: Annotated[str, typer.Argument(help="version number or alias")] = "champion",
             name: NameOpt = "butterflyer",
             card: Annotated[bool, typer.Option("--card", help="print its MODEL_CARD.md instead")] = False
             ) -> None:
    """Lineage, metrics and aliases of one version (JSON), or its model card (--card)."""
    from butterflyer.registry import store

    info = store.get_version(ref, name)
    if card:
        from butterflyer.registry.model_card import read_model_card
        from butterflyer.registry.resolve import resolve_model_uri

        print(read_model_card(resolve_model_uri(info.uri)), end="")
        return
    console.print_json(json.dumps(info.as_dict(), default=str))


@models_app.command("register")
def register_cmd(folder: Annotated[Path, typer.Argument(help="model folder or training run folder")],
                 name: NameOpt = "butterflyer",
                 report: Annotated[Path | None, typer.Option(help="report file or folder to attach")] = None,
                 challenger: Annotated[bool, typer.Option(help="point the challenger alias at it")] = True,
                 decide: Annotated[bool, typer.Option(help="then time it and decide its promotion")] = False,
                 records: RecordsOpt = "", margin: MarginOpt = 0.0, min_top1: FloorOpt = 0.0,
                 latency_budget_ms: BudgetOpt = 250.0) -> None:
    """Register a model folder with its lineage (with --decide, also judge it as the pipeline does)."""
    from butterflyer.registry.promotion import PromotionConfig, register_and_decide

    config = PromotionConfig(margin=margin, min_top1=min_top1, latency_budget_ms=latency_budget_ms)
    done = register_and_decide(folder, name=name, report=report, challenge=challenger, decide=decide,
                               config=config, records_uri=records)
    console.print(f"{'registered' if done.created else 'already registered'}: models:/{name}/{done.version}")
    if challenger and decide:
        console.print(("[green]PROMOTE[/] " if done.promoted else "[yellow]KEEP[/] ") + done.promotion_reason)


# "gate" is the command's old name, kept hidden so existing scripts work; "gate" now means the
# not-a-butterfly check only
@models_app.command("gate", hidden=True)
@models_app.command("decide")
def decide_cmd(ref: Annotated[str, typer.Argument(help="version or alias to judge")] = "challenger",
               name: NameOpt = "butterflyer",
               margin: MarginOpt = 0.0, min_top1: FloorOpt = 0.0, latency_budget_ms: BudgetOpt = 250.0,
               records: RecordsOpt = "",
               dry_run: Annotated[bool, typer.Option(help="decide without promoting")] = False) -> None:
    """Decide whether a version replaces the champion, and promote it if so (times it first if needed)."""
    from butterflyer.registry.promotion import PromotionConfig, decide_version

    config = PromotionConfig(margin=margin, min_top1=min_top1, latency_budget_ms=latency_budget_ms)
    decision = decide_version(ref, config, name=name, records_uri=records, dry_run=dry_run)
    console.print(("[green]PROMOTE[/] " if decision.promote else "[yellow]KEEP[/] ") + decision.reason)


@models_app.command("promote")
def promote_cmd(ref: Annotated[str, typer.Argument(help="version number or alias")],
                name: NameOpt = "butterflyer",
                reason: Annotated[str, typer.Option(help="why (kept in the history)")] = "manual") -> None:
    """Make a version the champion by hand (no checks); the previous champion stays reachable by rollback."""
    from butterflyer.registry import store

    info = store.promote(ref, name=name, reason=reason)
    console.print(f"champion is now v{info.version} ({info.uri})")


@models_app.command("rollback")
def rollback_cmd(to: Annotated[str | None, typer.Option("--to", help="version to go back to")] = None,
                 name: NameOpt = "butterflyer") -> None:
    """Move the champion back to the previous one (servers pick it up on their next refresh)."""
    from butterflyer.registry import store

    info = store.rollback(to, name=name)
    console.print(f"champion rolled back to v{info.version}")


def register(app: typer.Typer) -> None:
    """Add ``models`` to the main app."""
    app.add_typer(models_app, name="models")
