"""``GET /v1/model/card``: the served model's ``MODEL_CARD.md`` (Markdown, or a plain HTML page)."""

from __future__ import annotations

import html
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from butterflyer.registry.model_card import read_model_card
from butterflyer.serve.deps import HolderDep
from butterflyer.serve.schemas import ErrorBody

router = APIRouter(prefix="/v1", tags=["model"])


@router.get("/model/card", response_class=Response, responses={503: {"model": ErrorBody}},
            summary="The served model's card: intended use, data, figures with intervals, failure modes")
def model_card(holder: HolderDep, format: Literal["markdown", "html"] = Query("markdown")) -> Response:
    text = read_model_card(holder.get().model.folder)
    if format == "markdown":
        return Response(text, media_type="text/markdown; charset=utf-8")
    page = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Model card</title>"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}"
            "pre{white-space:pre-wrap}</style></head><body><p><a href=\"/\">Back to ButterFlyer</a> · "
            "<a href=\"/v1/model/card\">Markdown</a></p><pre id=\"card\">" + html.escape(text)
            + "</pre></body></html>")
    return HTMLResponse(page)
