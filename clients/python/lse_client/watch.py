"""``LseClient.watch``: the Watch RPC as a Python iterator of events.

::

    with client.watch(problem_id=doc, with_values=True) as changes:
        for event in changes:
            if event.kind == "progress":
                continue          # every change up to event.revision was seen
            cache.invalidate(event.problem_id, event.tc_id)

A failed stream raises the exception of its status: ``OutOfRangeError`` for a revision the
server no longer holds, ``ResourceExhaustedError`` when the watcher fell too far behind,
``UnavailableError`` when the server stopped (watch again from ``resume_from``).
"""
from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

import grpc

from ._generated import lse_pb2
from .errors import LseError, from_rpc_error
from .values import from_proto

_TYPES = {
    lse_pb2.CHANGE_TYPE_CREATED: "created",
    lse_pb2.CHANGE_TYPE_UPDATED: "updated",
    lse_pb2.CHANGE_TYPE_DELETED: "deleted",
}

_TARGETS = {
    lse_pb2.CHANGE_TARGET_PROBLEM: "problem",
    lse_pb2.CHANGE_TARGET_PROBLEM_TEXT: "problem_text",
    lse_pb2.CHANGE_TARGET_PROBLEM_COLUMN: "problem_column",
    lse_pb2.CHANGE_TARGET_TEST_CASE: "test_case",
    lse_pb2.CHANGE_TARGET_EXPECTED_OUTPUT: "expected_output",
}


class WatchEvent(NamedTuple):
    """One event of a watch.

    ``kind`` is ``"change"`` (an acknowledged write) or ``"progress"`` (nothing changed for the
    progress interval: every change up to ``revision`` was seen; the other fields are empty).
    ``type`` is ``"created"``, ``"updated"`` or ``"deleted"``; ``target`` is ``"problem"``,
    ``"problem_text"``, ``"problem_column"``, ``"test_case"`` or ``"expected_output"``.
    ``tc_id`` is 0 and ``column`` empty where they do not apply. ``value``, when values were
    asked for: ``{"html": ..., "columns": {...}}`` for a problem created, the text for
    ``problem_text``, the column's value for ``problem_column``, the test case's or output's value
    otherwise; None for deletes. ``superseded`` is True when a later write, streamed after this
    one, replaced it and a compaction reclaimed what it stored (``value`` is then None).
    """

    kind: str
    revision: int
    type: str = ""
    target: str = ""
    problem_id: int = 0
    tc_id: int = 0
    column: str = ""
    value: Any = None
    superseded: bool = False


class Watch:
    """The stream of a watch: iterate it, and close it (or use it in a ``with`` block)."""

    def __init__(self, call: Any, from_revision: int) -> None:
        self._call = call
        self._resume_from = from_revision
        self._closed = False

    @property
    def resume_from(self) -> int:
        """The revision to watch from to resume where this stream ended: the last revision it
        gave + 1 (until it gave one, the revision it started from; 0 for "now")."""
        return self._resume_from

    def __iter__(self) -> Iterator[WatchEvent]:
        try:
            for response in self._call:
                # A response carries the changes ready when it was sent, or progress.
                for event in _events_of(response):
                    self._resume_from = max(self._resume_from, event.revision + 1)
                    yield event
        except grpc.RpcError as error:
            if self._closed and isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.CANCELLED:
                return
            raise from_rpc_error(error) from None
        except LseError:
            # A response that is not an event: the server's fault; the stream is no use any more.
            self.close()
            raise

    def close(self) -> None:
        """Cancels the call; the iteration ends."""
        self._closed = True
        self._call.cancel()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()


def _events_of(response: lse_pb2.WatchResponse) -> List[WatchEvent]:
    if response.changes:
        return [_change_of(change) for change in response.changes]
    if response.HasField("progress"):
        return [WatchEvent(kind="progress", revision=response.progress.revision)]
    raise LseError(grpc.StatusCode.INTERNAL, "Watch: a response with neither changes nor progress")


def _change_of(change: lse_pb2.Change) -> WatchEvent:
    if change.type not in _TYPES or change.target not in _TARGETS:
        raise LseError(grpc.StatusCode.INTERNAL, f"Watch: a change of unknown type {change.type} or target {change.target}")
    value: Any = None
    new_value = change.WhichOneof("new_value")
    if new_value == "problem":
        columns: Dict[str, str] = {column.name: column.value for column in change.problem.columns}
        value = {"html": change.problem.html, "columns": columns}
    elif new_value == "html":
        value = change.html
    elif new_value == "column_value":
        value = change.column_value
    elif new_value == "value":
        value = from_proto(change.value)
    return WatchEvent(kind="change", revision=change.revision, type=_TYPES[change.type], target=_TARGETS[change.target],
                      problem_id=change.problem_id, tc_id=change.tc_id, column=change.column, value=value,
                      superseded=new_value == "superseded")
