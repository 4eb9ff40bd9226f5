"""Python client of Stratum's gRPC service ``lse.v1.LseService`` (see the project's README)."""
from .batch import Batch, BatchRef
from .client import DEFAULT, LseClient, Versioned
from .errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    LseError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    ValueTypeError,
)
from .values import INT64_MAX, INT64_MIN, Int64List, StringList, typed_list
from .watch import Watch, WatchEvent

__all__ = [
    "DEFAULT", "INT64_MAX", "INT64_MIN", "AlreadyExistsError", "Batch", "BatchRef", "FailedPreconditionError", "Int64List",
    "InvalidArgumentError", "LseClient", "LseError", "NotFoundError", "OutOfRangeError", "PermissionDeniedError",
    "ResourceExhaustedError", "StringList", "UnauthenticatedError", "UnavailableError", "ValueTypeError", "Versioned",
    "Watch", "WatchEvent", "typed_list",
]
