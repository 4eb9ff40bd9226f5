"""Exceptions of the client: one per gRPC status a caller is likely to handle.

A server error arrives as a ``grpc.RpcError``; callers should not have to know gRPC to tell
"no such id" from "bad input", so each status becomes an :class:`LseError` whose subclass also
derives from the built-in exception a Python programmer would reach for (``KeyError`` for a
missing id, ``ValueError`` for a bad argument).
"""
from __future__ import annotations

import grpc


class LseError(Exception):
    """A call failed: ``code`` is the gRPC status, ``message`` the server's (or client's) details."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        # KeyError, a base of NotFoundError, would otherwise print the repr of the message.
        return f"{self.code.name}: {self.message}"


class NotFoundError(LseError, KeyError):
    """NOT_FOUND: an unknown id, a test case of another problem, or a missing expected output."""


class InvalidArgumentError(LseError, ValueError):
    """INVALID_ARGUMENT: refused by the server, or by the client before anything was sent."""


class ValueTypeError(InvalidArgumentError, TypeError):
    """An argument of a type the wire cannot carry (``bool``, ``None``, a tuple, a nested list...).

    Raised by the client before anything is sent; also a ``TypeError``, as Python would raise.
    """

    def __init__(self, message: str) -> None:
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, message)


class AlreadyExistsError(LseError):
    """ALREADY_EXISTS: ``set_expected_output`` on a test case that already has one."""


class FailedPreconditionError(LseError):
    """FAILED_PRECONDITION: a conditional write (``expected_version``) found its target at another
    version (the message names the current one; read again, then retry), or the server's store
    cannot be used as it is."""


class UnavailableError(LseError):
    """UNAVAILABLE: no server at the address, the server is shutting down, or its store failed.

    Also what a TLS handshake that fails gives: a plaintext client of a TLS server, a server
    certificate the client does not trust, or no client certificate where mutual TLS needs one.
    """


class UnauthenticatedError(LseError):
    """UNAUTHENTICATED: the server checks tokens, and the call's is missing or not in its token file."""


class PermissionDeniedError(LseError):
    """PERMISSION_DENIED: the token's role (read < write < admin) is below what the method needs."""


class OutOfRangeError(LseError):
    """OUT_OF_RANGE: a watch from a revision the server no longer holds (the message names the
    oldest it holds): read the current state, then watch from its revision + 1."""


class ResourceExhaustedError(LseError):
    """RESOURCE_EXHAUSTED: over a limit, the server busy (retry with backoff), the disk full, or a
    watcher that fell too far behind the changes the server keeps."""


_BY_CODE: dict[grpc.StatusCode, type[LseError]] = {
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.OUT_OF_RANGE: OutOfRangeError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
}


def invalid_argument(message: str) -> InvalidArgumentError:
    """The error for an argument the client refuses to send (right type, wrong content)."""
    return InvalidArgumentError(grpc.StatusCode.INVALID_ARGUMENT, message)


def from_rpc_error(error: grpc.RpcError) -> LseError:
    """Turns a failed call into the exception of its status; other codes are a plain LseError."""
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (error.details() if isinstance(error, grpc.Call) else None) or str(error)
    return _BY_CODE.get(code, LseError)(code, details)
