"""``butterflyer chat``: talk to the field guide in the terminal; ``butterflyer chat eval``: score it."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from butterflyer.errors import ChatError

chat_app = typer.Typer(help="Ask the field-guide chatbot (offline, answers cite the guide).",
                       invoke_without_command=True, no_args_is_help=False)


def _engine():  # noqa: ANN202 - imported lazily: loading MiniLM takes seconds
    from butterflyer.chat.answer import default_engine

    with Console(stderr=True).status("Loading the field guide and its index..."):
        return default_engine()


def _print_reply(console: Console, reply, sources: bool = False) -> None:  # noqa: ANN001
    style = "green" if reply.status == "answered" else "yellow"
    console.print(f"[bold {style}]guide:[/] {reply.answer}", highlight=False)
    for c in reply.citations:
        console.print(f"  [dim][{c.n}] {c.entry_title} - {c.section_title}[/]", highlight=False)
    if sources:
        for entry in reply.sources:
            refs = "; ".join(entry.references)
            console.print(f"  [dim]sources for {entry.entry_title}: {refs}[/]", highlight=False)


@chat_app.callback()
def chat_cmd(
    ctx: typer.Context,
    species: Annotated[str | None, typer.Option("--species", "-s", help="start from this species "
                                                "(dataset label or name, e.g. MONARCH)")] = None,
    message: Annotated[str | None, typer.Option("--message", "-m", help="ask one question and exit")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="with --message: print the reply as JSON")] = False,
    sources: Annotated[bool, typer.Option("--sources",
                                          help="list the references of the cited entries")] = False,
) -> None:
    """Chat with the field guide. Type a question; 'quit' or Ctrl-D ends."""
    if ctx.invoked_subcommand is not None:
        return
    engine = _engine()
    current = engine.resolve_species(species) if species else None
    console = Console()
    if message is not None:
        reply = engine.ask(message, species_id=current)
        if as_json:
            typer.echo(json.dumps(reply.model_dump(), indent=2))
        else:
            _print_reply(console, reply, sources)
        return
    if current:
        entry = engine.guide.species[current]
        console.print(f"Talking about the [bold]{entry.common_name}[/] ({entry.scientific_name}). "
                      "Ask e.g. 'what does it eat?'", highlight=False)
    else:
        console.print("Ask about any of the 100 species, e.g. 'How do I tell a monarch from a viceroy?'")
    history: list[dict[str, str]] = []
    while True:
        try:
            text = console.input("[bold]you:[/] ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        if text.lower() in {"quit", "exit", ":q"}:
            break
        if not text:
            continue
        try:
            reply = engine.ask(text, species_id=current, history=history)
        except ChatError as exc:
            console.print(f"[red]{exc}[/]", highlight=False)
            continue
        _print_reply(console, reply, sources)
        current = reply.species_id or current
        history += [{"role": "user", "content": text}, {"role": "assistant", "content": reply.answer}]


@chat_app.command("eval")
def eval_cmd(
    out: Annotated[str | None, typer.Option(help="report folder (default $BUTTERFLYER_HOME/reports)")] = None,
    show_failures: Annotated[int, typer.Option(help="print up to this many failed questions")] = 10,
    show_heldout: Annotated[bool, typer.Option(help="also print held-out failures (they are in the report "
                                                    "either way; don't tune on them)")] = False,
    split: Annotated[list[str] | None, typer.Option("--split", help="score only this split (dev, held-out, "
                                                    "team; repeatable): tune with --split dev --split team")
                     ] = None,
) -> None:
    """Score the chatbot on the dev, held-out and team question sets; writes chat-eval.md and .json."""
    from butterflyer.chat.evaluate import run_eval

    result = run_eval(engine=_engine(), report_dir=out, only=split or None)
    m = result["metrics"]
    console = Console()
    for name, s in result["splits"].items():
        console.print(f"{name:>8}: {s['questions']} questions  accuracy {s['accuracy']:.1%}  "
                      f"refusals right {s['refusals_right']}/{s['must_refuse']}  "
                      f"cross-species {s['cross_species']}  answer precision {s['precision']:.1%}  "
                      f"fully cited {s['grounded_share']:.1%}", highlight=False)
    console.print(f"p50 {m['latency_ms_p50']:.0f} ms (in-process)", highlight=False)
    shown = [r for r in result["failures"] if r["split"] != "held-out" or show_heldout][:show_failures]
    for r in shown:
        console.print(f"  [yellow]x[/] [{r['split']}] {r['question']} -> {r['status']}: {r['answer'][:120]}",
                      highlight=False)
    console.print(f"report: {result['report']}", highlight=False)
    if not all(m["targets_met"].values()):
        missed = ", ".join(k for k, ok in m["targets_met"].items() if not ok)
        console.print(f"[red]targets missed: {missed}[/]", highlight=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``chat`` (and ``chat eval``) to the main app."""
    app.add_typer(chat_app, name="chat")
