"""The one HTTP call the demo makes: POST JSON to a service on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CALL_TIMEOUT", "Reply", "post"]

CALL_TIMEOUT = 5.0
"""Seconds to wait for one service's answer."""

Reply = tuple[int, Any]
"""An HTTP status and the decoded JSON body."""


def post(
    service: str,
    port: int,
    path: str,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    timeout: float = CALL_TIMEOUT,
) -> Reply:
    """POST JSON to ``service`` listening on 127.0.0.1:``port``; raises `OSError` on failure."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            "POST",
            path,
            json.dumps(body).encode(),
            {"content-type": "application/json", "host": f"{service}:{port}", **(headers or {})},
        )
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else None
    except http.client.HTTPException as exc:
        raise OSError(f"{service}: {exc!r}") from exc
    finally:
        connection.close()
