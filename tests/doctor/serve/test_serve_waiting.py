"""Requests held until their traces are quiet: released when due, oldest first over the cap."""

from __future__ import annotations

from tracehound.doctor.serve._journal import JSON, PROTOBUF
from tracehound.doctor.serve._waiting import Held, Waiting

IDLE = 2.0


def held(number: int, *traces: str, spans: int = 10, kind: bytes = PROTOBUF) -> Held:
    return Held(number, kind, b"", frozenset(traces), spans)


def numbers(released: list[tuple[Held, float]]) -> list[int]:
    return [h.number for h, _ in released]


def test_a_request_waits_until_every_trace_in_it_is_quiet() -> None:
    waiting = Waiting(IDLE)
    waiting.hold(held(0, "a", "b"), now=0.0)
    waiting.hold(held(1, "b"), now=1.5)  # trace b receives spans later
    waiting.hold(held(2, "c"), now=1.6)
    assert waiting.release(1.9, max_spans=1000) == []
    assert waiting.release(2.1, max_spans=1000) == []  # 0 was due, but b is not quiet
    assert numbers(waiting.release(3.55, max_spans=1000)) == [0, 1]
    assert len(waiting) == 1 and set(waiting.last_seen) == {"c"}
    assert numbers(waiting.release(3.65, max_spans=1000)) == [2]
    assert len(waiting) == 0 and waiting.spans == 0 and waiting.last_seen == {}


def test_requests_come_out_in_the_order_they_arrived_with_the_time_they_went_quiet() -> None:
    waiting = Waiting(IDLE)
    waiting.hold(held(0, "a"), now=0.0)
    waiting.hold(held(1, "b"), now=0.5)
    waiting.hold(held(2, "a"), now=1.0)  # 0 goes quiet after 1
    released = waiting.release(10.0, max_spans=1000)
    assert numbers(released) == [0, 1, 2]
    assert [quiet for _, quiet in released] == [3.0, 2.5, 3.0]


def test_over_the_cap_the_oldest_requests_go_early() -> None:
    waiting = Waiting(IDLE)
    for n in range(5):
        waiting.hold(held(n, f"t{n}"), now=float(n) / 10)
    released = waiting.release(0.5, max_spans=25)  # 50 spans held: 3 requests over 25
    assert numbers(released) == [0, 1, 2]
    assert all(quiet > 0.5 for _, quiet in released)  # none was quiet yet: early
    assert waiting.spans == 20
    assert numbers(waiting.release(2.45, max_spans=25)) == [3, 4]  # the rest when due


def test_with_room_it_releases_about_room_spans_and_no_json_request() -> None:
    """While a live run checks the live store, what is parsed waits in memory: a chunk's
    worth of protobuf requests, and no JSON request (it would go to DuckDB whole)."""
    waiting = Waiting(IDLE)
    for n in range(4):
        waiting.hold(held(n, f"t{n}"), now=0.0)
    waiting.hold(held(4, "j", kind=JSON), now=0.0)
    waiting.hold(held(5, "t5"), now=0.0)
    assert numbers(waiting.release(5.0, max_spans=1000, room=15)) == [0, 1]  # one past
    assert numbers(waiting.release(5.0, max_spans=1000, room=0)) == []
    assert numbers(waiting.release(5.0, max_spans=1000, room=100)) == [2, 3]  # 4 is JSON
    assert numbers(waiting.release(5.0, max_spans=1000)) == [4, 5]


def test_over_the_cap_the_quiet_requests_go_first_and_may_be_enough() -> None:
    """A request released before its traces are quiet is checked half-arrived; when the
    quiet ones bring the waiting under the cap, none goes early."""
    waiting = Waiting(IDLE)
    waiting.hold(held(0, "slow"), now=0.0)
    waiting.hold(held(1, "a"), now=0.1)
    waiting.hold(held(2, "slow"), now=2.0)  # request 0 is not quiet before 4.0
    waiting.hold(held(3, "b"), now=2.0)
    released = waiting.release(2.2, max_spans=30)  # 40 spans held; 1 is quiet
    assert numbers(released) == [1]  # that brings it to 30: request 0 waits until quiet
    assert numbers(waiting.release(4.1, max_spans=30)) == [0, 2, 3]
