"""``checkout``: Flask calling ``payments`` with ``requests`` and enqueuing Celery tasks.

``GET /checkout`` calls ``PAYMENTS_URL``; ``GET /order`` sends the ``fulfil``
task and waits for its result.  Both answer with the caller's own span and
what the other side reported.
"""

from __future__ import annotations

import os
from typing import Any

import requests
from _common import current_span, exit_cleanly_on_sigterm, port
from flask import Flask

app = Flask(__name__)


@app.get("/checkout")
def checkout() -> dict[str, Any]:
    answer = requests.get(os.environ["PAYMENTS_URL"], timeout=10)
    answer.raise_for_status()
    return {"caller": current_span(), "callee": answer.json()}


@app.get("/order")
def order() -> dict[str, Any]:
    from tasks import fulfil

    result = fulfil.apply_async(args=("order-1",))
    return {"caller": current_span(), "callee": result.get(timeout=20)}


if __name__ == "__main__":
    exit_cleanly_on_sigterm()
    app.run(host="127.0.0.1", port=port(), use_reloader=False, threaded=True)
