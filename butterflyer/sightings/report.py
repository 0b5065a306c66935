"""A self-contained HTML report of a batch: counts, species, a per-day chart, every photo.

Thumbnails are embedded (data URLs), so the one file can be mailed or opened offline.
Every text from a photo or the model goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from pathlib import Path
from typing import Any

from butterflyer.fileio import atomic_write_text
from butterflyer.serve.catalog import Catalog
from butterflyer.sightings.batch import BatchOutcome, as_sighting, group_of
from butterflyer.sightings.export import to_dwc

GROUP_TITLES = {"identified": "Identified", "review": "For review: unsure or not a butterfly",
                "unreadable": "Unreadable files"}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _answer(item: dict[str, Any]) -> str:
    if item.get("error"):
        return f"error: {item['error']}"
    name = item.get("common_name") or item.get("model_species") or item.get("taxon_name")
    if item.get("verdict") == "not_a_butterfly":
        return "not a butterfly"
    if item.get("verdict") == "uncertain":
        top = (item.get("top_k") or [{}])[0]
        return f"unsure (best guess {top.get('common_name', '?')}, {float(top.get('probability', 0)):.0%})"
    prob = item.get("probability")
    rank = "" if item.get("verdict") == "species" else f"{item.get('verdict')} "
    return f"{rank}{name}" + (f", {prob:.0%}" if prob is not None else "")


def _thumb(state_dir: Path, item: dict[str, Any]) -> str:
    path = state_dir / "thumbs" / f"{item.get('photo_sha256')}.jpg"
    if not item.get("photo_sha256") or not path.is_file():
        return '<div class="nothumb">no preview</div>'
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img loading="lazy" alt="" src="data:image/jpeg;base64,{data}">'


def _day_chart(items: list[dict[str, Any]]) -> str:
    days = Counter((item.get("taken_at") or "")[:10] or "no date" for item in items if not item.get("error"))
    if not days:
        return "<p>No photos.</p>"
    order = sorted(d for d in days if d != "no date") + (["no date"] if "no date" in days else [])
    top = max(days.values())
    width, bar, gap, height = 640, 28, 8, 160
    step = min(bar + gap, max(8, (width - 40) // len(order)))
    parts = [f'<svg class="chart" viewBox="0 0 {max(width, 40 + step * len(order))} {height + 60}" '
             f'role="img" aria-label="Photos per day">']
    for i, day in enumerate(order):
        h = round(height * days[day] / top)
        x = 30 + i * step
        mid = x + (step - gap) / 2
        parts.append(f'<rect x="{x}" y="{10 + height - h}" width="{step - gap}" height="{h}">'
                     f'<title>{_e(day)}: {days[day]}</title></rect>'
                     f'<text x="{mid}" y="{height + 24}" transform="rotate(45 {mid} {height + 24})">'
                     f'{_e(day)}</text><text x="{mid}" y="{6 + height - h}" text-anchor="middle">'
                     f'{days[day]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_report(outcome: BatchOutcome, title: str = "ButterFlyer batch report") -> str:
    """The report's HTML."""
    items = outcome.items
    species = Counter(_answer(i).rsplit(",", 1)[0] for i in items if group_of(i) == "identified")
    cards: dict[str, list[str]] = {g: [] for g in GROUP_TITLES}
    for item in items:
        cards[group_of(item)].append(
            f'<figure class="{_e(item.get("verdict") or "error")}">{_thumb(outcome.state_dir, item)}'
            f'<figcaption><b>{_e(_answer(item))}</b><br><span>{_e(item.get("file_name"))}</span>'
            f'{"<br><span>" + _e(item["taken_at"]) + "</span>" if item.get("taken_at") else ""}'
            f'</figcaption></figure>')
    counts = " · ".join(f"{GROUP_TITLES[g].split(':')[0]}: {len(c)}" for g, c in cards.items())
    rows = "".join(f"<tr><td>{_e(name)}</td><td>{n}</td></tr>" for name, n in species.most_common())
    sections = "".join(f'<section id="{g}"><h2>{_e(GROUP_TITLES[g])} ({len(c)})</h2>'
                       f'<div class="grid">{"".join(c)}</div></section>' for g, c in cards.items() if c)
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_e(title)}</h1><p class=\"counts\">{len(items)} photos · {_e(counts)}</p>"
            f"<h2>Species</h2><table><thead><tr><th>answer</th><th>photos</th></tr></thead>"
            f"<tbody>{rows or '<tr><td colspan=2>none identified</td></tr>'}</tbody></table>"
            f"<h2>Photos per day</h2>{_day_chart(items)}{sections}</body></html>\n")


_CSS = ("body{font:15px/1.45 system-ui,sans-serif;margin:1rem auto;max-width:72rem;padding:0 1rem;"
        "color:#1d2321}"
        "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:3px 10px;text-align:left}"
        ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}"
        "figure{margin:0;border:1px solid #ddd;border-radius:8px;overflow:hidden;background:#fff}"
        "figure img,.nothumb{width:100%;height:130px;object-fit:cover;display:block;background:#eee}"
        ".nothumb{display:grid;place-items:center;color:#777}"
        "figcaption{padding:6px 8px;font-size:13px;word-break:break-word}figcaption span{color:#5b6663}"
        "#review figure{border-color:#b45309}#unreadable figure{border-color:#b91c1c}"
        ".chart{width:100%;max-width:720px}.chart rect{fill:#c2410c}.chart text{font-size:11px}")


def write_batch_outputs(outcome: BatchOutcome, report: Path, catalog: Catalog,
                        dwc: Path | None = None) -> tuple[Path, Path]:
    """Write the HTML report and the Darwin Core CSV (default: ``<report>.dwc.csv``) atomically."""
    dwc = dwc or report.with_suffix(".dwc.csv")
    atomic_write_text(report, render_report(outcome))
    rows = [as_sighting(item) for item in outcome.items if not item.get("error")]
    atomic_write_text(dwc, to_dwc(rows, catalog))
    return report, dwc
