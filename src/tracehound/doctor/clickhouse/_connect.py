"""Where the spans live: a ClickHouse server (``clickhouse://``, over HTTP(S) with
clickhouse-connect) or an embedded chDB data directory (``chdb:PATH``)."""

from __future__ import annotations

import logging
import os
import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

__all__ = ["INSTALL_HINT", "ClickHouseError", "Connection", "Target", "connect", "parse_target"]

INSTALL_HINT = "pip install 'tracehound[clickhouse]'"

SESSION_SETTINGS = {
    # a LEFT JOIN without a match gives NULL, as in DuckDB (not the type's default value)
    "join_use_nulls": 1,
    # a column's name means the column, not an alias of the same SELECT, as in DuckDB
    "prefer_column_name_to_alias": 1,
    # integers beyond 2^53 as JSON numbers (chDB's rows are read as JSON)
    "output_format_json_quote_64bit_integers": 0,
}


class ClickHouseError(RuntimeError):
    """The ClickHouse target cannot be used: a bad URL, a missing extra, or the server said no."""


@dataclass(frozen=True)
class Target:
    """A parsed ``--clickhouse`` value."""

    kind: str  # "chdb" or "http"
    path: str = ""
    host: str = ""
    port: int = 0
    secure: bool = False
    user: str = "default"
    password: str = ""
    database: str = "default"

    def describe(self) -> str:
        """The target for people, without the password."""
        if self.kind == "chdb":
            return f"chdb:{self.path}"
        scheme = "https" if self.secure else "http"
        return f"clickhouse {scheme}://{self.host}:{self.port}/{self.database}"


def parse_target(value: str) -> Target:
    """``chdb:PATH``, ``clickhouse://user:pass@host:8123/db``, ``https://host:8443/db``
    (``clickhouse+https://`` too); raises `ClickHouseError` naming what is wrong."""
    if value.startswith("chdb:"):
        path = value[len("chdb:") :]
        if not path:
            raise ClickHouseError(f"--clickhouse {value}: chdb: needs a data directory (chdb:PATH)")
        return Target("chdb", path=path)
    url = urllib.parse.urlsplit(value)
    secure = {"clickhouse": False, "http": False, "clickhouse+https": True, "https": True}.get(
        url.scheme
    )
    if secure is None or not url.hostname:
        raise ClickHouseError(
            f"--clickhouse {value}: expected chdb:PATH or clickhouse://user:pass@host:8123/db "
            "(https://… for TLS)"
        )
    try:
        port = url.port or (8443 if secure else 8123)
    except ValueError:
        raise ClickHouseError(f"--clickhouse {value}: the port is not a number") from None
    database = url.path.strip("/") or "default"
    return Target(
        "http",
        host=url.hostname,
        port=port,
        secure=secure,
        user=urllib.parse.unquote(url.username or "default"),
        password=urllib.parse.unquote(url.password or ""),
        database=database,
    )


class Connection(Protocol):
    """One session on the target: temporary tables live as long as it does."""

    target: Target

    def execute(self, sql: str) -> None: ...

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...

    def parquet(self, sql: str) -> bytes:
        """The rows of ``sql`` as a Parquet file."""

    def insert_parquet(self, table: str, columns: list[str], path: str) -> None:
        """Insert the Parquet file ``path`` into ``columns`` of ``table``."""

    def close(self) -> None: ...


class _ChdbConnection:
    def __init__(self, target: Target, create: bool) -> None:
        try:
            from chdb import session
        except ImportError:
            raise ClickHouseError(f"--clickhouse chdb:… needs chDB: {INSTALL_HINT}") from None
        if not create and not os.path.isdir(target.path):
            raise ClickHouseError(f"{target.describe()}: no chDB data directory there")
        self.target = target
        self._session = session.Session(target.path)
        for name, value in SESSION_SETTINGS.items():
            self.execute(f"SET {name} = {value}")

    def execute(self, sql: str) -> None:
        self._query(sql, "CSV")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        data = self._query(sql, "JSONCompactEachRow")
        return [tuple(orjson.loads(line)) for line in data.splitlines() if line]

    def parquet(self, sql: str) -> bytes:
        return self._query(sql, "Parquet")

    def insert_parquet(self, table: str, columns: list[str], path: str) -> None:
        names = ", ".join(f"`{c}`" for c in columns)
        quoted = path.replace("\\", "\\\\").replace("'", "\\'")
        self.execute(f"INSERT INTO {table} ({names}) SELECT * FROM file('{quoted}', Parquet)")

    def _query(self, sql: str, fmt: str) -> bytes:
        try:
            result = self._session.query(sql, fmt)
        except Exception as exc:  # chDB raises its engine's errors as plain exceptions
            raise ClickHouseError(f"{self.target.describe()}: {_first_line(exc)}") from exc
        return bytes(result.bytes())

    def close(self) -> None:
        self._session.close()


class _HttpConnection:
    def __init__(self, target: Target) -> None:
        urllib3_level = logging.getLogger("urllib3").level
        try:
            import clickhouse_connect
        except ImportError:
            raise ClickHouseError(
                f"--clickhouse {target.describe()} needs clickhouse-connect: {INSTALL_HINT}"
            ) from None
        finally:
            # importing clickhouse-connect sets urllib3's log level: the user's logging
            # configuration stays as it was
            logging.getLogger("urllib3").setLevel(urllib3_level)
        self.target = target
        try:
            self._client = clickhouse_connect.get_client(
                host=target.host,
                port=target.port,
                username=target.user,
                password=target.password,
                database=target.database,
                secure=target.secure,
                settings=dict(SESSION_SETTINGS),
            )
        except Exception as exc:  # the client's errors: refused, TLS, authentication
            raise ClickHouseError(f"{target.describe()}: {_first_line(exc)}") from exc

    def execute(self, sql: str) -> None:
        self._call(self._client.command, sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._call(self._client.query, sql).result_rows]

    def parquet(self, sql: str) -> bytes:
        return bytes(self._call(self._client.raw_query, sql, fmt="Parquet"))

    def insert_parquet(self, table: str, columns: list[str], path: str) -> None:
        with open(path, "rb") as data:
            self._call(
                self._client.raw_insert, table, columns, insert_block=data.read(), fmt="Parquet"
            )

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            raise ClickHouseError(f"{self.target.describe()}: {_first_line(exc)}") from exc

    def close(self) -> None:
        self._client.close()


def connect(target: Target, *, create: bool = False) -> Connection:
    """A session on ``target``; ``create``: a chDB directory that does not exist yet is made."""
    if target.kind == "chdb":
        return _ChdbConnection(target, create)
    return _HttpConnection(target)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
