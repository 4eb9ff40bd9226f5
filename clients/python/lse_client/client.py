"""``LseClient``: one method per RPC of ``lse.v1.LseService``, with Python values in and out."""
from __future__ import annotations

import os
from types import TracebackType
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from ._generated import lse_pb2, lse_pb2_grpc
from .batch import Batch
from .watch import Watch
from .errors import LseError, ValueTypeError, from_rpc_error, invalid_argument
from .values import LseValue, check_id, check_string_map, check_text, check_version, from_proto, to_proto


class _Default:
    """The type of ``DEFAULT``: 'use the client's timeout', distinct from None ('no deadline')."""

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default()
Timeout = Union[float, None, _Default]

# Responses may be up to 16 MiB + 320 KiB; accept what the TypeScript client accepts.
_MESSAGE_MAX_BYTES = 64 * 1024 * 1024

# Where the token is read from when the constructor is given none (an empty value is none), so
# that a deployment can hand it to a program without changing its code.
_TOKEN_VARIABLE = "LSE_TOKEN"


class Versioned(NamedTuple):
    """A value read with its version: the store's revision at the write that last changed it."""

    value: Any
    version: int


class LseClient:
    """A connection to a Stratum server. Close it with ``close()`` or use it in a ``with`` block.

    ``timeout`` (seconds, or None for no deadline) applies to each call, and to each page of
    ``list_problems`` and ``get_all_test_cases``; every method takes ``timeout=`` to override it.

    TLS: any of ``root_certificates`` (PEM bytes of the CAs that verify the server; the system's
    when absent), ``private_key`` and ``certificate_chain`` (PEM bytes of the client's key and
    certificate, for a server that requires one, given together) makes the channel a TLS one
    (for TLS with the system's CAs and no client certificate, pass ``channel``).
    ``token`` (the environment variable ``LSE_TOKEN`` when not given) is sent with every call as
    ``authorization: Bearer <token>``, for a server that checks tokens.

    ``channel`` replaces the channel to ``target`` altogether; it excludes the TLS arguments.
    """

    def __init__(self, target: str = "localhost:50051", *, timeout: Optional[float] = 10.0,
                 channel: Optional[grpc.Channel] = None, root_certificates: Optional[bytes] = None,
                 private_key: Optional[bytes] = None, certificate_chain: Optional[bytes] = None,
                 token: Optional[str] = None) -> None:
        if timeout is not None and not timeout > 0:
            raise invalid_argument(f"timeout must be a positive number of seconds or None, not {timeout!r}")
        self._timeout = timeout
        if token is None:
            self._metadata = _token_metadata(os.environ.get(_TOKEN_VARIABLE) or None, _TOKEN_VARIABLE)
        else:
            self._metadata = _token_metadata(token, "token")
        tls = {"root_certificates": root_certificates, "private_key": private_key, "certificate_chain": certificate_chain}
        for name, value in tls.items():
            if value is not None and not isinstance(value, bytes):
                raise ValueTypeError(f"{name} must be PEM bytes (read the file in binary mode), not {type(value).__name__}")
        if (private_key is None) != (certificate_chain is None):
            raise invalid_argument("private_key and certificate_chain go together: give both, or neither")
        secure = any(value is not None for value in tls.values())
        if channel is not None and secure:
            raise invalid_argument("channel excludes root_certificates, private_key and certificate_chain: "
                                   "make the channel with its credentials, or let the client make it")
        options = [
            ("grpc.max_receive_message_length", _MESSAGE_MAX_BYTES),
            ("grpc.max_send_message_length", _MESSAGE_MAX_BYTES),
        ]
        if channel is not None:
            self._channel = channel
        elif secure:
            credentials = grpc.ssl_channel_credentials(root_certificates, private_key, certificate_chain)
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._stub = lse_pb2_grpc.LseServiceStub(self._channel)

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Closes the channel; calls after this fail."""
        self._channel.close()

    def __enter__(self) -> LseClient:
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()

    def _call(self, method: Callable[..., Any], request: Message, timeout: Timeout) -> Any:
        """Runs one unary call, turning a failed status into the matching LseError."""
        seconds = self._timeout if isinstance(timeout, _Default) else timeout
        try:
            return method(request, timeout=seconds, metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    # ------------------------------------------------------------------ problems

    def create_problem(self, html: str, columns: Optional[Mapping[str, str]] = None, /, *,
                       timeout: Timeout = DEFAULT, **meta: str) -> int:
        """Creates a problem and returns its id. Metadata columns are keyword arguments, or a
        mapping in ``columns`` for names that are not identifiers (or are ``timeout``)."""
        entries = check_string_map(dict(columns or {}), "column")
        for name, value in check_string_map(meta, "column"):
            if columns and name in columns:
                raise invalid_argument(f"column {name!r} is given twice")
            entries.append((name, value))
        request = lse_pb2.CreateProblemRequest(
            html=check_text(html, "html"),
            columns=[lse_pb2.Column(name=name, value=value) for name, value in entries],
        )
        return int(self._call(self._stub.CreateProblem, request, timeout).problem_id)

    def get_problem_html(self, doc_id: int, *, timeout: Timeout = DEFAULT) -> str:
        """Returns a problem's text/HTML."""
        return str(self.get_problem_html_versioned(doc_id, timeout=timeout).value)

    def get_problem_html_versioned(self, doc_id: int, *, timeout: Timeout = DEFAULT) -> Versioned:
        """Returns ``Versioned(html, version)``: the version covers the text and metadata, not the test cases."""
        request = lse_pb2.GetProblemHtmlRequest(problem_id=check_id(doc_id, "doc_id"))
        response = self._call(self._stub.GetProblemHtml, request, timeout)
        return Versioned(str(response.html), int(response.version))

    def get_problem_meta(self, doc_id: int, *, timeout: Timeout = DEFAULT) -> Dict[str, str]:
        """Returns a problem's metadata columns (in no guaranteed order)."""
        return dict(self.get_problem_meta_versioned(doc_id, timeout=timeout).value)

    def get_problem_meta_versioned(self, doc_id: int, *, timeout: Timeout = DEFAULT) -> Versioned:
        """Returns ``Versioned(columns, version)``."""
        request = lse_pb2.GetProblemMetaRequest(problem_id=check_id(doc_id, "doc_id"))
        response = self._call(self._stub.GetProblemMeta, request, timeout)
        return Versioned({column.name: column.value for column in response.columns}, int(response.version))

    def update_problem_html(self, doc_id: int, html: str, *, expected_version: Optional[int] = None,
                            timeout: Timeout = DEFAULT) -> int:
        """Replaces a problem's text/HTML (its metadata and test cases are kept); returns its new
        version. With ``expected_version``, FailedPreconditionError unless the problem is at it."""
        request = lse_pb2.UpdateProblemHtmlRequest(
            problem_id=check_id(doc_id, "doc_id"), html=check_text(html, "html"), expected_version=check_version(expected_version),
        )
        return int(self._call(self._stub.UpdateProblemHtml, request, timeout).version)

    def update_problem_column(self, doc_id: int, column: str, value: str, *, expected_version: Optional[int] = None,
                              timeout: Timeout = DEFAULT) -> int:
        """Sets one metadata column, adding it when new; returns the problem's new version."""
        request = lse_pb2.UpdateProblemColumnRequest(
            problem_id=check_id(doc_id, "doc_id"), column=check_text(column, "column"), value=check_text(value, "value"),
            expected_version=check_version(expected_version),
        )
        return int(self._call(self._stub.UpdateProblemColumn, request, timeout).version)

    def delete_problem(self, doc_id: int, *, expected_version: Optional[int] = None, timeout: Timeout = DEFAULT) -> int:
        """Deletes a problem with its test cases and their expected outputs; returns the revision of the delete."""
        request = lse_pb2.DeleteProblemRequest(problem_id=check_id(doc_id, "doc_id"), expected_version=check_version(expected_version))
        return int(self._call(self._stub.DeleteProblem, request, timeout).revision)

    def list_problems(self, *, page_size: int = 0, timeout: Timeout = DEFAULT) -> Iterator[int]:
        """Yields every live problem id in increasing order, fetching a page at a time
        (``page_size`` 0 is the server's default of 1,000)."""
        token = ""
        while True:
            request = lse_pb2.ListProblemsRequest(page_size=page_size, page_token=token)
            page = self._call(self._stub.ListProblems, request, timeout)
            yield from (int(problem_id) for problem_id in page.problem_ids)
            token = page.next_page_token
            if not token:
                return

    # ------------------------------------------------------------------ test cases

    def add_test_case(self, doc_id: int, value: LseValue, *, timeout: Timeout = DEFAULT) -> int:
        """Appends a test case to the problem's chain and returns its id."""
        request = lse_pb2.AddTestCaseRequest(problem_id=check_id(doc_id, "doc_id"), value=to_proto(value))
        return int(self._call(self._stub.AddTestCase, request, timeout).tc_id)

    def get_test_case(self, doc_id: int, tc_id: int, *, timeout: Timeout = DEFAULT) -> Dict[str, Any]:
        """Returns ``{"tc_id": tc_id, "value": value}``."""
        return {"tc_id": tc_id, "value": self.get_test_case_versioned(doc_id, tc_id, timeout=timeout).value}

    def get_test_case_versioned(self, doc_id: int, tc_id: int, *, timeout: Timeout = DEFAULT) -> Versioned:
        """Returns ``Versioned(value, version)`` (the expected output has a version of its own)."""
        request = lse_pb2.GetTestCaseRequest(problem_id=check_id(doc_id, "doc_id"), tc_id=check_id(tc_id, "tc_id"))
        response = self._call(self._stub.GetTestCase, request, timeout)
        return Versioned(from_proto(response.value), int(response.version))

    def get_all_test_cases(self, doc_id: int, *, include_outputs: bool = False, include_versions: bool = False,
                           page_size: int = 0, timeout: Timeout = DEFAULT) -> List[Dict[str, Any]]:
        """Returns every test case in chain order as ``{"tc_id", "value"}`` (plus
        ``"expected_output"``, None when missing, if ``include_outputs``; plus ``"version"`` and,
        with outputs, ``"expected_output_version"``, None when missing, if ``include_versions``),
        paging underneath."""
        check_id(doc_id, "doc_id")
        cases: List[Dict[str, Any]] = []
        token = ""
        while True:
            request = lse_pb2.GetAllTestCasesRequest(
                problem_id=doc_id, include_outputs=include_outputs, page_size=page_size, page_token=token,
            )
            page = self._call(self._stub.GetAllTestCases, request, timeout)
            for case in page.test_cases:
                item: Dict[str, Any] = {"tc_id": int(case.tc_id), "value": from_proto(case.value)}
                if include_outputs:
                    item["expected_output"] = from_proto(case.expected_output) if case.HasField("expected_output") else None
                if include_versions:
                    item["version"] = int(case.version)
                    if include_outputs:
                        item["expected_output_version"] = int(case.expected_output_version) if case.HasField("expected_output") else None
                cases.append(item)
            token = page.next_page_token
            if not token:
                return cases

    def update_test_case(self, doc_id: int, tc_id: int, value: LseValue, *, expected_version: Optional[int] = None,
                         timeout: Timeout = DEFAULT) -> int:
        """Replaces a test case's value (its expected output is kept); returns its new version."""
        request = lse_pb2.UpdateTestCaseRequest(
            problem_id=check_id(doc_id, "doc_id"), tc_id=check_id(tc_id, "tc_id"), value=to_proto(value),
            expected_version=check_version(expected_version),
        )
        return int(self._call(self._stub.UpdateTestCase, request, timeout).version)

    def delete_test_case(self, doc_id: int, tc_id: int, *, expected_version: Optional[int] = None,
                         timeout: Timeout = DEFAULT) -> int:
        """Deletes a test case and its expected output; returns the revision of the delete."""
        request = lse_pb2.DeleteTestCaseRequest(
            problem_id=check_id(doc_id, "doc_id"), tc_id=check_id(tc_id, "tc_id"), expected_version=check_version(expected_version),
        )
        return int(self._call(self._stub.DeleteTestCase, request, timeout).revision)

    # ------------------------------------------------------------------ expected outputs

    def set_expected_output(self, doc_id: int, tc_id: int, value: LseValue, *, timeout: Timeout = DEFAULT) -> int:
        """Sets a test case's expected output (AlreadyExistsError when it has one); returns its version."""
        request = lse_pb2.SetExpectedOutputRequest(
            problem_id=check_id(doc_id, "doc_id"), tc_id=check_id(tc_id, "tc_id"), value=to_proto(value),
        )
        return int(self._call(self._stub.SetExpectedOutput, request, timeout).version)

    def get_expected_output(self, doc_id: int, tc_id: int, *, timeout: Timeout = DEFAULT) -> Dict[str, Any]:
        """Returns ``{"value": value}``; NotFoundError when the test case has no output."""
        return {"value": self.get_expected_output_versioned(doc_id, tc_id, timeout=timeout).value}

    def get_expected_output_versioned(self, doc_id: int, tc_id: int, *, timeout: Timeout = DEFAULT) -> Versioned:
        """Returns ``Versioned(value, version)``; NotFoundError when the test case has no output."""
        request = lse_pb2.GetExpectedOutputRequest(problem_id=check_id(doc_id, "doc_id"), tc_id=check_id(tc_id, "tc_id"))
        response = self._call(self._stub.GetExpectedOutput, request, timeout)
        return Versioned(from_proto(response.value), int(response.version))

    def update_expected_output(self, doc_id: int, tc_id: int, value: LseValue, *, expected_version: Optional[int] = None,
                               timeout: Timeout = DEFAULT) -> int:
        """Replaces a test case's expected output (NotFoundError when it has none); returns its new version."""
        request = lse_pb2.UpdateExpectedOutputRequest(
            problem_id=check_id(doc_id, "doc_id"), tc_id=check_id(tc_id, "tc_id"), value=to_proto(value),
            expected_version=check_version(expected_version),
        )
        return int(self._call(self._stub.UpdateExpectedOutput, request, timeout).version)

    def delete_expected_output(self, doc_id: int, tc_id: int, *, expected_version: Optional[int] = None,
                               timeout: Timeout = DEFAULT) -> int:
        """Deletes a test case's expected output (NotFoundError when it has none); returns the revision of the delete."""
        request = lse_pb2.DeleteExpectedOutputRequest(
            problem_id=check_id(doc_id, "doc_id"), tc_id=check_id(tc_id, "tc_id"), expected_version=check_version(expected_version),
        )
        return int(self._call(self._stub.DeleteExpectedOutput, request, timeout).revision)

    # ------------------------------------------------------------------ batches

    def batch(self, *, timeout: Timeout = DEFAULT) -> Batch:
        """Starts an atomic batch (the Commit RPC): every operation is written or none is.

        ``with client.batch() as b:`` commits when the block ends without an exception;
        ``b.created_ids`` then holds the ids created, in operation order."""
        return Batch(lambda request, seconds: self._call(self._stub.Commit, request, seconds), timeout)

    # ------------------------------------------------------------------ watching

    def watch(self, *, from_revision: int = 0, problem_id: int = 0, with_values: bool = False,
              progress_interval: Optional[float] = None, timeout: Optional[float] = None) -> Watch:
        """Streams the store's changes (the Watch RPC): one ``WatchEvent`` per acknowledged write,
        in revision order, from ``from_revision`` (inclusive: the last revision seen + 1, or
        ``resume_from`` of a stream that ended; 0 for "after the current revision", and then a
        progress event with that revision comes first), of one
        problem (``problem_id``) or all, with the values written when ``with_values``, and a
        progress event after each ``progress_interval`` seconds without a change (the server's
        10 s when None). The stream has no deadline unless ``timeout`` is given (the client's
        default timeout does not apply: a watch runs until it is closed)."""
        if from_revision != 0:
            check_id(from_revision, "from_revision")
        if problem_id != 0:
            check_id(problem_id, "problem_id")
        if not isinstance(with_values, bool):
            raise ValueTypeError(f"with_values must be a bool, not {type(with_values).__name__}")
        interval_ms = 0
        if progress_interval is not None:
            if isinstance(progress_interval, bool) or not isinstance(progress_interval, (int, float)) \
                    or not 0.1 <= progress_interval <= 3600:
                raise invalid_argument(f"progress_interval must be from 0.1 to 3600 seconds, not {progress_interval!r}")
            interval_ms = round(progress_interval * 1000)
        request = lse_pb2.WatchRequest(from_revision=from_revision, problem_id=problem_id, with_values=with_values,
                                       progress_interval_ms=interval_ms)
        return Watch(self._stub.Watch(request, timeout=timeout, metadata=self._metadata), from_revision)

    # ------------------------------------------------------------------ administration

    def get_stats(self, *, timeout: Timeout = DEFAULT) -> Dict[str, Any]:
        """Returns every counter of GetStatsResponse under its proto (snake_case) name; enums
        as lower-case words (``"sync_mode": "always"``), ``last_recovery`` and ``compaction`` as
        dicts; ``compaction["last"]`` (the last compaction's result, as ``compact_now()`` returns
        it) is None until a compaction has finished, and ``compaction["last_error"]`` is ``""``
        until one has failed."""
        return _message_to_dict(self._call(self._stub.GetStats, lse_pb2.GetStatsRequest(), timeout))

    def flush(self, *, timeout: Timeout = DEFAULT) -> None:
        """Writes and syncs every acknowledged write, whatever the server's sync mode."""
        self._call(self._stub.Flush, lse_pb2.FlushRequest(), timeout)

    def compact_now(self, *, timeout: Timeout = DEFAULT) -> Dict[str, Any]:
        """Runs one full compaction on the server and returns what it did (the response's
        ``result``): ``segments_compacted``, ``segments_written``, ``bytes_before``,
        ``bytes_after``, ``bytes_reclaimed``, ``records_copied``, ``tombstones_kept``,
        ``tombstones_dropped`` (ints) and ``duration_ms`` (a float). ``bytes_reclaimed`` is
        ``bytes_before - bytes_after``, so it may be negative when the compaction wrote more than
        it merged. On a large store this takes a while: pass a long ``timeout`` (past it the call
        fails DEADLINE_EXCEEDED, but the compaction carries on)."""
        response = self._call(self._stub.CompactNow, lse_pb2.CompactNowRequest(), timeout)
        if not response.HasField("result"):
            # The server always sets it; a response without it is the server's fault.
            raise LseError(grpc.StatusCode.INTERNAL, "CompactNow: the response has no result")
        return _message_to_dict(response.result)


def _token_metadata(token: Optional[str], name: str) -> Optional[Sequence[Tuple[str, str]]]:
    """The call metadata carrying ``token``, or None without one.

    Metadata on each call rather than grpc's call credentials: those need a TLS channel, and a
    token over plaintext loopback is a setup the server allows.
    """
    if token is None:
        return None
    if not isinstance(token, str):
        raise ValueTypeError(f"{name} must be a str, not {type(token).__name__}")
    # The server reads "Bearer <token>" with no space inside the token, and a metadata value is
    # printable ASCII: any other token would fail every call, so it fails here, once, saying why
    # (without echoing the token, which is a secret).
    if token == "" or not all("!" <= c <= "~" for c in token):
        raise invalid_argument(f"{name} must be non-empty printable ASCII without spaces")
    return (("authorization", f"Bearer {token}"),)


def _message_to_dict(message: Message) -> Dict[str, Any]:
    """Every field, zeros included (unlike MessageToDict), named as in the proto; a message
    field the server left unset is None."""
    result: Dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            result[field.name] = _message_to_dict(value) if message.HasField(field.name) else None
        elif field.type == FieldDescriptor.TYPE_ENUM:
            # SYNC_MODE_ALWAYS -> "always": strip the enum's own name, as the CLI's words are.
            name = field.enum_type.values_by_number[value].name if value in field.enum_type.values_by_number else str(value)
            prefix = "".join("_" + c if c.isupper() else c for c in field.enum_type.name).lstrip("_").upper() + "_"
            result[field.name] = name[len(prefix):].lower() if name.startswith(prefix) else name.lower()
        else:
            result[field.name] = value
    return result
