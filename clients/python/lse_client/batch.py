"""``Batch``: an atomic batch of writes sent as one ``Commit`` call (see ``LseClient.batch``)."""
from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Union

from ._generated import lse_pb2
from .errors import invalid_argument
from .values import LseValue, check_id, check_string_map, check_text, check_version, to_proto

if TYPE_CHECKING:
    from .client import Timeout


class BatchRef:
    """Stands for the id that an earlier operation of the same batch creates; pass it wherever
    that batch's later operations take an id."""

    __slots__ = ("_batch", "position", "kind")

    def __init__(self, batch: Batch, position: int, kind: str) -> None:
        self._batch = batch
        self.position = position  # of the operation that creates it, from 1
        self.kind = kind

    def __repr__(self) -> str:
        return f"BatchRef(operation {self.position}, a {self.kind})"


IdOrRef = Union[int, BatchRef]


class Batch:
    """Operations written all together or not at all. Use it in a ``with`` block, which commits
    when the block ends without an exception (and sends nothing when it raises), or call
    ``commit()``. ``create_problem`` and ``add_test_case`` return a :class:`BatchRef`; after the
    commit, ``created_ids`` holds the ids created, in operation order. Arguments are checked as
    they are added; the server validates the rest, every operation before writing any, and a
    refusal names the operation's position (from 1)."""

    def __init__(self, send: Callable[[lse_pb2.CommitRequest, Timeout], Any], timeout: Timeout) -> None:
        self._send = send
        self._timeout = timeout
        self._operations: List[lse_pb2.Operation] = []
        self._committed = False
        self.created_ids: Optional[List[int]] = None
        #: Once committed, the store's revision at the batch: the version of what its last operation wrote.
        self.revision: Optional[int] = None

    def __len__(self) -> int:
        return len(self._operations)

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        if exc_type is None and not self._committed:
            self.commit()

    # ------------------------------------------------------------------ problems

    def create_problem(self, html: str, columns: Optional[Mapping[str, str]] = None, /, **meta: str) -> BatchRef:
        """Creates a problem; metadata columns as keyword arguments or a mapping in ``columns``."""
        entries = check_string_map(dict(columns or {}), "column")
        for name, value in check_string_map(meta, "column"):
            if columns and name in columns:
                raise invalid_argument(f"column {name!r} is given twice")
            entries.append((name, value))
        request = lse_pb2.CreateProblemRequest(
            html=check_text(html, "html"), columns=[lse_pb2.Column(name=name, value=value) for name, value in entries],
        )
        return BatchRef(self, self._add(lse_pb2.Operation(create_problem=request)), "problem")

    def update_problem_html(self, doc: IdOrRef, html: str, *, expected_version: Optional[int] = None) -> Batch:
        request = lse_pb2.UpdateProblemHtmlRequest(html=check_text(html, "html"), expected_version=check_version(expected_version))
        self._add(self._operation("update_problem_html", request, doc))
        return self

    def update_problem_column(self, doc: IdOrRef, column: str, value: str, *, expected_version: Optional[int] = None) -> Batch:
        request = lse_pb2.UpdateProblemColumnRequest(
            column=check_text(column, "column"), value=check_text(value, "value"), expected_version=check_version(expected_version),
        )
        self._add(self._operation("update_problem_column", request, doc))
        return self

    def delete_problem(self, doc: IdOrRef, *, expected_version: Optional[int] = None) -> Batch:
        self._add(self._operation("delete_problem", lse_pb2.DeleteProblemRequest(expected_version=check_version(expected_version)), doc))
        return self

    # ------------------------------------------------------------------ test cases and outputs

    def add_test_case(self, doc: IdOrRef, value: LseValue) -> BatchRef:
        operation = self._operation("add_test_case", lse_pb2.AddTestCaseRequest(value=to_proto(value)), doc)
        return BatchRef(self, self._add(operation), "test case")

    def update_test_case(self, doc: IdOrRef, tc: IdOrRef, value: LseValue, *, expected_version: Optional[int] = None) -> Batch:
        request = lse_pb2.UpdateTestCaseRequest(value=to_proto(value), expected_version=check_version(expected_version))
        self._add(self._operation("update_test_case", request, doc, tc))
        return self

    def delete_test_case(self, doc: IdOrRef, tc: IdOrRef, *, expected_version: Optional[int] = None) -> Batch:
        self._add(self._operation("delete_test_case", lse_pb2.DeleteTestCaseRequest(expected_version=check_version(expected_version)), doc, tc))
        return self

    def set_expected_output(self, doc: IdOrRef, tc: IdOrRef, value: LseValue) -> Batch:
        self._add(self._operation("set_expected_output", lse_pb2.SetExpectedOutputRequest(value=to_proto(value)), doc, tc))
        return self

    def update_expected_output(self, doc: IdOrRef, tc: IdOrRef, value: LseValue, *, expected_version: Optional[int] = None) -> Batch:
        request = lse_pb2.UpdateExpectedOutputRequest(value=to_proto(value), expected_version=check_version(expected_version))
        self._add(self._operation("update_expected_output", request, doc, tc))
        return self

    def delete_expected_output(self, doc: IdOrRef, tc: IdOrRef, *, expected_version: Optional[int] = None) -> Batch:
        request = lse_pb2.DeleteExpectedOutputRequest(expected_version=check_version(expected_version))
        self._add(self._operation("delete_expected_output", request, doc, tc))
        return self

    # ------------------------------------------------------------------ commit

    def commit(self) -> List[int]:
        """Sends the batch; returns the ids it created (create_problem, add_test_case), in order."""
        if self._committed:
            raise invalid_argument("this batch was committed already; start another with client.batch()")
        self._committed = True
        response = self._send(lse_pb2.CommitRequest(operations=self._operations), self._timeout)
        self.created_ids = [int(created) for created in response.created_ids]
        self.revision = int(response.revision)
        return self.created_ids

    def _add(self, operation: lse_pb2.Operation) -> int:
        if self._committed:
            raise invalid_argument("this batch was committed already; start another with client.batch()")
        self._operations.append(operation)
        return len(self._operations)

    def _operation(self, member: str, request: Any, doc: IdOrRef, tc: Optional[IdOrRef] = None) -> lse_pb2.Operation:
        """The operation ``member`` with ``request``, naming ``doc`` (and ``tc``) by id or by ref."""
        refs: Dict[str, int] = {}
        if isinstance(doc, BatchRef):
            refs["problem_ref"] = self._position(doc, "problem")
        else:
            request.problem_id = check_id(doc, "doc_id")
        if tc is not None:
            if isinstance(tc, BatchRef):
                refs["tc_ref"] = self._position(tc, "test case")
            else:
                request.tc_id = check_id(tc, "tc_id")
        return lse_pb2.Operation(**{member: request}, **refs)

    def _position(self, ref: BatchRef, kind: str) -> int:
        if ref._batch is not self:
            raise invalid_argument("a BatchRef stands for an id only in the batch that made it")
        if ref.kind != kind:
            raise invalid_argument(f"operation {ref.position} of the batch creates a {ref.kind}, not a {kind}")
        return ref.position
