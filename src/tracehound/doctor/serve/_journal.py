"""The journal: every accepted OTLP request body, appended and fsynced before it is acknowledged.

One file: a header line, then one record per request, ``kind`` (``P``
protobuf, ``J`` JSON; one byte), the body's length and CRC-32 (4 bytes each,
big-endian), the body as received once decompressed.  A writer thread takes
every body waiting, writes them, and syncs the file once for all of them
(group commit), so concurrent exporters share one ``fdatasync``.

A record cut off at the end of the file (the process was killed while writing
it, before it was acknowledged) is dropped when the journal is opened again;
damage anywhere else stops the opening with the byte where it is.
"""

from __future__ import annotations

import os
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

__all__ = ["HEADER", "JSON", "PROTOBUF", "Journal", "JournalError", "Scan"]

HEADER = b"tracehound-journal/1\n"
_HEAD = 9  # kind, length, CRC
PROTOBUF, JSON = b"P", b"J"

Durable = Callable[[int, bytes, bytes], None]
"""``durable(record number, kind, body)``: called in order once a record is on disk."""


class JournalError(RuntimeError):
    """The journal file cannot be used (not a journal, damaged, or not writable)."""


class Scan:
    """The records of a journal file, read one at a time (memory stays bounded by the
    largest record); after the iteration, ``end`` is the byte where the whole records
    end and ``tail`` the bytes after it (a record cut off at the end)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.end = 0
        self.tail = 0

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            head = f.read(len(HEADER))
            if head != HEADER:
                if HEADER.startswith(head):  # created, killed before the header was whole
                    self.tail = len(head)
                    return
                raise JournalError(
                    f"{self.path}: not a tracehound journal (it does not start with {HEADER!r})"
                )
            pos = len(HEADER)
            while pos + _HEAD <= size:
                head = f.read(_HEAD)
                kind = head[:1]
                length = int.from_bytes(head[1:5], "big")
                end = pos + _HEAD + length
                if end > size:
                    break
                body = f.read(length)
                if kind not in (PROTOBUF, JSON) or zlib.crc32(body) != int.from_bytes(
                    head[5:9], "big"
                ):
                    if end == size:
                        break  # the last record, damaged while written: never acknowledged
                    raise JournalError(
                        f"{self.path}: damaged record at byte {pos} (bad kind or checksum)"
                    )
                yield kind, body
                pos = end
            self.end = pos
            self.tail = size - pos


class Journal:
    """An append-only file of request bodies; `append` resolves once a body is on disk."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self.on_durable: Durable | None = None
        """Called with each record once it is on disk, in order (set before `open`)."""
        self._queue: queue.Queue[tuple[bytes, bytes, Future[int]] | None] = queue.Queue()
        self._fd = -1
        self.records = 0
        self.bytes = 0
        self.syncs = 0
        self.dropped_tail = 0
        """Bytes of a record cut off at the end, dropped when the journal was opened."""
        self._thread = threading.Thread(target=self._write_loop, name="tracehound-journal")

    def open(self) -> Iterator[tuple[int, bytes, bytes]]:
        """Open the journal (creating it), yielding the records already in it as
        ``(number, kind, body)``; then start the writer."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        good = 0
        if self.path.exists():
            scan = Scan(self.path)
            for kind, body in scan:
                yield self.records, kind, body
                self.records += 1
            good, self.dropped_tail = scan.end, scan.tail
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            if good == 0:
                os.ftruncate(self._fd, 0)
                os.write(self._fd, HEADER)
                good = len(HEADER)
            else:
                os.ftruncate(self._fd, good)  # drops a record cut off at the end
            os.lseek(self._fd, good, os.SEEK_SET)
            os.fsync(self._fd)
            _sync_directory(self.path.parent)
        except OSError as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc.strerror}") from exc
        self.bytes = good
        self._thread.start()

    def append(self, kind: bytes, body: bytes) -> Future[int]:
        """Queue ``body``; the future gives its record number once it is on disk (or the
        `OSError` that kept it off)."""
        done: Future[int] = Future()
        self._queue.put((kind, body, done))
        return done

    def close(self) -> None:
        """Write what is queued, stop the writer and close the file."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _write_loop(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if None in batch:
                stop = True
            items = [item for item in batch if item is not None]
            if items:
                self._write(items)

    def _write(self, items: list[tuple[bytes, bytes, Future[int]]]) -> None:
        start = self.bytes
        try:
            for kind, body, _ in items:
                head = kind + len(body).to_bytes(4, "big") + zlib.crc32(body).to_bytes(4, "big")
                _write_all(self._fd, head)
                _write_all(self._fd, body)
                self.bytes += _HEAD + len(body)
            if self.fsync:
                os.fdatasync(self._fd)
                self.syncs += 1
        except OSError as exc:
            self.bytes = start
            try:  # leave no part of these records behind: they were not acknowledged
                os.ftruncate(self._fd, start)
                os.lseek(self._fd, start, os.SEEK_SET)
            except OSError:
                pass
            for _, _, done in items:
                done.set_exception(exc)
            return
        for kind, body, done in items:
            number = self.records
            self.records += 1
            if self.on_durable is not None:
                self.on_durable(number, kind, body)
            done.set_result(number)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _sync_directory(directory: Path) -> None:
    """Make a new file's directory entry durable too."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
