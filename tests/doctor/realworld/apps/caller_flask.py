"""``checkout``: Flask calling ``payments`` with ``requests`` and enqueuing Celery tasks.

``GET /checkout`` first calls ``EXTERNAL_URL`` when set (an uninstrumented
peer), then ``PAYMENTS_URL`` (comma-separated: the replicas, in turn).
``GET /order`` sends the ``fulfil`` task and waits for its result.  ``GET /quote``
calls ``pricing``'s ``/shop.Pricing/Quote`` over gRPC at ``PRICING_TARGET``
(``host:port``).  Each answers with the caller's own span and what the other side
reported.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from typing import Any

import requests
from _common import current_span, exit_cleanly_on_sigterm, exit_with_the_test_bed, port
from flask import Flask

app = Flask(__name__)
_replicas = itertools.cycle(os.environ.get("PAYMENTS_URL", "").split(","))
_turn = threading.Lock()


@app.get("/checkout")
def checkout() -> dict[str, Any]:
    external = os.environ.get("EXTERNAL_URL")
    if external:
        requests.get(external, timeout=10).raise_for_status()
    with _turn:
        url = next(_replicas)
    answer = requests.get(url, timeout=10)
    answer.raise_for_status()
    return {"caller": current_span(), "callee": answer.json(), "external": external}


@app.get("/order")
def order() -> dict[str, Any]:
    from tasks import fulfil

    result = fulfil.apply_async(args=("order-1",))
    return {"caller": current_span(), "callee": result.get(timeout=20)}


@app.get("/quote")
def quote() -> dict[str, Any]:
    import grpc

    with grpc.insecure_channel(os.environ["PRICING_TARGET"]) as channel:
        call = channel.unary_unary("/shop.Pricing/Quote")  # bytes in, bytes out
        answer = call(b"{}", timeout=10)
    return {"caller": current_span(), "callee": json.loads(answer)}


if __name__ == "__main__":
    exit_cleanly_on_sigterm()
    exit_with_the_test_bed()
    app.run(host="127.0.0.1", port=port(), use_reloader=False, threaded=True)
