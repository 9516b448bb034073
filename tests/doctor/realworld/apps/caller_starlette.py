"""``storefront``: Starlette on uvicorn calling ``inventory`` with ``httpx.AsyncClient``."""

from __future__ import annotations

import os

import httpx
import uvicorn
from _common import current_span, exit_with_the_test_bed, port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def browse(request: Request) -> JSONResponse:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(os.environ["INVENTORY_URL"])
    answer.raise_for_status()
    return JSONResponse({"caller": current_span(), "callee": answer.json()})


app = Starlette(routes=[Route("/browse", browse)])

if __name__ == "__main__":
    exit_with_the_test_bed()
    uvicorn.run(app, host="127.0.0.1", port=port(), log_level="warning")
