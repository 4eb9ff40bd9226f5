"""Conversion between Python values and the proto's ``Value`` (and other checked arguments).

Everything is checked before a request is built, so that bad input fails with a message that
names the problem rather than as a protobuf error deep inside serialization, or worse, as a
silently different value (``True`` would be stored as the int64 1).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from .errors import ValueTypeError, invalid_argument
from ._generated import lse_pb2

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# Ids the server issues are 1 to 2^53-1; anything else is refused by it, so refuse it here.
ID_MAX = 2**53 - 1


class Int64List(List[int]):
    """A list sent as a list of int64, even when empty; reads return list values as this type."""


class StringList(List[str]):
    """A list sent as a list of strings, even when empty (a plain ``[]`` is sent as int64s)."""


LseValue = Union[int, float, str, List[int], List[str], Dict[str, str]]


def typed_list(items: Iterable[Any], item_type: str) -> Int64List | StringList:
    """``typed_list([], "string")`` is ``StringList([])``; ``item_type`` is "int64" or "string"."""
    if item_type == "int64":
        return Int64List(items)
    if item_type == "string":
        return StringList(items)
    raise invalid_argument(f'item_type must be "int64" or "string", not {item_type!r}')


def _type_name(value: object) -> str:
    return type(value).__name__


def check_text(value: object, what: str) -> str:
    """A ``str`` that UTF-8 can encode (a lone surrogate cannot, so the wire cannot carry it)."""
    if not isinstance(value, str):
        raise ValueTypeError(f"{what} must be a str, not {_type_name(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise invalid_argument(f"{what} is not valid Unicode (a lone surrogate at index {error.start})") from None
    return value


def check_id(value: object, what: str) -> int:
    """An id as the server issues them: an int (not a bool) from 1 to 2^53-1."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueTypeError(f"{what} must be an int, not {_type_name(value)}")
    if not 1 <= value <= ID_MAX:
        raise invalid_argument(f"{what} must be from 1 to 2^53-1, not {value}")
    return value


def check_version(value: Optional[int], what: str = "expected_version") -> int:
    """The expected_version of a conditional write: None (no condition, 0 on the wire) or a version from 1 to 2^53-1."""
    return 0 if value is None else check_id(value, what)


def _check_int64(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ValueTypeError(f"{what} is a bool; bool is a subclass of int in Python, but the store has no boolean type: send int(value) for 0/1")
    if not isinstance(value, int):
        raise ValueTypeError(f"{what} must be an int, not {_type_name(value)}")
    if not INT64_MIN <= value <= INT64_MAX:
        raise invalid_argument(f"{what} is outside int64 (-2^63 to 2^63-1): {value}")
    return value


def _int64_items(items: List[Any]) -> List[int]:
    return [_check_int64(item, f"list item {index}") for index, item in enumerate(items)]


def _string_items(items: List[Any]) -> List[str]:
    return [check_text(item, f"list item {index}") for index, item in enumerate(items)]


def _plain_list_is_strings(items: List[Any]) -> bool:
    """Whether an untyped list is a list of strings; its items must all be of one kind."""
    if not items:
        return False  # an empty list is a list of int64 unless wrapped: see StringList
    for index, item in enumerate(items):
        if isinstance(item, (list, tuple, dict)):
            raise ValueTypeError(f"list item {index} is a {_type_name(item)}: nested lists and maps are not supported")
    first_is_str = isinstance(items[0], str)
    for index, item in enumerate(items):
        if isinstance(item, str) != first_is_str:
            raise ValueTypeError(
                f"list mixes {'str' if first_is_str else _type_name(items[0])} and {_type_name(item)} (item {index}): "
                "a list must be all int or all str"
            )
    return first_is_str


def check_string_map(value: Mapping[Any, Any], what: str) -> List[tuple[str, str]]:
    """The entries of a str-to-str mapping, in order, every key and value checked."""
    entries = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValueTypeError(f"{what} key {key!r} is a {_type_name(key)}: keys must be str")
        check_text(key, f"{what} key {key!r}")
        entries.append((key, check_text(item, f"{what} value of key {key!r}")))
    return entries


def to_proto(value: object) -> lse_pb2.Value:
    """The proto ``Value`` of a Python value; raises InvalidArgumentError for anything else."""
    if value is None:
        raise ValueTypeError("a value cannot be None: the store has no null")
    if isinstance(value, bool):
        _check_int64(value, "the value")
    if isinstance(value, int):
        return lse_pb2.Value(int64_value=_check_int64(value, "the value"))
    if isinstance(value, float):
        return lse_pb2.Value(double_value=value)
    if isinstance(value, str):
        return lse_pb2.Value(string_value=check_text(value, "the string"))
    if isinstance(value, StringList):
        return lse_pb2.Value(string_list_value=lse_pb2.StringList(values=_string_items(value)))
    if isinstance(value, Int64List):
        return lse_pb2.Value(int64_list_value=lse_pb2.Int64List(values=_int64_items(value)))
    if isinstance(value, list):
        if _plain_list_is_strings(value):
            return lse_pb2.Value(string_list_value=lse_pb2.StringList(values=_string_items(value)))
        return lse_pb2.Value(int64_list_value=lse_pb2.Int64List(values=_int64_items(value)))
    if isinstance(value, dict):
        entries = [lse_pb2.StringMapEntry(key=key, value=item) for key, item in check_string_map(value, "map")]
        return lse_pb2.Value(string_map_value=lse_pb2.StringMap(entries=entries))
    raise ValueTypeError(
        f"a value of type {_type_name(value)} cannot be stored: use int, float, str, "
        "a list of int or of str, or a dict of str to str"
    )


def from_proto(value: lse_pb2.Value) -> LseValue:
    """The Python value of a proto ``Value``; lists come back as Int64List or StringList."""
    kind = value.WhichOneof("kind")
    if kind == "int64_value":
        return value.int64_value
    if kind == "double_value":
        return value.double_value
    if kind == "string_value":
        return value.string_value
    if kind == "int64_list_value":
        return Int64List(value.int64_list_value.values)
    if kind == "string_list_value":
        return StringList(value.string_list_value.values)
    if kind == "string_map_value":
        return {entry.key: entry.value for entry in value.string_map_value.entries}
    raise ValueError(f"the server sent a value with no type set ({kind!r})")
