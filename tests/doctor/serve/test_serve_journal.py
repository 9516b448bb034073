"""The journal: what was acknowledged reads back; what was cut off while written is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracehound.doctor.serve._journal import HEADER, JSON, PROTOBUF, Journal, JournalError, Scan


def write(path: Path, bodies: list[tuple[bytes, bytes]], *, fsync: bool = True) -> list[int]:
    journal = Journal(path, fsync=fsync)
    seen: list[tuple[int, bytes, bytes]] = []
    journal.on_durable = lambda n, k, b: seen.append((n, k, b))
    assert list(journal.open()) == []
    numbers = [journal.append(kind, body).result(10) for kind, body in bodies]
    journal.close()
    assert [(k, b) for _, k, b in seen] == bodies  # handed on in order, once on disk
    return numbers


def reopen(path: Path) -> tuple[list[tuple[int, bytes, bytes]], Journal]:
    journal = Journal(path)
    records = list(journal.open())
    return records, journal


def test_records_read_back_in_order_and_numbering_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "j"
    bodies = [(PROTOBUF, b"\x0a\x00" * n) for n in range(1, 5)] + [(JSON, b'{"resourceSpans":[]}')]
    assert write(path, bodies) == [0, 1, 2, 3, 4]
    records, journal = reopen(path)
    assert [(k, b) for _, k, b in records] == bodies
    assert journal.append(PROTOBUF, b"more").result(10) == 5
    journal.close()
    assert [b for _, b in Scan(path)][-1] == b"more"


def test_a_record_cut_off_at_the_end_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "j"
    write(path, [(PROTOBUF, b"first"), (PROTOBUF, b"second")])
    whole = path.stat().st_size
    with open(path, "ab") as f:  # killed while writing a third: the head and part of it
        f.write(PROTOBUF + (100).to_bytes(4, "big") + b"\0\0\0\0" + b"partial")
    records, journal = reopen(path)
    assert [b for _, _, b in records] == [b"first", b"second"]
    assert journal.dropped_tail == 9 + len(b"partial")
    journal.append(PROTOBUF, b"third").result(10)
    journal.close()
    assert path.stat().st_size == whole + 9 + len(b"third")
    assert [b for _, b in Scan(path)] == [b"first", b"second", b"third"]


def test_damage_before_the_end_stops_with_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "j"
    write(path, [(PROTOBUF, b"first"), (PROTOBUF, b"second")])
    data = bytearray(path.read_bytes())
    data[len(HEADER) + 9] ^= 0xFF  # a bit of the first body flipped
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match=f"damaged record at byte {len(HEADER)}"):
        reopen(path)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spans.json"
    path.write_text('{"resourceSpans": []}')
    with pytest.raises(JournalError, match="not a tracehound journal"):
        reopen(path)
    assert path.read_text() == '{"resourceSpans": []}'  # left as it was


def test_concurrent_appends_share_syncs(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    list(journal.open())
    futures = [journal.append(PROTOBUF, b"x" * 100) for _ in range(200)]
    assert sorted(f.result(10) for f in futures) == list(range(200))
    journal.close()
    assert 1 <= journal.syncs <= 200
    assert len(list(Scan(tmp_path / "j"))) == 200
