"""Optional LLM phrasing over an OpenAI-compatible ``/v1/chat/completions`` server.

Enabled by ``BUTTERFLYER_LLM_URL`` (e.g. ``http://localhost:11434`` for Ollama) and
``BUTTERFLYER_LLM_MODEL``; ``BUTTERFLYER_LLM_API_KEY`` is sent as a bearer token when
set. The model sees only the passages retrieval already chose, numbered; every
sentence it writes must cite one as ``[n]``. Sentences without a valid citation are
dropped, and if nothing survives (or the server fails) the offline answer stands.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import httpx

from butterflyer.chat.reply import ChatReply, answer_sentences, cited_numbers, sentence_grounded
from butterflyer.errors import ConfigError

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are ButterFlyer's field-guide assistant. Answer the user's question using ONLY the numbered "
    "passages provided. End every sentence with the number of the passage it comes from, like [2]. "
    "Do not add facts that are not in the passages. If the passages do not answer the question, say: "
    "My field guide doesn't cover that. Keep the answer to at most four short sentences."
)


@dataclass(frozen=True)
class LLMConfig:
    """Where to reach the model."""

    url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        if base.endswith("/chat/completions"):
            return base
        return f"{base}/chat/completions" if base.endswith("/v1") else f"{base}/v1/chat/completions"


def llm_from_env() -> LLMConfig | None:
    """The configured LLM, or ``None`` when ``BUTTERFLYER_LLM_URL`` is unset."""
    url = os.environ.get("BUTTERFLYER_LLM_URL", "").strip()
    if not url:
        return None
    model = os.environ.get("BUTTERFLYER_LLM_MODEL", "").strip()
    if not model:
        raise ConfigError("BUTTERFLYER_LLM_URL is set but BUTTERFLYER_LLM_MODEL is not; set the model name "
                          "(e.g. llama3.1:8b) or unset the URL to use the offline answers")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"BUTTERFLYER_LLM_URL={url!r} must start with http:// or https://")
    return LLMConfig(url=url, model=model, api_key=os.environ.get("BUTTERFLYER_LLM_API_KEY") or None,
                     timeout_s=float(os.environ.get("BUTTERFLYER_LLM_TIMEOUT_S", "30")))


def build_messages(question: str, reply: ChatReply) -> list[dict[str, str]]:
    """System prompt plus the numbered passages and the question."""
    passages = "\n".join(f"[{c.n}] ({c.entry_title}, {c.section_title}) {c.text}" for c in reply.citations)
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Passages:\n{passages}\n\nQuestion: {question}"}]


def complete(config: LLMConfig, messages: list[dict[str, str]]) -> str:
    """One chat completion; returns the assistant text."""
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    body = {"model": config.model, "messages": messages, "temperature": 0.0, "stream": False}
    resp = httpx.post(config.endpoint, json=body, headers=headers, timeout=config.timeout_s)
    resp.raise_for_status()
    return str(resp.json()["choices"][0]["message"]["content"])


def rephrase(config: LLMConfig, question: str, reply: ChatReply) -> ChatReply:
    """Let the LLM phrase ``reply`` from its own citations; keep only cited, grounded sentences."""
    if reply.refused or not reply.citations:
        return reply
    try:
        text = complete(config, build_messages(question, reply))
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as exc:
        log.warning("LLM at %s failed (%s); using the guide's own sentences", config.endpoint, exc)
        return reply
    kept = [s for s in answer_sentences(text) if sentence_grounded(s, reply.citations)]
    if not kept:
        return reply
    used = sorted({n for s in kept for n in cited_numbers(s)})
    renumber = {old: new for new, old in enumerate(used, start=1)}
    by_n = {c.n: c for c in reply.citations}
    import re

    def sub(m: re.Match[str]) -> str:
        return f"[{renumber[int(m.group(1))]}]"

    answer = " ".join(re.sub(r"\[(\d+)\]", sub, s) for s in kept)
    citations = [by_n[old].model_copy(update={"n": renumber[old]}) for old in used]
    return reply.model_copy(update={"answer": answer, "citations": citations, "backend": "llm"})
