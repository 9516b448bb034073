"""The doctor where the spans already live: the OpenTelemetry Collector ClickHouse
exporter's tables, on a ClickHouse server or in an embedded chDB directory.

    from tracehound.doctor.clickhouse import check_clickhouse
    report = check_clickhouse("chdb:/var/lib/traces", start=an_hour_ago)

Needs the ``clickhouse`` extra (chDB, clickhouse-connect, SQLGlot); without
it `ClickHouseError` says how to install it.
"""

from __future__ import annotations

from tracehound.doctor.clickhouse._connect import INSTALL_HINT, ClickHouseError, parse_target
from tracehound.doctor.clickhouse._load import load_clickhouse
from tracehound.doctor.clickhouse._run import check_clickhouse

__all__ = ["INSTALL_HINT", "ClickHouseError", "check_clickhouse", "load_clickhouse", "parse_target"]
