"""``POST /v1/chat``: a question to the field-guide chatbot, answered with numbered citations.

Request ``{message, species_id?, history?, photo?}``; with ``photo.known_species`` false and no
species named in the message, the reply says the guide has no entry for the photographed species
and offers its closest known relatives; response ``{answer, citations: [{n, entry,
section, text, ...}], sources: [{entry, entry_title, references}], species_id, status,
backend}`` (``sources``: the references of every cited guide entry). ``status`` is ``answered``,
``not_covered`` (the guide cannot support an answer) or ``off_topic``. The engine (MiniLM
and the index) is built once per process on first use; call :func:`warm_up` at startup
to pay that cost before the first request.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from butterflyer.chat.answer import ChatEngine, default_engine
from butterflyer.chat.photo import unknown_photo_reply
from butterflyer.chat.reply import ChatReply
from butterflyer.errors import ChatError, ConfigError

router = APIRouter(prefix="/v1", tags=["chat"])


class ChatTurn(BaseModel):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=4000)


class PhotoContext(BaseModel):
    """The identification of the photo the conversation is about (from ``/v1/identify``)."""

    known_species: bool = Field(description="the answer's known_species")
    relatives: list[str] = Field(default_factory=list, max_length=10,
                                 description="dataset labels of the closest known species")
    group: str | None = Field(default=None, max_length=200, examples=["a member of the genus Papilio"],
                              description="the genus or family the photo was rolled up to, in words")


class ChatRequest(BaseModel):
    """A question, optionally about the identified species, with the conversation so far."""

    message: str = Field(min_length=1, max_length=2000, examples=["What does its caterpillar eat?"])
    species_id: str | None = Field(default=None, max_length=100, examples=["MONARCH"],
                                   description="dataset label of the conversation's current species")
    history: list[ChatTurn] = Field(default_factory=list, max_length=50)
    photo: PhotoContext | None = Field(default=None,
                                       description="what the identifier said about the user's photo")


class ChatError422(BaseModel):
    """Error body."""

    error: str
    detail: str


def get_chat_engine() -> ChatEngine:
    """The process-wide engine (override in tests with ``app.dependency_overrides``)."""
    try:
        return default_engine()
    except (ChatError, ConfigError) as exc:
        raise HTTPException(503, {"error": "chat_unavailable", "detail": str(exc)}) from exc


EngineDep = Annotated[ChatEngine, Depends(get_chat_engine)]


def warm_up() -> None:
    """Load the encoder and open (or build) the index now."""
    default_engine()


@router.post("/chat", response_model=ChatReply, summary="Ask the field guide",
             responses={422: {"model": ChatError422}, 503: {"model": ChatError422}})
def chat(request: ChatRequest, engine: EngineDep) -> ChatReply:
    """Answer from the field guide only, citing the sentences used."""
    if request.species_id is not None and request.species_id not in engine.guide.species:
        raise HTTPException(422, {"error": "unknown_species",
                                  "detail": f"species_id {request.species_id!r} is not in the field guide; "
                                            "use a dataset label such as 'MONARCH' (GET /v1/species)"})
    history = [turn.model_dump() for turn in request.history]
    photo = request.photo
    if photo is not None and not photo.known_species and request.species_id is None \
            and not engine.linker.find(request.message):  # about the photo, not a named species
        return unknown_photo_reply(engine.guide, photo.relatives, photo.group)
    try:
        return engine.ask(request.message, species_id=request.species_id, history=history)
    except ChatError as exc:
        raise HTTPException(422, {"error": "bad_question", "detail": str(exc)}) from exc
