"""``fulfilment``: a Celery app on kombu's ``filesystem://`` transport (no broker server).

``CELERY_DATA`` names the directory holding the queue and the results.  The
``fulfil`` task returns the trace it ran in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from _common import current_span, exit_with_the_test_bed
from celery import Celery

DATA = Path(os.environ["CELERY_DATA"])
QUEUE = DATA / "queue"
QUEUE.mkdir(parents=True, exist_ok=True)
(DATA / "results").mkdir(parents=True, exist_ok=True)

exit_with_the_test_bed()  # the worker imports this module once at start

app = Celery("shop", broker="filesystem://", backend=f"file://{DATA / 'results'}")
app.conf.broker_transport_options = {
    "data_folder_in": str(QUEUE),
    "data_folder_out": str(QUEUE),
    "control_folder": str(DATA / "control"),  # kombu's default is ./control, in the repo
    "polling_interval": 0.1,
}
app.conf.broker_connection_retry_on_startup = True


@app.task(name="fulfil")
def fulfil(order: str) -> dict[str, Any]:
    return {**current_span(), "order": order}
