"""Value conversion and argument checks, without a server: bad input fails before any call."""
from __future__ import annotations

import math
import unittest
from typing import Any

import grpc

from lse_client import (
    INT64_MAX, INT64_MIN, Int64List, InvalidArgumentError, LseClient, LseError, StringList, ValueTypeError, typed_list,
)
from lse_client.values import from_proto, to_proto


def round_trip(value: object) -> Any:
    return from_proto(to_proto(value))


class ValueConversionTest(unittest.TestCase):
    def test_each_type_maps_to_its_field(self) -> None:
        cases = [
            (5, "int64_value"), (1.5, "double_value"), ("s", "string_value"), ([1], "int64_list_value"),
            (["a"], "string_list_value"), ({"k": "v"}, "string_map_value"), ([], "int64_list_value"),
            (StringList([]), "string_list_value"), (Int64List([]), "int64_list_value"),
            (typed_list([], "string"), "string_list_value"), (typed_list([], "int64"), "int64_list_value"),
        ]
        for value, field in cases:
            with self.subTest(value=value):
                self.assertEqual(to_proto(value).WhichOneof("kind"), field)

    def test_edge_values_round_trip(self) -> None:
        for value in [INT64_MIN, INT64_MAX, 0, -1, "", "a\x00b\U0001F600", [INT64_MIN, INT64_MAX], {"": "", "\x00": "\U0001F600"}]:
            with self.subTest(value=value):
                self.assertEqual(round_trip(value), value)
        self.assertTrue(math.isnan(round_trip(float("nan"))))
        self.assertEqual(round_trip(float("inf")), float("inf"))
        self.assertEqual(round_trip(float("-inf")), float("-inf"))
        self.assertEqual(math.copysign(1.0, round_trip(-0.0)), -1.0)

    def test_lists_read_back_keep_their_type(self) -> None:
        self.assertIsInstance(round_trip(StringList([])), StringList)
        self.assertIsInstance(round_trip([]), Int64List)
        self.assertEqual(list(round_trip(["x", "y"])), ["x", "y"])

    def test_map_keeps_entry_order(self) -> None:
        self.assertEqual(list(round_trip({"b": "1", "a": "2", "__proto__": "3"})), ["b", "a", "__proto__"])


class BadInputTest(unittest.TestCase):
    def assert_refused(self, value: object, fragment: str, error: type[Exception] = InvalidArgumentError) -> None:
        with self.assertRaises(error) as caught:
            to_proto(value)
        self.assertIn(fragment, str(caught.exception))
        self.assertIsInstance(caught.exception, ValueError)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)  # type: ignore[attr-defined]

    def test_bool_says_it_is_an_int_in_python(self) -> None:
        self.assert_refused(True, "bool is a subclass of int", ValueTypeError)
        self.assert_refused([1, False], "bool", ValueTypeError)

    def test_ints_outside_int64(self) -> None:
        self.assert_refused(INT64_MAX + 1, "outside int64")
        self.assert_refused(INT64_MIN - 1, "outside int64")
        self.assert_refused([0, 2**64], "outside int64")

    def test_mixed_and_nested_lists(self) -> None:
        self.assert_refused([1, "a"], "mixes", ValueTypeError)
        self.assert_refused(["a", 1], "mixes", ValueTypeError)
        self.assert_refused([[1]], "nested", ValueTypeError)
        self.assert_refused([{"a": "b"}], "nested", ValueTypeError)
        self.assert_refused([1.5], "must be an int", ValueTypeError)
        self.assert_refused(StringList([1]), "must be a str", ValueTypeError)  # type: ignore[list-item]
        self.assert_refused(Int64List(["a"]), "must be an int", ValueTypeError)  # type: ignore[list-item]

    def test_bad_maps(self) -> None:
        self.assert_refused({1: "a"}, "keys must be str", ValueTypeError)
        self.assert_refused({"a": 1}, "must be a str", ValueTypeError)
        self.assert_refused({"a": None}, "must be a str", ValueTypeError)

    def test_none_and_other_types(self) -> None:
        self.assert_refused(None, "None", ValueTypeError)
        for value in [(1, 2), {1, 2}, b"bytes", object(), 1j]:
            with self.subTest(value=value):
                self.assert_refused(value, "cannot be stored", ValueTypeError)

    def test_lone_surrogate(self) -> None:
        self.assert_refused("a\ud800", "lone surrogate")
        self.assert_refused(["\udfff"], "lone surrogate")

    def test_value_type_error_is_also_a_type_error(self) -> None:
        with self.assertRaises(TypeError):
            to_proto(None)

    def test_typed_list_names_a_known_type(self) -> None:
        with self.assertRaises(InvalidArgumentError):
            typed_list([], "double")


class ChecksBeforeSendingTest(unittest.TestCase):
    """A client with no server behind it: each refusal must come from the client, not UNAVAILABLE."""

    def setUp(self) -> None:
        self.client = LseClient("127.0.0.1:9", timeout=5)  # port 9 (discard): nothing listens

    def tearDown(self) -> None:
        self.client.close()

    def test_arguments_are_checked_first(self) -> None:
        calls = [
            lambda: self.client.create_problem("x", author=1),  # type: ignore[arg-type]
            lambda: self.client.create_problem(None),  # type: ignore[arg-type]
            lambda: self.client.create_problem("x", {"a": "1"}, a="2"),
            lambda: self.client.get_problem_html(0),
            lambda: self.client.get_problem_html(2**53),
            lambda: self.client.get_problem_html(True),
            lambda: self.client.get_problem_meta("1"),  # type: ignore[arg-type]
            lambda: self.client.update_problem_column(1, "c", 5),  # type: ignore[arg-type]
            lambda: self.client.add_test_case(1, True),
            lambda: self.client.add_test_case(1, None),  # type: ignore[arg-type]
            lambda: self.client.update_test_case(1, 2, [1, "a"]),  # type: ignore[arg-type]
            lambda: self.client.set_expected_output(1, 2, {"k": 1}),  # type: ignore[dict-item]
            lambda: self.client.update_expected_output(1, 2, 2**63),
            lambda: self.client.get_all_test_cases(-1),
        ]
        for index, call in enumerate(calls):
            with self.subTest(call=index), self.assertRaises(InvalidArgumentError):
                call()

    def test_errors_carry_code_and_message(self) -> None:
        with self.assertRaises(LseError) as caught:
            self.client.get_test_case(1, 0)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("tc_id", caught.exception.message)

    def test_timeout_must_be_positive(self) -> None:
        with self.assertRaises(InvalidArgumentError):
            LseClient("127.0.0.1:9", timeout=0)


if __name__ == "__main__":
    unittest.main()
