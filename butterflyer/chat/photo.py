"""The chat's answer about a photo of a species the field guide has no entry for.

When the identifier says a photo is unlike every species it knows (``known_species``
false), questions about "it" must not be answered from the entry of the species the
classifier happened to rank first. The reply says the guide has no entry for the
photographed species and offers the entries of its closest known relatives, each
cited by its identification sentence, so the visitor can ask about them instead.
"""

from __future__ import annotations

from butterflyer.chat.reply import ChatReply, Citation, EntrySources
from butterflyer.chat.schema import FieldGuide

MAX_RELATIVES = 3


def _first_sentence(text: str) -> str:
    head, sep, _ = text.strip().partition(". ")
    return head + ("." if sep or not head.endswith(".") else "")


def unknown_photo_reply(guide: FieldGuide, relatives: list[str], group: str | None = None) -> ChatReply:
    """No entry for the photographed species; the relatives' entries offered as suggestions, cited."""
    citations: list[Citation] = []
    sources: list[EntrySources] = []
    names: list[str] = []
    for label in relatives:
        entry = guide.species.get(label)
        if entry is None or len(citations) == MAX_RELATIVES:
            continue
        n = len(citations) + 1
        citations.append(Citation(n=n, entry=label, entry_kind="species", entry_title=entry.common_name,
                                  section="identification", section_title="How to recognise it",
                                  text=_first_sentence(entry.identification)))
        sources.append(EntrySources(entry=label, entry_title=entry.common_name,
                                    references=list(entry.sources)))
        names.append(f"{entry.common_name} ({entry.scientific_name}) [{n}]")
    where = f" It looks like {group}, but" if group else " It"
    answer = (f"Your photo probably shows a species that my field guide does not cover.{where} is unlike "
              "the species I know, so I have no entry for it.")
    if names:
        answer += " Its closest relatives in the guide, as suggestions only: " + "; ".join(names) + \
            ". Ask me about one of them by name."
    return ChatReply(answer=answer, citations=citations, sources=sources, status="not_covered")
