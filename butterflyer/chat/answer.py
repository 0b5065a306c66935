"""The chatbot: species linking, retrieval and an answer quoted from the guide with numbered citations.

``ChatEngine.ask(message, species_id=None, history=None)`` is the one entry point the
CLI and the API use. Offline (the default) the answer is made only of guide sentences,
each followed by its citation marker; with an LLM configured (:mod:`butterflyer.chat.llm`)
the same retrieved passages are handed to the model and uncited sentences are dropped.
Questions the guide cannot support get "My field guide doesn't cover that"; questions
about something else get a polite refusal.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from butterflyer.chat.asks import asks
from butterflyer.chat.chunks import Chunk
from butterflyer.chat.compound import join_replies, split_questions
from butterflyer.chat.describe import (
    COLOURS,
    PLAIN_HEADS,
    candidates,
    is_description,
    looks_qualified,
    tells_looks,
)
from butterflyer.chat.embed import Encoder, dictionary_words, english_words, get_encoder
from butterflyer.chat.frame import strip_frame
from butterflyer.chat.guide import load_guide
from butterflyer.chat.index import ChatIndex, open_index
from butterflyer.chat.intent import (
    CUE_WORDS,
    DOMAIN,
    LEPIDOPTERA_WORDS,
    OTHER_ANIMALS,
    PARTNERS,
    QUESTION_WORDS,
    about_other_animal,
    asking_clauses,
    asks_about_other_animal,
    disowned,
    lepidoptera_words_at,
    names_butterfly_thing,
    parse_intent,
)
from butterflyer.chat.kin import asks_relatives, relatives
from butterflyer.chat.linking import Mention, SpeciesLinker
from butterflyer.chat.measure import (
    REGIONS,
    SizeAnswer,
    asks_superlative,
    compare,
    is_size_question,
    rank,
    region_of,
)
from butterflyer.chat.names import (
    HEADS,
    PLACES,
    NameShapes,
    Span,
    guide_epithets,
    latin_pair,
    names_an_insect,
)
from butterflyer.chat.other_things import find_other_things
from butterflyer.chat.plan import NUMBER_WORDS, SYNONYMS, Plan, Planner, Query, mentions_business
from butterflyer.chat.reply import (
    GREETING,
    NOT_COVERED,
    OFF_TOPIC,
    ChatReply,
    Citation,
    EntrySources,
    Status,
    unanswered_part,
)
from butterflyer.chat.retrieve import Retriever
from butterflyer.chat.schema import FieldGuide
from butterflyer.chat.superlatives import (
    asked_est,
    asked_most,
    asks_farthest_migrant,
    asks_longest_lived,
    asks_most_widespread,
    est_stated,
    farthest_migrant,
    longest_lived,
    most_stated,
    most_widespread,
)
from butterflyer.chat.text import (
    RUN_TOGETHER,
    STOPWORDS,
    edit_distance,
    fold,
    name_forms,
    normalize,
    repair_question_words,
    repair_swaps,
    repair_typos,
    stem,
    terms,
    tokens,
)
from butterflyer.chat.unknown import (
    Unknown,
    as_typed,
    checklist,
    checklist_index,
    find_unknown,
    more_unknown,
    not_covered_text,
)
from butterflyer.errors import ChatError

_SAME_KIND = re.compile(r"\bsame (species|thing|butterfly|moth|genus|family|kind)\b")
# sections a question about how two species relate may name ("same species", "mimic", "tell apart")
_RELATION_SECTIONS = {"similar_species", "overview", "identification", "facts"}
_GREETING = re.compile(r"^\s*(hi|hello|hey|hiya|good (morning|afternoon|evening)|thanks?|thank you|cheers)"
                       r"\b[\s!.,?]*(there|you|bot)?[\s!.,?]*$", re.IGNORECASE)
MAX_SENTENCES = 4
# Adjectives that describe a butterfly rather than name one ("biggest moth", "fluffy moth").
DESCRIPTIVE = {"biggest", "largest", "smallest", "tiniest", "bigger", "larger", "smaller", "widest", "huge",
               "fluffy", "furry", "shiny", "tiny", "giant", "colourful", "colorful", "rainbow", "pretty"}
MAX_MESSAGE_CHARS = 2000
# Words that say nothing about *what* is asked once the species is known.
PRONOUNS = {"it", "its", "they", "them", "their", "this", "these", "she", "he", "her", "his", "one", "ones"}
GENERIC = {stem(w) for w in ("butterfly", "butterflies", "moth", "moths", "species", "insect", "one", "guide",
                             "field",
                             # filler visitors add ("what else do people call it", "what is it really")
                             "people", "else", "someone", "folks", "usually", "really", "actually", "actual",
                             "exactly", "normally", "commonly", "generally",
                             # a claim to check ("I read that ... is that true?")
                             "read", "heard", "true", "correct", "quick", "question",
                             "nonsense", "rubbish", "myth", "false", "told", "full", "said", "trivia",
                             # "how come" asks why; "go" and "proper" say nothing
                             "come", "go", "goes", "going", "proper",
                             # verbs of doing in general ("what do butterflies use to drink", "what flowers
                             # should I put in to bring them in")
                             "use", "uses", "put", "bring")}


# words that make the colour after them a shade ("electric blue", "pale yellow")
_SHADE_WORDS = {"electric", "bright", "dark", "light", "pale", "deep", "metallic", "iridescent", "shiny",
                "brilliant", "vivid", "sky", "royal", "navy", "baby", "powder", "neon", "glossy", "dull",
                "rich", "shimmering", "glittering", "vibrant"}
_PATTERN_NOUNS = {"dots", "dot", "spots", "spot", "stripes", "stripe", "bands", "band", "patches", "patch",
                  "markings", "marks", "edges", "edge", "border", "borders", "lines", "line", "streaks"}
# what a visitor says to turn from the page's species to another ("not this one but the kahukura")
_NOT_THIS = re.compile(r"\bnot (?:this|that) (?:one|species|butterfly|moth|page)\b"
                       r"|\bnot the (?:one|species|butterfly|moth) (?:on|in) (?:this|the) page\b")
# words that make a question about butterflies and moths in general, not about the page's species
_GENERAL_WORDS = PLAIN_HEADS | {"insect", "insects", "lepidoptera", "species"}


def _asks_about_animal_groups(message: str) -> bool:
    """Whether the clauses that ask name other animals as a group ("are dragonflies and damselflies the
    same thing?") and no butterfly, moth or caterpillar."""
    words = tokens(asking_clauses(message))
    # (one that butterflies never meet as predator or partner may be named in the singular: "a damselfly?")
    groups = [w for w in words if w in OTHER_ANIMALS and (w.endswith("s") or w not in PARTNERS)]
    return bool(groups) and about_other_animal(words) and about_other_animal(tokens(message))


def _lacks_fact(reply: ChatReply) -> bool:
    """Whether a reply declines because the guide lacks the fact asked for (not because the species is
    not covered or the question is off topic)."""
    return reply.status == "not_covered" and reply.answer.startswith(NOT_COVERED)


class ChatEngine:
    """Answers questions from one field guide; build once per process and reuse."""

    def __init__(self, guide: FieldGuide | None = None, encoder: Encoder | None = None,
                 index_root: str | Path | None = None, index: ChatIndex | None = None,
                 llm: Any = None) -> None:
        self.guide = guide or load_guide()
        self.encoder = encoder or get_encoder()
        self.index = index or open_index(self.guide, self.encoder, index_root)
        self.retriever = Retriever(self.index, self.encoder)
        self.vocabulary = {t for c in self.index.chunks for t in tokens(c.search_text)}
        # words a swapped pair of letters is put right against: the guide's, the names it lacks, and the
        # words questions are asked with ("wehres", "datyime", "glassiwng")
        self._spelled = frozenset(self.vocabulary | QUESTION_WORDS | CUE_WORDS | STOPWORDS
                                  | {w for name in checklist() for w in name} | set(SYNONYMS) | RUN_TOGETHER)
        checklist_index()  # (built here, not on the first question)
        self.vocabulary |= {stem(t) for t in self.vocabulary}
        # every vocabulary word with one letter dropped: a question word one edit away from a guide word
        # shares one of these with it (a cheap stand-in for an edit-distance search)
        self._deletes = self.vocabulary | {w[:i] + w[i + 1:] for w in self.vocabulary for i in range(len(w))}
        # known words of five letters or more by first letter, for the two-slip check of _foreign
        self._long_words: dict[str, list[str]] = {}
        for w in sorted(self.vocabulary | STOPWORDS):
            if len(w) >= 5:
                self._long_words.setdefault(w[0], []).append(w)
        self._name_tokens = {label: frozenset(t for n in e.names() for t in tokens(n))
                             for label, e in self.guide.species.items()}
        self.linker = SpeciesLinker(self.guide, self.vocabulary, heads=HEADS, words=english_words())
        # every English word known offline: a word outside it may be a local species name ("the oomurasaki")
        self._english = english_words() | dictionary_words()
        self.llm = llm
        self.planner = Planner(self.index, self.retriever, self.linker.labels,
                               {label: {stem(t) for n in e.names() for t in tokens(n)}
                                for label, e in self.guide.species.items()})
        self.shapes = NameShapes(
            {label: e.kind for label, e in self.guide.species.items()},
            {label: {t for n in e.names() for t in tokens(n)} for label, e in self.guide.species.items()},
            self.vocabulary, [e.genus for e in self.guide.species.values() if e.genus],
            guide_epithets(c.text for c in self.index.chunks), english=english_words())
        self._kinds: dict[str, str] = {label: e.kind for label, e in self.guide.species.items()}
        self._spans = {label: (e.wingspan_mm.min, e.wingspan_mm.max)
                       for label, e in self.guide.species.items() if e.wingspan_mm is not None}

    # --- public -------------------------------------------------------------------------
    def ask(self, message: str, species_id: str | None = None,
            history: Sequence[dict[str, str]] | None = None) -> ChatReply:
        """Answer ``message``; ``species_id`` is the conversation's current species (e.g. identified).
        The reply lists the sources of every entry it cites."""
        reply = self._ask(message, species_id, history)
        both = split_questions(message)
        if both is not None and reply.status == "answered" and not reply.candidates:
            # "what does it eat, and do ants help it?": each question gets its own answer (when both
            # are answered; a refusal of either stays the refusal of the whole message)
            first = self._ask(both[0], species_id, history)
            if first.status == "answered" and not first.candidates:
                second = self._ask(both[1], first.species_id or species_id, history)
                if second.status == "answered" and not second.candidates:
                    reply = join_replies(first, second)
        elif both is not None and _lacks_fact(reply) and not mentions_business(message):
            # "what happens inside a chrysalis? is it just goo in there?": the guide answers one of the
            # two questions though not the other, and says so (a species it lacks, a message off topic,
            # or one about buying or visiting, is still refused as a whole)
            first = self._ask(both[0], species_id, history)
            second = self._ask(both[1], first.species_id or species_id, history)
            answered = [r.status == "answered" and not r.candidates for r in (first, second)]
            if all(answered):
                # "what does the monarch eat and how big is it": no one sentence answers both, each part does
                reply = join_replies(first, second)
            elif answered[0] != answered[1]:
                good, lacking, which = (first, second, "second") if answered[0] else (second, first, "first")
                # (a part may read as off topic on its own: "is it just goo in there?")
                if _lacks_fact(lacking) or lacking.status == "off_topic":
                    reply = good.model_copy(update={"answer": f"{good.answer} {unanswered_part(which)}"})
        if not reply.citations:
            return reply
        return reply.model_copy(update={"sources": self._sources(reply.citations)})

    def _sources(self, citations: list[Citation]) -> list[EntrySources]:
        out: dict[str, EntrySources] = {}
        for c in citations:
            if c.entry in out:
                continue
            book = self.guide.species if c.entry_kind == "species" else self.guide.topics
            entry = book.get(c.entry)
            if entry is not None:
                out[c.entry] = EntrySources(entry=c.entry, entry_title=c.entry_title,
                                            references=list(entry.sources))
        return list(out.values())

    def _ask(self, message: str, species_id: str | None,
             history: Sequence[dict[str, str]] | None) -> ChatReply:
        message = re.sub(r"\s+", " ", message or "").strip()  # "SMALL  TORTOISESHELL" has one space
        if not message:
            raise ChatError("the message is empty; ask a question about a butterfly or moth")
        if len(message) > MAX_MESSAGE_CHARS:
            raise ChatError(f"the message is {len(message)} characters long; "
                            f"keep it under {MAX_MESSAGE_CHARS}")
        if species_id is not None and species_id not in self.guide.species:
            raise ChatError(f"unknown species_id {species_id!r}; use a dataset label such as 'MONARCH'")
        current = species_id or self._species_from_history(history or [])
        typed = message  # as the visitor wrote it: a refusal names what was typed, not its repair
        message = strip_frame(repair_typos(repair_question_words(repair_swaps(message, self._spelled)),
                                           QUESTION_WORDS, self.vocabulary))
        words = tokens(message)
        linked = self.linker.find(message)
        # "black-naped monarch", "Apollo 11": a covered name inside a listed thing is not that species
        things = [(s, e) for s, e in find_other_things(words) if not _names_a_butterfly(words, e)]
        mentions = [m for m in linked if not _another_thing(message, words, m)
                    and not any(s <= m.start and m.end <= e for s, e in things)]
        # (a message about such a thing alone, with no butterfly word outside it, is off topic)
        thing_only = bool(things) and not mentions and not {
            k for k in lepidoptera_words_at(words) if not any(s <= k < e for s, e in things)}
        another_sense = any(_another_sense(words, m.start, m.end) for m in linked)
        # a species the guide lacks is refused even when a covered one is named beside it ("the
        # polyphemus's cousin the cecropia"): its facts would otherwise come from the covered one.
        # A checklist name first, then any phrase shaped like a name that no guide name matches whole
        # (a checklist name typed whole beats a slip-tolerant match: "cloudless sulphur" is no slip of
        # "clouded sulphur")
        exact_spans = [(m.start, m.end) for m in mentions if m.exact]
        # (a covered name said not to be meant leaves the message as one that names none: "a brimstone? Not
        # the Cleopatra on this page")
        # "not this one but the kahukura": the page's species is what the question is not about
        not_this = _NOT_THIS.search(normalize(message)) if current else None
        listed = find_unknown(message, [(m.start, m.end) for m in mentions
                                        if m.exact and not disowned(words, m.start)] + things,
                              slipped_spans=[(m.start, m.end) for m in mentions if not m.exact],
                              other_meant=not_this is not None)
        shaped = self.shapes.find(message, [Span(m.label, m.start, m.end) for m in mentions])
        if shaped is not None and any(s < shaped.end and shaped.start < e for s, e in things):
            shaped = None  # ("de Havilland Tiger Moth" is an aircraft)
        unknown = listed or shaped
        # "can I see morpho polyphemus, the white morpho?": a scientific name beside a listed one is named too
        latin = (shaped if listed is not None and shaped is not None and len(shaped.name.split()) == 2
                 and shaped.name.split()[0] in self.shapes.genera
                 and (shaped.end <= listed.start or shaped.start >= listed.end) else None)
        # "not the orchard swallowtail, I mean the lime butterfly": a listed name set against a covered one
        # (or against the page's) is a name, whatever looks are told beside it
        # (and so is one followed by its scientific name in brackets: "the lime butterfly (Papilio demoleus)")
        contrasted = unknown is not None and unknown is listed and (
            bool(_NOT_THIS.search(normalize(message))) or any(disowned(words, m.start) for m in mentions)
            or re.search(rf"\b{re.escape(unknown.name)}\w*\s*\(\s*[a-z]+ [a-z]+\s*\)",
                         normalize(message)) is not None)
        if unknown is not None and not contrasted and _described(message, unknown):
            # "black swallowtail with shiny blue hindwings" describes one, it names none; a scientific name
            # after it still names one ("..., labelled Parides sesostris")
            # (another listed name typed apart from it may still name one: "black-and-white checkered
            # skippers ... the app says common checkered skipper")
            others = [u for u in more_unknown(message, exact_spans, unknown) if not _described(message, u)]
            latin = latin if latin is not None and not _described(message, latin) else None
            unknown = others[0] if others else latin
        if unknown is not None and _alias_of_covered(words, unknown, mentions):
            unknown = None  # "people call the monarch la mariposa monarca": the monarch's other name
        called = self._called_name(message) if unknown is None and not mentions and current is None else None
        unknown = unknown or called  # "locals call it the mariposa del madroño"
        if unknown is not None and self._related_in_guide(message, unknown, mentions):
            unknown = None  # "does the danaid eggfly mimic the plain tiger": its entry says so itself
        if unknown is not None:  # "queen" inside "Queen of Spain fritillary" is not the queen
            mentions = [m for m in mentions if m.end <= unknown.start or m.start >= unknown.end]
        # "an orange butterfly like a monarch but smaller ...": the monarch is what it is compared with
        described = is_description(message)
        compared = [m.label for m in mentions if described and _compared_with(message, m.start)]
        mentions = [m for m in mentions if m.label not in compared]
        if described:
            # "small white dots", "chestnut brown": a name made of look words, said as a look; and
            # "electric-blue swallowtail" is a colour compound before a group word, not the "blue swallowtail"
            # ("the tiger swallowtail, yellow with black stripes" names one and then describes it, and so
            # does "the blue morpho blue": only a one-word name runs on into a colour, "chestnut brown")
            norm = normalize(message)
            mentions = [m for m in mentions
                        if not (m.end < len(words) and " ".join(words[m.start:m.end + 1]) in norm
                                and (words[m.end] in _PATTERN_NOUNS
                                     or (words[m.end] in COLOURS and m.end - m.start == 1)))
                        and not (words[m.start] in COLOURS
                                 and re.search(rf"[a-z]-{re.escape(words[m.start])}\b", norm))
                        # ("electric blue swallowtail with black edges": a shade, not the "blue
                        # swallowtail", another name of the pipevine swallowtail; "bright blue morpho"
                        # says the morpho's own name)
                        and not (words[m.start] in COLOURS and m.start > 0
                                 and words[m.start - 1] in _SHADE_WORDS
                                 and " ".join(words[m.start:m.end]) != normalize(
                                     self.guide.species[m.label].common_name))]
        named = list(dict.fromkeys(m.label for m in mentions))
        article_name = self._article_name(message) if not mentions else None
        name_like = self._name_like_unknown(message) + ([article_name.name] if article_name else [])
        in_mention = {k for m in mentions for k in range(m.start, self._name_end(words, m))}
        unknown_name = unknown.name if unknown is not None else None
        # cue words inside a name ("arcigera *flower* moth") say nothing about what is asked
        unnamed = " ".join(w for k, w in enumerate(words) if k not in in_mention)
        intent = parse_intent(unnamed, terms(unnamed))
        asking = asking_clauses(message)
        if asking != message:
            # "it looks like a butterfly, does it fly in the day?": the sections the asking clause wants
            # lead, the context's cue words follow
            names = {words[k] for k in in_mention}
            asked = " ".join(w for w in tokens(asking) if w not in names)
            lead = parse_intent(asked, terms(asked)).sections
            if lead:
                intent.sections = lead + [s for s in intent.sections if s not in lead]
        intent.on_domain = intent.on_domain or parse_intent(message, terms(message)).on_domain
        residual = [t for t in terms(unnamed) if t not in GENERIC]
        # the question asked is about another animal or thing, whatever the context ("my moth trap fills
        # with caddisflies. how do I identify caddisfly species?", "is Julia faster than Python")
        asked_words = tokens(asking)
        other_subject = (about_other_animal(words) or asks_about_other_animal(asked_words) or another_sense
                         or thing_only)

        # on a species page a question about "the" part of an insect with no group word in it ("what's the
        # long pointy nose for") is about that species; "how do butterflies migrate" is general
        # ("still on the zebra longwing page, but why do zebras have stripes?": another animal, and no "it")
        page_disowned = not_this is not None
        # (the name after it: "this one is rusałka pawik in Polish. Not this one but rusałka pokrzywnik")
        disowned_at = len(tokens(normalize(message)[:not_this.start()])) if not_this is not None else 0
        follow_up = bool(current) and not page_disowned and (bool(PRONOUNS & set(tokens(message)))
                                       or (any(s not in ("overview", "facts") for s in intent.sections)
                                           and not (other_subject and not named))
                                       or ("the" in words and not set(words) & _GENERAL_WORDS
                                           and not about_other_animal(words)))
        targets = named or ([current] if current and follow_up else [])
        if ((intent.compare or asks_relatives(message)) and len(named) == 1 and current
                and current != named[0]):
            targets = [current, named[0]]  # "is it related to the monarch?" on the viceroy's page
        focus = targets[0] if targets else current

        if _GREETING.match(message) and not named:
            return ChatReply(answer=GREETING, species_id=focus, status="off_topic")
        if not named and names_butterfly_thing(words):  # "butterfly stroke", "butterfly pea tea"
            return ChatReply(answer=OFF_TOPIC, species_id=focus, status="off_topic")
        if (asking != message and unknown is None and mentions and asks_about_other_animal(asked_words)
                and not PRONOUNS & set(asked_words)
                and not any(words[m.start] in asked_words for m in mentions)):
            # a covered species in the context only, and another animal asked about ("still on the zebra
            # longwing page, but why do zebras have stripes?")
            return ChatReply(answer=OFF_TOPIC, species_id=focus, status="off_topic")
        query = Query(text=message, intent=intent, targets=targets, residual=residual,
                      foreign=set(terms(asking)) & {t for t in residual if self._foreign(t)})
        # ("is it the biggest beetle in the world": no size ranking of the guide's species answers that; a
        # description still asks which species it fits: "a tiny hummingbird ... with antennae")
        if not unknown_name and not (other_subject and not named and not described):
            special = self._special(message, named, residual, focus, compared,
                                    follow_up=bool(targets) and not named)
            if special is not None:
                return special
        if not unknown_name and len(targets) == 1 and asks_relatives(message):
            # kinship is read from the classification of every entry, not from lookalikes
            kin = relatives(self.guide, targets[0])
            if kin:
                return self._cite_generated(kin, "overview", focus)
        off_topic = False
        if unknown_name:
            plan = None
            # a checklist name is a butterfly or moth by definition ("is the african monarch poisonous")
            off_topic = not (listed is not None or intent.on_domain or intent.sections
                             or names_an_insect(unknown_name)
                             or unknown_name.split()[0] in self.shapes.genera)  # "hamadryas feronia"
        elif targets:
            plan = self.planner.species(query, self.retriever.embed(message))
        else:
            plan, off_topic = self.planner.general(query, self.retriever.embed(message), bool(name_like))
            if plan is not None and described and any(c.entry_kind == "species" for c, _ in plan.parts):
                plan = None  # a description no species fits is not answered by one species' sentence
            if not off_topic and other_subject:
                plan, off_topic = None, True  # "how do honeybees make honey": nectar is no butterfly cue
        if unknown_name and not off_topic:
            assert unknown is not None
            named_unknown = [unknown, *(u for u in more_unknown(message, exact_spans, unknown)
                                        if not _described(message, u) and called is None),
                             *([latin] if latin is not None else [])]
            pair = latin_pair(message, self.vocabulary)  # "the one labelled Acraea ranavalona"
            if (pair is not None and called is None and not set(pair.name.split()) & PLACES
                    and not (unknown is listed and _a_place_shape(pair.name, self.shapes.genera))
                    and re.search(rf"\b{re.escape(pair.name)}\b", normalize(message))  # ("Macon, Georgia")
                    and not any(u.start < pair.end and pair.start < u.end for u in named_unknown)):
                named_unknown.append(pair)
            # a local name beside a listed one ("modraszek ikar, the common blue") is named too, and so is
            # a name shaped like one ("een groot avondrood ..., the elefant hawk-moth in English")
            # (never the page's own name said before "not this one": "this one is rusałka pawik in Polish")
            run = (self._foreign_run(message, after=disowned_at) if unknown is listed and called is None
                   else None)
            if run is not None and not any(u.start < run.end and run.start < u.end for u in named_unknown):
                named_unknown.append(run)
            # (two capitalised words that are no known genus and end in no group word are more likely a
            # place: "in Puszcza Białowieska")
            if (unknown is listed and shaped is not None and called is None
                    and not _described(message, shaped)
                    and not _a_place_shape(shaped.name, self.shapes.genera)
                    and not any(u.start < shaped.end and shaped.start < u.end for u in named_unknown)):
                named_unknown.append(shaped)
            named_unknown.sort(key=lambda u: u.start)
            text = not_covered_text(self.guide, *(as_typed(typed, u.name) for u in named_unknown))
            return ChatReply(answer=text, species_id=focus,
                             status="not_covered")
        if not unknown_name and not targets and (off_topic or plan is None or not plan.parts
                                                 or page_disowned):
            # "where does the brimstone live": no butterfly word (or nothing in the guide answers it),
            # but a name the guide lacks may be meant; say which
            maybe = (find_unknown(message, [(m.start, m.end) for m in mentions], refusing=True)
                     or (None if other_subject else self._foreign_run(message, after=disowned_at))
                     or latin_pair(message, self.vocabulary)
                     or article_name)
            if maybe is not None:
                return ChatReply(answer=not_covered_text(self.guide, as_typed(typed, maybe.name)),
                                 species_id=focus, status="not_covered")
        if plan is None or not plan.parts:
            status: Status = "off_topic" if off_topic else "not_covered"
            text = OFF_TOPIC if off_topic else self._not_covered([] if unknown_name else targets)
            return ChatReply(answer=text, citations=[], species_id=focus, status=status)
        reply = self._compose(plan, focus)
        if self.llm is not None:
            from butterflyer.chat.llm import rephrase

            reply = rephrase(self.llm, message, reply)
        return reply

    def resolve_species(self, name: str) -> str:
        """A dataset label from a label, common, other or scientific name (typos tolerated)."""
        if name in self.guide.species:
            return name
        upper = {label.upper(): label for label in self.guide.species}
        if name.strip().upper() in upper:
            return upper[name.strip().upper()]
        found = self.linker.labels(name)
        if len(found) == 1:
            return found[0]
        raise ChatError(f"no species called {name!r} in the field guide; use a dataset label such as "
                        "'MONARCH' or a common name such as 'painted lady'")

    def _related_in_guide(self, message: str, unknown: Unknown, mentions: Sequence[Mention]) -> bool:
        """Whether a question about how a covered species relates to one the guide lacks ("does the female
        danaid eggfly mimic the plain tiger", "are the red-spotted purple and the white admiral the same
        species") can be answered from the covered entry, because that entry names the other one. A
        question about the lacking species itself ("what does the plain tiger eat") never can."""
        if not ("relation" in asks(message) or asks_relatives(message) or parse_intent(message, []).compare
                or _SAME_KIND.search(normalize(message))):
            return False
        if set(parse_intent(message, terms(message)).sections) - _RELATION_SECTIONS:
            return False  # "what does the plain tiger eat, the one the eggfly copies" asks about it
        # (a covered name inside the lacking one, typed again later, is no covered species asked about:
        # "why does the snowberry clearwing look like a bee? ... the snowberry clearwing")
        inside = _occurrences(tokens(message), unknown.name.split())
        spans = [(unknown.start, unknown.end), *inside]
        covered = {m.label for m in mentions if not any(s <= m.start and m.end <= e for s, e in spans)}
        forms = name_forms(unknown.name)
        return any(c.entry in covered and any(f in normalize(c.text).replace("-", " ") for f in forms)
                   for c in self.index.chunks)

    def _foreign(self, term: str) -> bool:
        """A word the guide never uses and that is no one-letter slip of one it does ("genome")."""
        if (len(term) < 4 or term in self.vocabulary or term in STOPWORDS or term.isdigit()
                or term in CUE_WORDS or term in NUMBER_WORDS):
            return False
        near = {term} | {term[:i] + term[i + 1:] for i in range(len(term))}
        if near & self._deletes:
            return False
        # a longer word two slips from a known one ("catapiller", "originaly") is that word misspelt
        return len(term) < 7 or not any(
            abs(len(w) - len(term)) <= 2 and edit_distance(term, w, 2) <= 2
            for w in self._long_words.get(term[0], ()))

    def _unknown(self, words: list[str], k: int) -> bool:
        if not 0 <= k < len(words):
            return False
        w = words[k]
        return (len(w) > 2 and w not in STOPWORDS and w not in self.vocabulary
                and stem(w) not in self.vocabulary)

    def _name_end(self, words: list[str], mention: Mention) -> int:
        """End of a mention with the rest of its species' name that follows it, split or whole ("ulyses
        swallow tail": the label matched, then its common name's "swallowtail" typed in two)."""
        own = self._name_tokens[mention.label]
        k = mention.end
        while k < len(words):
            if words[k] in own and words[k] not in STOPWORDS:
                k += 1
            elif k + 1 < len(words) and words[k] + words[k + 1] in own:
                k += 2
            else:
                break
        return k

    def _name_like_unknown(self, message: str) -> list[str]:
        """Capitalised words inside the message that the guide never uses (names it does not know); a
        word after "in", "at", "near" or "from" names a place ("photos in Bali")."""
        out = []
        for m in re.finditer(r"(?<![.!?]\s)(?<!^)(?<!\bin )(?<!\bat )(?<!\bnear )(?<!\bfrom )"
                             r"\b([A-Z][a-z]{2,})", message.strip()):
            w = normalize(m.group(1))
            if w not in self.vocabulary and stem(w) not in self.vocabulary and w not in STOPWORDS:
                out.append(w)
        return out

    def _article_name(self, message: str) -> Unknown | None:
        """"the oomurasaki", "a lagarta-de-fogo": a lower-case word after an article that is no English
        word, no word of the guide, no slip of one and no place, in a message about butterflies or moths
        that names no covered species; a local name the guide lacks (with the rest of its hyphenated
        compound)."""
        words = tokens(message)
        if not DOMAIN & {stem(w) for w in words}:
            return None
        english = self._english
        norm = normalize(message)
        for k in range(1, len(words)):
            w = words[k]
            if (words[k - 1] not in ("the", "a", "an") or not w.isalpha() or len(w) < 5
                    or _looks_english(w, english) or w in PLACES or not self._foreign(w)
                    or not re.search(rf"\b(?:the|a|an) {w}\b", message)):  # (typed lower case)
                continue
            compound = re.search(rf"\b{w}(?:-[a-z]+)+", norm)
            return Unknown(compound.group(0) if compound else w, k, k + 1)
        return None

    def _foreign_run(self, message: str, after: int = 0) -> Unknown | None:
        """"mieniak tęczowiec", "borboleta-da-praia", "modraszek ikar": two words or more in a row, typed in
        lower case, that are no English word, no word of the guide and no slip of one (short ones and "da",
        "de" may join them): a local name. Read only from a message being refused, to name it. ``after``:
        the first token to look from."""
        words = tokens(message)
        typed = fold(message)
        # each word: a long foreign word typed in lower case, a short one, or neither
        strong = [w.isalpha() and len(w) >= 4 and w not in STOPWORDS and w not in PLACES
                  and not _looks_english(w, self._english) and self._foreign(w)
                  and re.search(rf"\b{w}\b", typed) is not None for w in words]
        weak = [w.isalpha() and 2 <= len(w) <= 3 and w not in STOPWORDS and w not in self._english
                and w not in self.vocabulary for w in words]
        k = after
        while k < len(words):
            end = k
            while end < len(words) and (strong[end] or weak[end]
                                        or (end > k and words[end] in _NAME_JOINERS)):
                end += 1
            while end > k and words[end - 1] in _NAME_JOINERS:
                end -= 1
            if end - k >= 2 and any(strong[k:end]):
                return Unknown(" ".join(words[k:end]), k, end)
            k = max(end, k + 1)
        return None

    def _called_name(self, message: str) -> Unknown | None:
        """"locals call it the mariposa del madroño", "my grandma called 'em parsleyworms": a name a visitor
        says something is called, holding a word the guide never uses and that is no slip of one."""
        words = tokens(message)
        for k, w in enumerate(words):
            if w not in _CALLING or (w == "as" and (k == 0 or words[k - 1] != "known")):
                continue
            start = k + 1
            while start < len(words) and words[start] in _CALLED_FILLER:
                start += 1
            end = start
            while end < len(words) and end - start < 4 and (words[end] not in STOPWORDS
                                                          or words[end] in _NAME_JOINERS and end > start):
                end += 1
            phrase = words[start:end]
            # (a word of no language the guide or English knows, or a folk "-worm" name: "parsleyworms";
            # "what be they called proper?" holds only English)
            if phrase and any(len(t) >= 4 and t.isalpha() and self._foreign(t)
                              and (not _looks_english(t, self._english) or t.rstrip("s").endswith("worm"))
                              for t in phrase):
                return Unknown(" ".join(phrase), start, end)
        return None

    def _asks_foreign_thing(self, message: str) -> bool:
        """Whether the message asks "what/which <thing>" of a thing the guide never mentions ("what
        medicine should I give her")."""
        return any(w not in self.vocabulary and stem(w) not in self.vocabulary and w not in STOPWORDS
                   for w in _WHAT_THING.findall(normalize(message)))

    # --- questions answered from structured fields or as candidates ------------------------
    def _special(self, message: str, named: list[str], residual: list[str], focus: str | None,
                 compared: Sequence[str] = (), follow_up: bool = False) -> ChatReply | None:
        """Size rankings and comparisons, and description-to-species candidates; ``None`` otherwise."""
        # ("orange and black checkered butterfly, smaller than a monarch" describes one; it asks no size)
        # ("which butterfly has the widest range" asks how widespread, not how wide)
        if (is_size_question(message) and not (compared and is_description(message))
                and not asks_most_widespread(message)):
            # (a ranking needs a superlative: "bigger than my hand" compares it with no species)
            size = (compare(self.guide, named[0], named[1]) if len(named) >= 2
                    else rank(self.guide, message) if not named and asks_superlative(message) else None)
            if size is not None:
                return self._cite_sizes(size, focus)
            lacking = [self.guide.species[x].common_name for x in named[:2]
                       if self.guide.species[x].wingspan_mm is None]
            if len(named) >= 2 and lacking:
                # a comparison the wingspan fields cannot settle is declined, not padded with descriptions
                return ChatReply(answer=f"{NOT_COVERED}: my guide gives no wingspan for the "
                                        f"{' or the '.join(lacking)}, so I can't compare their sizes.",
                                 species_id=focus, status="not_covered")
        if not named:
            stated = self._stated_superlative(message, focus)
            if stated is not None:
                return stated
        # on a species page, "what do the caterpillars eat? found some huge green ones" asks about that
        # species; only "... what is it?" asks which species a description fits
        # ("... ate a big brown moth off the curtain. What medicine should I give her?" asks about a thing
        # the guide never mentions, not which moth it was)
        # ("caught something at the pond with 4 see-through wings, are dragonflies and damselflies the same?"
        # asks about other animals, by their group names; "like a tiny hummingbird" or "bird or bug?" is a
        # likeness)
        if not named and is_description(message) and not _asks_about_animal_groups(message) and (
                asks_identity(message) or not (follow_up or self._asks_foreign_thing(message))):
            vec = self.retriever.embed(message)
            found = candidates(self.index, self._kinds, vec, " ".join(residual), message, exclude=compared,
                               spans=self._spans)
            if found:
                return self._cite_candidates(found, focus)
        return None

    def _stated_superlative(self, message: str, focus: str | None) -> ChatReply | None:
        """"Which butterfly is most widespread / migrates farthest", from the guide's own sentences."""
        widespread, farthest = asks_most_widespread(message), asks_farthest_migrant(message)
        adjective = asked_most(message)
        oldest = asks_longest_lived(message)
        est = asked_est(message)
        if not (widespread or farthest or adjective or oldest or est):
            return None
        words = set(tokens(message))
        kind = ("moth" if words & {"moth", "moths"} else
                "butterfly" if words & {"butterfly", "butterflies"} else None)
        of_kind = {lb for lb, k in self._kinds.items() if kind is None or k == kind}
        said: list[tuple[Chunk, int]] = []
        if oldest:
            said = longest_lived(self.index.chunks, of_kind)[:3]
        elif est:
            said = est_stated(self.index.chunks, of_kind, *est)[:3]
        if said:  # "which butterfly lives longest", "which moth has the longest tails"
            citations = [self._citation(n, c, c.sentences[j]) for n, (c, j) in enumerate(said, 1)]
            text = " ".join(f"{c.text} [{c.n}]" for c in citations)
            which = "these" if len(said) > 1 else "one"
            return ChatReply(answer=f"My guide says this of {which}: {text}", citations=citations,
                             species_id=focus)
        if widespread:
            widest = most_widespread(self.index.chunks, of_kind)[:3]
            if widest:
                citations = [self._citation(n, c, c.sentences[j]) for n, (c, j) in enumerate(widest, 1)]
                if len(widest) > 1:
                    lead = "My guide calls these among the most widespread in the world:"
                elif "one of" in citations[0].text.lower():
                    lead = "My guide calls this one of the most widespread in the world:"
                else:
                    lead = "From my guide:"  # it calls this one *the* most widespread
                text = " ".join(f"{c.text} [{c.n}]" for c in citations)
                return ChatReply(answer=f"{lead} {text}", citations=citations, species_id=focus)
        if adjective and not (widespread or farthest):
            said = most_stated(self.index.chunks, of_kind, adjective)[:3]
            if not said:
                return None
            citations = [self._citation(n, c, c.sentences[j]) for n, (c, j) in enumerate(said, 1)]
            text = " ".join(f"{c.text} [{c.n}]" for c in citations)
            return ChatReply(answer=f"My guide says this of {'these' if len(said) > 1 else 'one'}: {text}",
                             citations=citations, species_id=focus)
        region = region_of(normalize(message))
        places = REGIONS[region] if region else ()
        found = farthest_migrant(self.index.chunks, of_kind, places) if farthest else None
        if found is None:
            return None
        chunk, j, _ = found
        name = chunk.entry_title.lower()
        where = region.title().replace("The ", "the ") if region else ""
        lead = (f"Of the migrations in {where} whose distance my guide gives, the {name}'s goes farthest:"
                if region else
                f"Of the species whose migration distance my guide gives, the {name} goes farthest:")
        return ChatReply(answer=f"{lead} {chunk.sentences[j]} [1]",
                         citations=[self._citation(1, chunk, chunk.sentences[j])], species_id=focus)

    def _citation(self, n: int, chunk: Chunk, sentence: str) -> Citation:
        kind: Literal["species", "topic"] = "topic" if chunk.entry_kind == "topic" else "species"
        return Citation(n=n, entry=chunk.entry, entry_kind=kind, entry_title=chunk.entry_title,
                        section=chunk.section, section_title=chunk.section_title, text=sentence)

    def _cite_sizes(self, size: SizeAnswer, focus: str | None) -> ChatReply:
        return self._cite_generated(list(size.sentences), "wingspan", focus)

    def _cite_generated(self, sentences: Sequence[tuple[str | None, list[str]]], section: str,
                        focus: str | None) -> ChatReply:
        """An answer worked out from structured fields: each sentence cites the ``section`` chunk of
        the labels it names (``None`` quotes that chunk's first sentence itself)."""
        citations: list[Citation] = []
        parts = []
        for sentence, labels in sentences:
            marks = ""
            for label in labels:
                chunk = self.planner.chunk[f"{label}::{section}"]
                citations.append(self._citation(len(citations) + 1, chunk, chunk.sentences[0]))
                marks += f"[{len(citations)}]"
            parts.append(f"{sentence or chunk.sentences[0]} {marks}")
        return ChatReply(answer=" ".join(parts), citations=citations, species_id=focus)

    def _cite_candidates(self, found: list[Chunk], focus: str | None) -> ChatReply:
        citations = [self._citation(i + 1, c, c.sentences[0]) for i, c in enumerate(found)]
        first = found[0].entry_title
        text = f"From that description it is probably the {first}: {citations[0].text} [1]"
        if len(found) > 1:
            text += f" It could also be the {found[1].entry_title}: {citations[1].text} [2]"
        text += " To be sure, send a photo and I can identify it."
        return ChatReply(answer=text, citations=citations, species_id=focus or found[0].entry,
                         candidates=True)

    # --- output -------------------------------------------------------------------------
    def _compose(self, plan: Plan, focus: str | None) -> ChatReply:
        citations: list[Citation] = []
        parts: list[str] = []
        for chunk, limit in plan.parts:
            for sentence in chunk.sentences[:limit]:
                if len(citations) >= MAX_SENTENCES:
                    break
                if any(c.text == sentence and c.entry == chunk.entry for c in citations):
                    continue  # the same sentence reached the plan twice (e.g. best sentence + its section)
                n = len(citations) + 1
                kind: Literal["species", "topic"] = "topic" if chunk.entry_kind == "topic" else "species"
                citations.append(Citation(n=n, entry=chunk.entry, entry_kind=kind,
                                          entry_title=chunk.entry_title, section=chunk.section,
                                          section_title=chunk.section_title, text=sentence))
                parts.append(f"{sentence} [{n}]")
        if not citations:
            return ChatReply(answer=NOT_COVERED + ".", species_id=focus, status="not_covered")
        return ChatReply(answer=" ".join(parts), citations=citations, species_id=focus)

    def _not_covered(self, targets: list[str]) -> str:
        if targets:
            name = self.guide.species[targets[0]].common_name
            return f"{NOT_COVERED} for the {name}, so I won't guess."
        return f"{NOT_COVERED}, so I won't guess."

    def _species_from_history(self, history: Sequence[dict[str, str]]) -> str | None:
        """The species the latest turn that names one is about: the user's last-named species, or
        the first one an assistant answer names (its subject; later ones are comparisons)."""
        for turn in reversed(list(history)[-10:]):
            content = turn.get("content", "") if isinstance(turn, dict) else ""
            found = self.linker.labels(content)
            if found:
                return found[0] if turn.get("role") == "assistant" else found[-1]
        return None


_IDENTITY = re.compile(r"\bwhat (is|are|was|were|s) (it|this|that|they|these|those|he|she)\s*([?.!,]|$)|"
                       r"\b(what|which) (kind|sort|type|species|one)\b|\bwhat (butterfly|moth|caterpillar)\b|"
                       r"\bidentify\b|\bturn into\b|\bcalled\b|\bname\b|\bany idea\b|\bwho is\b")


_WHAT_THING = re.compile(r"\b(?:what|which) ([a-z]{3,})\b")


def asks_identity(message: str) -> bool:
    """Whether a message asks which species something is ("what is it", "what will it turn into")."""
    return bool(_IDENTITY.search(normalize(message)))


def _compared_with(message: str, start: int) -> bool:
    """Whether the name at token ``start`` follows "like (a|the)", "than (a|the)" or "similar to": a
    comparison ("smaller than a monarch"); or a "not" ("pretty sure it's not a monarch", "it wasn't
    the monarch"): a species it is said not to be."""
    words = tokens(message)
    before = words[max(0, start - 3):start]
    # ("it wasn't a monarch" is "it wasn t a monarch"; "isn't the Julia a kind of monarch?" asks)
    denied = "not" in before[-2:] or any(
        words[k] == "t" and words[k - 1].endswith("n") and words[k - 2] in {"it", "this", "that", "s"}
        for k in range(max(2, start - 2), start))
    return ("like" in before or "than" in before[-2:] or denied
            or before[-2:] in (["similar", "to"], ["looks", "like"]))


def _described(message: str, unknown: Unknown) -> bool:
    """Whether a name phrase is part of a description, not a species asked about by name: a phrase of
    look words starts a description ("a black swallowtail with shiny blue hindwings"), it is the last of a
    list of colours ("electric blue and black swallowtail"), or, in a message that describes an insect, it
    is a plain butterfly, moth or caterpillar qualified by looks ("pink and yellow fuzzy little moth")."""
    words = tokens(message)
    end, start = unknown.end, unknown.start
    if any(s != start for s, _ in _occurrences(words, words[start:end])):
        return False  # typed twice ("a blue oakleaf with its wings open. how is the blue oakleaf"): a name
    # "large white butterfly with black spots": the group word may stand between the name and "with"
    after = end + 1 if end + 1 < len(words) and words[end] in PLAIN_HEADS else end
    if (after < len(words) and words[after] == "with" and tells_looks(" ".join(words[after + 1:]))
            and tells_looks(" ".join(words[start:end]))  # "elephant hawk moth ... with fake eyes" names one
            and not (words and words[0] in {"where", "when", "how", "why", "does", "do", "is", "are"})):
        return True
    if start >= 1 and words[start - 1] in _SAYS:
        return False  # "look like bird poop, my tita says lime butterfly": what it is called
    if not is_description(message):
        return False
    if start >= 2 and words[start - 1] in {"and", "or"} and (words[start - 2] in COLOURS
                                                              or tells_looks(words[start - 2])):
        return True
    return looks_qualified(words[start:end])


# other names of covered species that are everyday words: a name only written with a capital, after
# "the" or before a group word ("the Flame", "flame butterfly"; "at sunset" is a time of day)
_EVERYDAY_NAMES = {"flame", "cosmopolitan", "sunset"}
# titles that are also (words of) species names: "the last monarch of Madagascar", "Admiral Nelson"
_TITLES = {"monarch", "queen", "king", "emperor", "empress", "viceroy", "admiral", "duke", "duchess",
           "prince", "princess", "baron", "general", "captain", "lord", "commodore", "sultan", "tsar"}
_OF_A_PLACE = re.compile(r"^\s+of\s+(?:the\s+)?[A-Z]")
_A_PERSON = re.compile(r"^\s+([A-Z][a-z]+)")


def _another_thing(message: str, words: Sequence[str], mention: Mention) -> bool:
    """Whether a covered name stands for something else: a word of it before another animal ("Hercules
    beetle", "atlas beetle"), or a one-word name used as a title ("the last monarch of Madagascar",
    "Admiral Nelson", "the Queen of England"). ``words``: the message's tokens."""
    if (mention.end < len(words) and words[mention.end] in OTHER_ANIMALS
            and not PLAIN_HEADS & set(words[mention.end:mention.end + 3])):
        return True  # (not "clearwing hummingbird moth")
    if (mention.end - mention.start == 1 and not mention.exact and words[mention.start] in english_words()
            and not set(words) & LEPIDOPTERA_WORDS):
        return True  # "why did the monarchy end": an English word, no slip of a name, and no butterfly word
    if mention.end - mention.start == 1 and words[mention.start] in _EVERYDAY_NAMES:
        word = words[mention.start]
        named = (re.search(rf"\b{word.capitalize()}\b", message) is not None
                 or (mention.start > 0 and words[mention.start - 1] == "the")
                 or (mention.end < len(words) and words[mention.end] in PLAIN_HEADS))
        if not named:
            return True  # "why are moths drawn to a flame": the word, not the Julia's other name
    if _another_sense(words, mention.start, mention.end):
        return True  # "why do peacocks spread their tail feathers", "the Painted Ladies houses"
    if mention.end - mention.start != 1 or words[mention.start] not in _TITLES:
        return False
    found = re.search(rf"\b{re.escape(words[mention.start])}\b", message, re.IGNORECASE)
    if found is None:
        return False
    rest = message[found.end():]
    person = _A_PERSON.search(rest)
    return bool(_OF_A_PLACE.search(rest)) or (person is not None and normalize(person.group(1)) not in HEADS
                                               and person.group(1).lower() not in PLAIN_HEADS
                                               and found.group(0)[0].isupper())


# words only a bird has
_FEATHERED = {"feather", "feathers", "feathered", "plumage", "peahen", "peahens", "peafowl", "peachick",
              "peachicks", "beak", "beaks"}
# one-word covered names with another common sense, and words that only that sense goes with (a peacock
# that fans its tail or screams, the Julia language, the Apollo missions, an atlas of maps, the moon)
_OTHER_SENSE = {
    "peacock": {"tail", "tails", "scream", "screams", "screaming", "screech", "screeches", "crest", "fans",
                "dance", "dances", "dancing", "monsoon", "national"},
    "julia": {"python", "programming", "code", "coding", "language", "compiler", "matlab", "script"},
    "apollo": {"mission", "missions", "astronaut", "astronauts", "rocket", "nasa", "spacecraft", "lunar"},
    "atlas": {"map", "maps", "road", "shrugged", "titan", "globe", "vertebra", "vertebrae", "cervical",
              "spine", "skull", "bone", "bones", "mountains", "marrakech", "marrakesh", "morocco", "hike",
              "hiking", "trek", "trekking", "randonnee", "toubkal"},
    "luna": {"lunar", "orbit", "spacecraft", "probe", "rover"},
    "comet": {"orbit", "halley", "telescope", "nucleus", "asteroid", "meteor", "planet", "planets"},
    "cleopatra": {"pharaoh", "antony", "caesar", "ptolemaic", "ptolemy", "nile", "egypt", "egyptian", "asp",
                  "alexandria", "reign", "reigned", "ruled", "dynasty", "octavian", "tomb", "snake", "snakes",
                  "suicide"},
    "monarch": {"king", "kings", "throne", "crown", "crowned", "reign", "reigned", "reigning", "sovereign",
                "coin", "coins", "kingdom", "royal", "budget", "budgeting", "finance", "finances"},
    "question mark": {"punctuation", "sentence", "sentences", "spanish", "upside", "grammar", "exclamation",
                      "keyboard", "typing"},
    "cinnabar": {"mineral", "minerals", "mercury", "ore", "crystal", "crystals", "rock", "rocks", "pigment",
                 "vermilion", "lacquer", "gem", "gemstone"},
    "malachite": {"mineral", "minerals", "gem", "gemstone", "gemstones", "ore", "crystal", "crystals",
                  "polished", "jewellery", "jewelry", "pigment", "carbonate"},
    "queen": {"king", "kings", "throne", "crown", "crowned", "coronation", "reign", "reigned", "majesty",
              "royal", "monarchy", "jubilee", "elizabeth", "victoria", "palace"},
    # (a name of two words: the row of Victorian houses in San Francisco)
    "painted lady": {"houses", "victorian", "victorians", "architecture", "alamo"},
}


def _a_place_shape(name: str, genera: Collection[str]) -> bool:
    """Whether a two-word name shape is neither a binomial of a known genus nor ends in a group word."""
    words = name.split()
    return len(words) == 2 and words[0] not in genera and words[1] not in HEADS


def _names_a_butterfly(words: Sequence[str], end: int) -> bool:
    """Whether a listed thing ending at ``end`` begins a butterfly's name ("Queen Victoria's birdwing"):
    the next word, past a possessive "s", is a group word."""
    rest = list(words[end:])
    if rest[:1] == ["s"]:
        rest = rest[1:]
    return bool(rest) and (rest[0] in HEADS or rest[0] in LEPIDOPTERA_WORDS)


def _another_sense(words: Sequence[str], start: int, end: int) -> bool:
    """Whether the covered name at ``words[start:end]`` stands for something else, with no butterfly, moth
    or caterpillar in the message: a one-word name with feathers (a bird), or a word only its other sense
    goes with ("Which monarch is on a 1911 gold sovereign", "the Painted Ladies houses")."""
    said = set(words)
    if said & LEPIDOPTERA_WORDS:
        return False
    name = " ".join(words[start:end])
    sense = _OTHER_SENSE.get(name) or _OTHER_SENSE.get(name.rstrip("s")) or _OTHER_SENSE.get(
        re.sub(r"ies$", "y", name), set())
    return (end - start == 1 and bool(said & _FEATHERED)) or bool(said & sense)


def _alias_of_covered(words: Sequence[str], unknown: Unknown, mentions: Sequence[Mention]) -> bool:
    """Whether a name the guide lacks is given as another name of a covered species: "call(s/ed) the
    <covered name> <name>" ("people call the monarch la mariposa monarca")."""
    for m in mentions:
        gap = words[m.end:unknown.start]
        before = words[max(0, m.start - 2):m.start]
        joined = all(w in _CALLED_FILLER | _NAME_JOINERS for w in gap) and len(gap) <= 2
        if m.end <= unknown.start and joined and _CALLING & set(before):
            return True
    return False


# words that introduce what something is called ("we call them ...", "known as ...")
_CALLING = {"call", "calls", "called", "calling", "nicknamed", "as"}
_CALLED_FILLER = {"it", "them", "em", "this", "these", "those", "they", "the", "a", "an", "one", "ones", "s"}
_NAME_JOINERS = {"de", "del", "da", "do", "dos", "das", "la", "le", "el", "di", "van", "von"}
# words a name follows when someone says what a thing is called ("my tita says lime butterfly")
_SAYS = _CALLING - {"as", "calling"} | {"says", "said", "say", "named", "reckons", "thinks"}

_SUFFIXES = ("s", "es", "er", "ers", "est", "ed", "ing", "ings", "ly", "ness", "less", "ful", "ish", "ies")


def _looks_english(word: str, english: frozenset[str]) -> bool:
    """Whether ``word`` is an English word, an inflection of one ("feelers", "quickest") or two joined
    ("beekeeper", "grandkids"), so no local species name ("oomurasaki")."""
    if word in english or stem(word) in english:
        return True
    if any(word.endswith(end) and (word[:-len(end)] in english or word[:-len(end)] + "e" in english
                                   or word[:-len(end)] + "y" in english)
           for end in _SUFFIXES):
        return True
    return any(word[:k] in english and (word[k:] in english or word[k:].rstrip("s") in english)
               for k in range(3, len(word) - 2))


def _occurrences(words: Sequence[str], name: Sequence[str]) -> list[tuple[int, int]]:
    """Every span of ``words`` that is ``name`` word for word."""
    n = len(name)
    return [(i, i + n) for i in range(len(words) - n + 1) if n and list(words[i:i + n]) == list(name)]


@lru_cache(maxsize=1)
def default_engine() -> ChatEngine:
    """The process-wide engine over the packaged guide (the MiniLM model loads once)."""
    return ChatEngine(llm=_llm_from_env())


def _llm_from_env() -> Any:
    from butterflyer.chat.llm import llm_from_env

    return llm_from_env()
