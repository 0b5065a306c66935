"""The conversational frame around a question: "my daughter wants to know ...", "homework question:",
"settle an argument between me and my husband ...", "explain like I'm 7 ...", "um so like ...",
"excuse me, ...", "@Sam ...", "for my project I need to know ...", a claim to check ("isn't it true that
...", "I read that ... is that right?"), and thanks at the end ("... thanks so much!!").

Such a frame says who asks and why, never what is asked; its words ("daughter", "homework") are
words the guide never uses, and read as part of the question they make it look like one about
something the guide lacks. :func:`strip_frame` removes frames at the start of a message, one after
another, and the thanks at its end, and keeps the message whole when nothing would be left to ask.
"""

from __future__ import annotations

import re

_PEOPLE = (r"(?:son|daughter|kids?|child|children|boy|girl|husband|wife|partner|grandson|granddaughter|"
           r"grandkids?|grandchildren|teacher|class|students?|pupils?|friends?|neighbou?rs?|mum|mom|dad|"
           r"brother|nephew|niece|boyfriend|girlfriend|family|toddler|little one|group|club)")
_GAP = r"(?:\s*[,.:;!?]+|\s+-+|\s+)*"  # a hyphen only after a space ("well-known" is one word)
_FRAMES = [
    # fillers and greetings: "um", "so like", "hey butterflyer", "ok so"
    rf"(?:um+|uh+|erm*|hmm+|so+(?: like)?|ok(?:ay)?|hey|hi|hello|yo)(?: there)?\b{_GAP}",
    rf"(?:butterflyer|bot|chatbot)\b{_GAP}",
    # a forum reply's addressee: "@Sam", "@moth_fan99:"
    rf"@[a-z0-9_.]+{_GAP}",
    # "excuse me", "sorry to bother you", "pardon me"
    rf"(?:excuse me|pardon me|sorry(?: to bother you)?)\b{_GAP}",
    # "for my project I need to know", "for my biology project on mimicry:"
    rf"for (?:my|our|a) (?:school |science |biology |class )?(?:project|report|essay|homework|assignment|"
    rf"presentation)(?: (?:on|about) [a-z]+)?"
    rf"(?:,? (?:i|we) (?:need|have|want) to (?:know|find out))?\b{_GAP}",
    # "quick question", "random q", "question for you"
    rf"(?:(?:a )?(?:quick|random|silly|dumb|stupid|simple|easy|small|little|serious) )?"
    rf"(?:question|q)(?: for (?:you|ya))?\b(?! mark){_GAP}",
    # "homework question", "school project help", "science quiz"
    rf"(?:(?:my|our|a|for (?:my|our|a))\s+)?(?:homework|school|science|biology|project|assignment|"
    rf"quiz|test|exam)(?: (?:question|help|q|project|quiz|task))?\b{_GAP}",
    rf"true or false\b{_GAP}",
    # "explain like I'm 7", "explain it to me like I'm five", "in words a kid would get"
    rf"explain(?: (?:it|this))?(?: to me)?(?: (?:like|as if|as though) (?:i'?m|i am|im|to) (?:a |an )?"
    rf"[a-z0-9-]+(?: (?:years?|yrs?|yo)(?: old)?)?)\b{_GAP}",
    # "my daughter wants to know", "our class asked", "the kids keep asking me"
    rf"(?:my|our|the) (?:little |young |eldest |youngest |oldest |\d+ ?(?:year|yr)[ -]old )?{_PEOPLE}"
    rf"(?: and i)? (?:wants?|wanted|would like|is asking|are asking|asked|asks|keeps? asking|kept asking|"
    rf"(?:is |are |was |were )?wondering|wonders?|wondered|(?:is |are |was |were )?curious)"
    rf"(?: me)?(?: to know)?(?: (?:about|if|whether))?\b{_GAP}",
    # "settle an argument between me and my husband", "help us settle a bet"
    rf"(?:(?:can you |please )?help (?:me |us )?)?settle (?:an|a|this|our) (?:argument|debate|bet|dispute)"
    rf"(?: (?:between|for) (?:me|us)(?: and (?:my|our) [a-z]+)?)?\b{_GAP}",
    # "I was wondering", "just curious", "I'd like to know", "do you know"
    rf"(?:(?:i|we) (?:was|were|am|are|'m|'re) |im |i'm |we're )?(?:just )?(?:wondering|curious)"
    rf"(?: (?:about|if|whether))?\b{_GAP}",
    rf"(?:(?:i|we) (?:would|'d) like to know|i'd like to know|(?:i|we) (?:want|wanna|need) to know|"
    rf"do you (?:happen to )?know)(?: (?:if|whether))?\b{_GAP}",
    # a claim to check: "isn't it true that ...", "is it true ...", "I read that ...", "I've heard ...",
    # "my teacher says ...": the claim's subject is what is asked about
    rf"(?:(?:is ?n'?t|is not|is) it (?:true|right|correct|a fact)|am i right(?: in thinking)?|"
    rf"(?:i|we) (?:have |'ve |had )?(?:read|heard|was told|were told|learned|learnt)(?: somewhere| once)?|"
    rf"(?:someone|somebody|people) (?:says?|said|told (?:me|us))|"
    rf"(?:my|our|the) {_PEOPLE} (?:says?|said|told (?:me|us)|thinks?|reckons?))(?: that)?\b{_GAP}",
    # "could you please tell me ...", "can u tell me if ..." (not "tell me about", which asks for a summary)
    rf"(?:(?:can|could|would|will) (?:you|u) )?(?:please |pls |plz )?(?:tell|let) me(?: know)?(?! about)"
    rf"(?: (?:if|whether))?\b{_GAP}",
]
_FRAME = re.compile(r"^(?:" + "|".join(_FRAMES) + r")", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+", re.IGNORECASE)


# thanks and sign-offs at the end: "... thanks so much!!", "... cheers", "... thank you in advance"
_TAIL = re.compile(r"[\s,.;:!?-]*\b(?:(?:thanks|thank you|thankyou|thx|ty|cheers|many thanks|ta)"
                   r"(?: (?:so|very) much| a lot| a bunch| in advance| again)?|"
                   r"have a (?:nice|good|great) day)"
                   r"[\s!.?:)(]*$", re.IGNORECASE)


# a request to confirm at the end: "... is that right?", "... is that true?", "..., right?"
_CHECK = re.compile(r"[\s,.;:!?-]*\b(?:(?:is|was) (?:that|this|it) (?:right|true|correct|so|a myth|real)|"
                    r"(?:right|true|correct)(?= *\?))[\s!.?]*$", re.IGNORECASE)


# a statement with a question tag ("it isn't only the monarch that migrates, is it?"), and a question that
# asks which species ("which others make long journeys?", "which butterfly is found in the most places?")
_TAGGED = re.compile(r"\b(?:is|isn'?t|are|aren'?t|does|doesn'?t|do|don'?t|was|wasn'?t|can|can'?t)\s+"
                     r"(?:it|they|he|she|that|there|you)\s*\?+$", re.IGNORECASE)
_WH_QUESTION = re.compile(r"^(?:so |and |but |then )?(?:which|what)\s+(?:other\s+)?"
                          r"(?:others?|ones?|butterfl\w*|moths?|species|"
                          r"(?:kinds?|types?|sorts?) of (?:butterfl\w*|moths?))\b.*\?\s*$",
                          re.IGNORECASE)
_NEGATED = re.compile(r"\b(?:isn'?t|aren'?t|doesn'?t|don'?t|wasn'?t|weren'?t|can'?t|won'?t|didn'?t|"
                      r"not|never)\b", re.IGNORECASE)
# someone's guess beside the question ("which moth has the longest tails? my teacher says the luna moth")
_GUESS = re.compile(r"^(?:but |and )?(?:(?:my|our|the) [a-z]+ (?:says?|said|thinks?|thought|reckons?)|"
                    r"(?:i|we) (?:think|thought|guess|reckon))\b", re.IGNORECASE)
_BACK = re.compile(r"\b(?:it|its|it's|they|them|their|this|that one|these|those|(?:is|was) that)\b",
                   re.IGNORECASE)


def drop_tagged_aside(text: str) -> str:
    """``text`` without a tagged statement or a guess beside a question that asks which species: "it isn't
    only the monarch that migrates, is it? which others make long journeys?" asks which others; "... ? it
    isn't the cabbage white, is it?" and "... ? my teacher says the luna moth" say which answer the
    visitor doubts, and name no species to answer about ("... doesn't live in open fields, does it? what
    sort of habitat ..." keeps its species)."""
    parts = [p.strip() for p in re.findall(r"[^?!.]+[?!.]*", text) if p.strip()]
    asking = [p for p in parts if _WH_QUESTION.match(p)]
    # ("... doesn't eat garden weeds, does it? which plants does *its* caterpillar use?" refers back)
    if len(parts) < 2 or not asking or any(_BACK.search(p) for p in asking):
        return text
    kept = [p for p in parts if not ((_TAGGED.search(p) and _NEGATED.search(p)) or _GUESS.match(p))]
    return " ".join(kept) if kept and len(kept) < len(parts) else text


def strip_frame(message: str) -> str:
    """``message`` without the conversational frames it opens with and the thanks it ends with;
    unchanged where fewer than two words would be left."""
    text = drop_tagged_aside(message.strip())
    for tail in (_TAIL, _CHECK):
        m = tail.search(text)
        if m and m.start() > 0 and len(_WORD.findall(text[:m.start()])) >= 2:
            # keep the question's own mark: "where does it live? thanks!" -> "where does it live?"
            text = text[:m.start()] + ("?" if "?" in m.group(0) else "")
    while True:
        m = _FRAME.match(text)
        if not m or not m.group(0):
            return text
        rest = text[m.end():].lstrip()
        if len(_WORD.findall(rest)) < 2:
            return text
        text = rest
