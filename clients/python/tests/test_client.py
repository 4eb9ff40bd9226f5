"""Every method of LseClient against a real server (loopback, ephemeral port, temporary folder)."""
from __future__ import annotations

import math
import socket
import time
import unittest
from typing import Callable, Optional

import grpc

from lse_client import (
    INT64_MAX, INT64_MIN, AlreadyExistsError, BatchRef, FailedPreconditionError, Int64List, InvalidArgumentError,
    LseClient, LseError, NotFoundError, ResourceExhaustedError, StringList, UnavailableError, Versioned, WatchEvent,
)
from .server_process import ServerProcess

server: Optional[ServerProcess] = None


def setUpModule() -> None:
    global server
    server = ServerProcess()
    unittest.addModuleCleanup(server.close)
    server.start()


class ClientTestCase(unittest.TestCase):
    def setUp(self) -> None:
        assert server is not None
        self.client = LseClient(server.address, timeout=10)
        self.addCleanup(self.client.close)
        self.doc = self.client.create_problem("<p>problem</p>", title="T")


class ProblemTest(ClientTestCase):
    def test_create_and_read(self) -> None:
        html = "<p>A\x00B \U0001F600 é</p>"
        doc = self.client.create_problem(html, {"timeout": "2s", "a-b": ""}, title="A+B", author="\U0001F600")
        self.assertIsInstance(doc, int)
        self.assertEqual(self.client.get_problem_html(doc), html)
        self.assertEqual(self.client.get_problem_meta(doc), {"timeout": "2s", "a-b": "", "title": "A+B", "author": "\U0001F600"})

    def test_empty_html_and_no_metadata(self) -> None:
        doc = self.client.create_problem("")
        self.assertEqual(self.client.get_problem_html(doc), "")
        self.assertEqual(self.client.get_problem_meta(doc), {})

    def test_updates(self) -> None:
        self.client.update_problem_html(self.doc, "<p>new</p>")
        self.client.update_problem_column(self.doc, "title", "U")
        self.client.update_problem_column(self.doc, "level", "")
        self.assertEqual(self.client.get_problem_html(self.doc), "<p>new</p>")
        self.assertEqual(self.client.get_problem_meta(self.doc), {"title": "U", "level": ""})

    def test_delete(self) -> None:
        tc = self.client.add_test_case(self.doc, 1)
        self.client.delete_problem(self.doc)
        for call in (lambda: self.client.get_problem_html(self.doc), lambda: self.client.get_problem_meta(self.doc),
                     lambda: self.client.get_test_case(self.doc, tc), lambda: self.client.delete_problem(self.doc)):
            with self.assertRaises(NotFoundError):
                call()

    def test_list_problems_pages_through_every_id(self) -> None:
        created = [self.client.create_problem(str(n)) for n in range(5)]
        self.client.delete_problem(created[2])
        for page_size in (0, 1, 2, 1000):
            with self.subTest(page_size=page_size):
                ids = list(self.client.list_problems(page_size=page_size))
                self.assertEqual(ids, sorted(ids))
                self.assertTrue({self.doc, *created} - {created[2]} <= set(ids))
                self.assertNotIn(created[2], ids)


EDGE_VALUES: list[object] = [
    0, 1, -1, INT64_MIN, INT64_MAX, 2**53 + 1,
    0.0, 1.5, -2.5e-308, 5e-324, 1.7976931348623157e308, float("inf"), float("-inf"),
    "", "plain", "a\x00b", "\U0001F600\U00010348", "é" * 1000,
    [], [0], [INT64_MIN, INT64_MAX, -1], StringList([]), ["", "\x00", "\U0001F600"],
    {}, {"": ""}, {"k": "v", "__proto__": "x", "\x00": "\U0001F600"},
]


class TestCaseTest(ClientTestCase):
    def assert_same(self, actual: object, expected: object) -> None:
        self.assertEqual(type(actual) in (Int64List, StringList), isinstance(expected, list))
        self.assertEqual(actual, expected)
        if isinstance(expected, float):
            self.assertEqual(math.copysign(1.0, actual), math.copysign(1.0, expected))  # type: ignore[arg-type]

    def test_every_value_type_round_trips(self) -> None:
        for value in EDGE_VALUES:
            with self.subTest(value=repr(value)[:40]):
                tc = self.client.add_test_case(self.doc, value)  # type: ignore[arg-type]
                self.assert_same(self.client.get_test_case(self.doc, tc)["value"], value)

    def test_nan_and_negative_zero(self) -> None:
        tc = self.client.add_test_case(self.doc, float("nan"))
        self.assertTrue(math.isnan(self.client.get_test_case(self.doc, tc)["value"]))
        tc = self.client.add_test_case(self.doc, -0.0)
        value = self.client.get_test_case(self.doc, tc)["value"]
        self.assertEqual((value, math.copysign(1.0, value)), (0.0, -1.0))

    def test_empty_lists_keep_their_type(self) -> None:
        as_strings = self.client.add_test_case(self.doc, StringList([]))
        as_ints = self.client.add_test_case(self.doc, [])
        self.assertIsInstance(self.client.get_test_case(self.doc, as_strings)["value"], StringList)
        self.assertIsInstance(self.client.get_test_case(self.doc, as_ints)["value"], Int64List)

    def test_get_test_case_shape(self) -> None:
        tc = self.client.add_test_case(self.doc, "x")
        self.assertEqual(self.client.get_test_case(self.doc, tc), {"tc_id": tc, "value": "x"})

    def test_get_all_test_cases_in_chain_order_across_pages(self) -> None:
        ids = [self.client.add_test_case(self.doc, n) for n in range(7)]
        self.client.set_expected_output(self.doc, ids[1], "one")
        self.client.delete_test_case(self.doc, ids[3])
        expected = [{"tc_id": tc, "value": n} for n, tc in enumerate(ids) if n != 3]
        for page_size in (0, 1, 3):
            with self.subTest(page_size=page_size):
                self.assertEqual(self.client.get_all_test_cases(self.doc, page_size=page_size), expected)
        with_outputs = self.client.get_all_test_cases(self.doc, include_outputs=True, page_size=2)
        self.assertEqual([case["expected_output"] for case in with_outputs], [None, "one", None, None, None, None])

    def test_get_all_test_cases_of_an_empty_chain(self) -> None:
        self.assertEqual(self.client.get_all_test_cases(self.doc), [])

    def test_update_and_delete(self) -> None:
        tc = self.client.add_test_case(self.doc, [1, 2])
        self.client.set_expected_output(self.doc, tc, 3)
        self.client.update_test_case(self.doc, tc, ["a"])
        self.assertEqual(self.client.get_test_case(self.doc, tc)["value"], ["a"])
        self.assertEqual(self.client.get_expected_output(self.doc, tc), {"value": 3})  # kept by the update
        self.client.delete_test_case(self.doc, tc)
        with self.assertRaises(NotFoundError):
            self.client.get_test_case(self.doc, tc)
        with self.assertRaises(NotFoundError):
            self.client.get_expected_output(self.doc, tc)

    def test_test_case_of_another_problem_is_not_found(self) -> None:
        tc = self.client.add_test_case(self.doc, 1)
        other = self.client.create_problem("other")
        with self.assertRaises(NotFoundError):
            self.client.get_test_case(other, tc)


class ExpectedOutputTest(ClientTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.tc = self.client.add_test_case(self.doc, "in")

    def test_set_get_update_delete(self) -> None:
        with self.assertRaises(NotFoundError):
            self.client.get_expected_output(self.doc, self.tc)
        with self.assertRaises(NotFoundError):
            self.client.update_expected_output(self.doc, self.tc, 1)
        self.client.set_expected_output(self.doc, self.tc, {"a": "b"})
        self.assertEqual(self.client.get_expected_output(self.doc, self.tc), {"value": {"a": "b"}})
        self.client.update_expected_output(self.doc, self.tc, float("-inf"))
        self.assertEqual(self.client.get_expected_output(self.doc, self.tc), {"value": float("-inf")})
        self.client.delete_expected_output(self.doc, self.tc)
        with self.assertRaises(NotFoundError):
            self.client.get_expected_output(self.doc, self.tc)
        with self.assertRaises(NotFoundError):
            self.client.delete_expected_output(self.doc, self.tc)

    def test_every_value_type_as_output(self) -> None:
        for value in EDGE_VALUES + [float("nan")]:
            with self.subTest(value=repr(value)[:40]):
                self.client.set_expected_output(self.doc, self.tc, value)  # type: ignore[arg-type]
                read = self.client.get_expected_output(self.doc, self.tc)["value"]
                if isinstance(value, float) and math.isnan(value):
                    self.assertTrue(math.isnan(read))
                else:
                    self.assertEqual(read, value)
                self.client.delete_expected_output(self.doc, self.tc)

    def test_second_set_is_already_exists(self) -> None:
        self.client.set_expected_output(self.doc, self.tc, 1)
        with self.assertRaises(AlreadyExistsError) as caught:
            self.client.set_expected_output(self.doc, self.tc, 2)
        self.assertEqual(caught.exception.code, grpc.StatusCode.ALREADY_EXISTS)
        self.assertEqual(self.client.get_expected_output(self.doc, self.tc), {"value": 1})


class AdminTest(ClientTestCase):
    def test_stats(self) -> None:
        stats = self.client.get_stats()
        for key in ("problems_in_index", "test_cases_in_index", "expected_outputs_in_index", "segment_count",
                    "active_segment_bytes", "disk_bytes", "uptime_ms"):
            self.assertIsInstance(stats[key], int, key)
        self.assertGreaterEqual(stats["problems_in_index"], 1)
        self.assertGreaterEqual(stats["segment_count"], 1)
        self.assertGreater(stats["active_segment_bytes"], 0)
        self.assertEqual(stats["sync_mode"], "none")
        self.assertEqual(stats["store_status"], "open")
        self.assertIsInstance(stats["last_recovery"]["duration_ms"], float)
        for key in ("segments_from_hints", "segments_scanned", "hints_written", "unusable_hint_count"):
            self.assertIsInstance(stats["last_recovery"][key], int, key)
        compaction = stats["compaction"]
        self.assertEqual(set(compaction), {"running", "runs", "bytes_reclaimed", "failures", "last_error", "last"})
        self.assertIsInstance(compaction["running"], bool)
        for key in ("runs", "bytes_reclaimed", "failures"):
            self.assertIsInstance(compaction[key], int, key)
        self.assertEqual(compaction["last_error"], "")
        self.assertIs(compaction["last"] is None, compaction["runs"] == 0)

    def test_flush(self) -> None:
        self.client.add_test_case(self.doc, 1)
        self.client.flush()
        self.client.flush(timeout=5)

    def test_compact_now(self) -> None:
        kept = self.client.add_test_case(self.doc, "x" * 500)
        self.client.set_expected_output(self.doc, kept, [1, 2])
        updated = self.client.add_test_case(self.doc, "old " * 200)
        self.client.update_test_case(self.doc, updated, {"new": "value"})
        self.client.update_expected_output(self.doc, kept, StringList(["y"]))
        gone = self.client.add_test_case(self.doc, "z" * 500)
        self.client.delete_test_case(self.doc, gone)
        other = self.client.create_problem("<p>" + "gone " * 200 + "</p>")
        self.client.delete_problem(other)
        self.client.update_problem_html(self.doc, "<p>after</p>")

        result = self.client.compact_now(timeout=60)
        self.assertEqual(set(result), {"segments_compacted", "segments_written", "bytes_before", "bytes_after",
                                       "bytes_reclaimed", "records_copied", "tombstones_kept", "tombstones_dropped",
                                       "duration_ms"})
        for key, value in result.items():
            self.assertIsInstance(value, float if key == "duration_ms" else int, key)
        self.assertGreaterEqual(result["segments_compacted"], 1)
        self.assertGreater(result["bytes_reclaimed"], 0)
        self.assertLess(result["bytes_after"], result["bytes_before"])
        self.assertEqual(result["bytes_reclaimed"], result["bytes_before"] - result["bytes_after"])
        self.assertGreaterEqual(result["duration_ms"], 0.0)

        self.assertEqual(self.client.get_problem_html(self.doc), "<p>after</p>")
        self.assertEqual(self.client.get_problem_meta(self.doc), {"title": "T"})
        self.assertEqual(self.client.get_all_test_cases(self.doc, include_outputs=True), [
            {"tc_id": kept, "value": "x" * 500, "expected_output": ["y"]},
            {"tc_id": updated, "value": {"new": "value"}, "expected_output": None},
        ])
        with self.assertRaises(NotFoundError):
            self.client.get_test_case(self.doc, gone)
        with self.assertRaises(NotFoundError):
            self.client.get_problem_html(other)

        compaction = self.client.get_stats()["compaction"]
        self.assertGreaterEqual(compaction["runs"], 1)
        self.assertGreaterEqual(compaction["bytes_reclaimed"], result["bytes_reclaimed"])
        self.assertEqual(compaction["last_error"], "")
        self.assertEqual(set(compaction["last"]), set(result))


class ErrorTest(ClientTestCase):
    def test_not_found_is_a_key_error(self) -> None:
        with self.assertRaises(KeyError) as caught:
            self.client.get_problem_html(2**53 - 1)
        error = caught.exception
        self.assertIsInstance(error, NotFoundError)
        self.assertEqual(error.code, grpc.StatusCode.NOT_FOUND)  # type: ignore[attr-defined]
        self.assertIn("not found", str(error))

    def test_server_invalid_argument_is_a_value_error(self) -> None:
        with self.assertRaises(ValueError) as caught:
            self.client.update_problem_column(self.doc, "", "x")  # a column name is 1 to 256 bytes
        self.assertIsInstance(caught.exception, InvalidArgumentError)
        self.assertEqual(caught.exception.code, grpc.StatusCode.INVALID_ARGUMENT)  # type: ignore[attr-defined]

    def test_a_limit_is_resource_exhausted(self) -> None:
        with self.assertRaises(LseError) as caught:
            self.client.update_problem_column(self.doc, "big", "x" * (300 * 1024))  # metadata over 256 KiB
        self.assertIs(type(caught.exception), ResourceExhaustedError)
        self.assertEqual(caught.exception.code, grpc.StatusCode.RESOURCE_EXHAUSTED)

    def test_unavailable(self) -> None:
        with socket.socket() as probe:  # a loopback port that nothing listens on once closed
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with LseClient(f"127.0.0.1:{port}", timeout=5) as client:
            with self.assertRaises(UnavailableError) as caught:
                client.get_stats()
        self.assertEqual(caught.exception.code, grpc.StatusCode.UNAVAILABLE)


class TimeoutAndLifecycleTest(ClientTestCase):
    def silent_address(self) -> str:
        """A loopback port that accepts TCP connections but never answers: every call hangs
        until its deadline, so the deadline that applied can be measured."""
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        return f"127.0.0.1:{listener.getsockname()[1]}"

    def assert_deadline_after(self, call: Callable[[], object], low: float, high: float) -> None:
        started = time.monotonic()
        with self.assertRaises(LseError) as caught:
            call()
        elapsed = time.monotonic() - started
        self.assertEqual(caught.exception.code, grpc.StatusCode.DEADLINE_EXCEEDED)
        self.assertTrue(low <= elapsed < high, f"failed after {elapsed:.2f}s, expected {low} to {high}")

    def test_constructor_timeout_applies(self) -> None:
        with LseClient(self.silent_address(), timeout=0.3) as client:
            self.assert_deadline_after(client.get_stats, 0.25, 5)
            self.assert_deadline_after(lambda: list(client.list_problems()), 0.25, 5)

    def test_per_call_timeout_overrides_it(self) -> None:
        with LseClient(self.silent_address(), timeout=0.2) as client:
            self.assert_deadline_after(lambda: client.get_stats(timeout=1.0), 0.9, 5)
        with LseClient(self.silent_address(), timeout=60) as client:
            self.assert_deadline_after(lambda: client.flush(timeout=0.2), 0.15, 5)

    def test_no_deadline_when_none(self) -> None:
        assert server is not None
        with LseClient(server.address, timeout=None) as client:
            self.assertEqual(client.get_problem_html(self.doc), "<p>problem</p>")
            self.assertEqual(client.get_problem_html(self.doc, timeout=None), "<p>problem</p>")

    def test_context_manager_closes(self) -> None:
        assert server is not None
        with LseClient(server.address) as client:
            self.assertEqual(client.get_problem_meta(self.doc), {"title": "T"})
        with self.assertRaises(Exception):
            client.get_problem_meta(self.doc)



class BatchTest(ClientTestCase):
    """Atomic batches (the Commit RPC) through ``client.batch()``."""

    def counts(self) -> tuple[int, int, int]:
        stats = self.client.get_stats()
        return stats["problems_in_index"], stats["test_cases_in_index"], stats["expected_outputs_in_index"]

    def test_a_problem_with_test_cases_and_outputs_in_one_batch(self) -> None:
        with self.client.batch() as batch:
            doc = batch.create_problem("<p>A+B</p>", title="A+B")
            self.assertIsInstance(doc, BatchRef)
            for a, b in [(1, 2), (20, 22)]:
                tc = batch.add_test_case(doc, [a, b])
                batch.set_expected_output(doc, tc, a + b)
            batch.update_problem_column(doc, "level", "easy")
            self.assertEqual(len(batch), 6)
        assert batch.created_ids is not None
        doc_id, first, second = batch.created_ids
        self.assertEqual(self.client.get_problem_meta(doc_id), {"title": "A+B", "level": "easy"})
        cases = self.client.get_all_test_cases(doc_id, include_outputs=True)
        self.assertEqual([(case["tc_id"], case["value"], case["expected_output"]) for case in cases],
                         [(first, [1, 2], 3), (second, [20, 22], 42)])

    def test_a_refused_batch_writes_nothing_and_names_the_operation(self) -> None:
        doc = self.client.create_problem("p")
        tc = self.client.add_test_case(doc, 1)
        self.client.set_expected_output(doc, tc, 1)
        before = self.counts()
        with self.assertRaises(AlreadyExistsError) as caught:
            with self.client.batch() as batch:
                new = batch.create_problem("lost")
                batch.add_test_case(new, 5)
                batch.set_expected_output(doc, tc, 2)
        self.assertEqual(caught.exception.code, grpc.StatusCode.ALREADY_EXISTS)
        self.assertIn("operation 3 of 3 (setExpectedOutput)", str(caught.exception))
        batch = self.client.batch()
        batch.delete_test_case(doc, tc)
        batch.update_test_case(doc, tc, 3)
        with self.assertRaises(NotFoundError):
            batch.commit()
        self.client.flush()
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.client.get_expected_output(doc, tc), {"value": 1})

    def test_an_exception_in_the_block_sends_nothing(self) -> None:
        before = self.counts()
        with self.assertRaises(RuntimeError):
            with self.client.batch() as batch:
                batch.create_problem("never sent")
                raise RuntimeError("changed my mind")
        self.assertIsNone(batch.created_ids)
        self.assertEqual(self.counts(), before)

    def test_arguments_and_refs_are_checked_as_they_are_added(self) -> None:
        batch = self.client.batch()
        other = self.client.batch()
        doc = batch.create_problem("x")
        with self.assertRaises(InvalidArgumentError):
            other.add_test_case(doc, 1)
        tc = batch.add_test_case(doc, 1)
        with self.assertRaises(InvalidArgumentError):
            batch.add_test_case(tc, 1)
        with self.assertRaises(InvalidArgumentError):
            batch.update_problem_html(0, "x")
        self.assertEqual(len(batch.commit()), 2)
        with self.assertRaises(InvalidArgumentError):
            batch.commit()



class VersionTest(ClientTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.tc = self.client.add_test_case(self.doc, 1)
        self.output_version = self.client.set_expected_output(self.doc, self.tc, 2)

    def test_reads_and_writes_give_versions_and_stats_the_revision(self) -> None:
        html = self.client.get_problem_html_versioned(self.doc)
        self.assertEqual(html, Versioned("<p>problem</p>", html.version))
        self.assertEqual(self.client.get_problem_meta_versioned(self.doc), Versioned({"title": "T"}, html.version))
        value = self.client.get_test_case_versioned(self.doc, self.tc)
        self.assertEqual(value.value, 1)
        self.assertGreater(value.version, html.version)
        self.assertEqual(self.client.get_expected_output_versioned(self.doc, self.tc), Versioned(2, self.output_version))
        self.assertEqual(self.client.get_stats()["revision"], self.output_version)
        cases = self.client.get_all_test_cases(self.doc, include_outputs=True, include_versions=True)
        self.assertEqual(cases, [{"tc_id": self.tc, "value": 1, "expected_output": 2, "version": value.version,
                                  "expected_output_version": self.output_version}])
        new_html = self.client.update_problem_html(self.doc, "<p>v2</p>", expected_version=html.version)
        self.assertEqual(self.client.get_problem_html_versioned(self.doc).version, new_html)
        new_value = self.client.update_test_case(self.doc, self.tc, 5, expected_version=value.version)
        self.assertEqual(self.client.get_test_case_versioned(self.doc, self.tc).version, new_value)
        new_output = self.client.update_expected_output(self.doc, self.tc, 6, expected_version=self.output_version)
        self.client.delete_expected_output(self.doc, self.tc, expected_version=new_output)
        self.client.delete_test_case(self.doc, self.tc, expected_version=new_value)
        revision = self.client.delete_problem(self.doc, expected_version=new_html)
        self.assertEqual(self.client.get_stats()["revision"], revision)

    def test_a_stale_version_is_failed_precondition_naming_the_current_one(self) -> None:
        version = self.client.get_problem_html_versioned(self.doc).version
        with self.assertRaises(FailedPreconditionError) as caught:
            self.client.update_problem_column(self.doc, "title", "lost", expected_version=version + 1000)
        self.assertIn(f"at version {version}, not the expected version {version + 1000}", caught.exception.message)
        self.assertEqual(self.client.get_problem_meta(self.doc), {"title": "T"})
        with self.assertRaises(InvalidArgumentError):
            self.client.delete_problem(self.doc, expected_version=0)

    def test_a_batch_with_a_stale_operation_writes_nothing(self) -> None:
        version = self.client.get_problem_html_versioned(self.doc).version
        with self.assertRaises(FailedPreconditionError):
            with self.client.batch() as batch:
                batch.update_problem_column(self.doc, "a", "1", expected_version=version)
                batch.update_problem_column(self.doc, "b", "2", expected_version=version - 1)
        self.assertEqual(self.client.get_problem_meta(self.doc), {"title": "T"})
        # Conditions are on the versions before the batch: two operations on one problem, one version.
        batch = self.client.batch()
        batch.update_problem_column(self.doc, "a", "1", expected_version=version)
        batch.update_problem_column(self.doc, "b", "2", expected_version=version)
        batch.commit()
        self.assertEqual(batch.revision, self.client.get_problem_meta_versioned(self.doc).version)


if __name__ == "__main__":
    unittest.main()


class WatchTest(ClientTestCase):
    def test_every_write_in_revision_order_with_its_value(self) -> None:
        start = self.client.get_stats()["revision"] + 1
        tc = self.client.add_test_case(self.doc, [1, 2])
        self.client.set_expected_output(self.doc, tc, "three")
        self.client.update_problem_column(self.doc, "level", "easy")
        other = self.client.create_problem("<p>other</p>", level="hard")
        self.client.delete_test_case(self.doc, tc)
        with self.client.watch(from_revision=start, with_values=True, timeout=10) as changes:
            events = []
            for event in changes:
                events.append(event)
                if len(events) == 5:
                    break
        revisions = [event.revision for event in events]
        self.assertEqual(revisions, sorted(revisions))
        self.assertEqual(revisions[-1], self.client.get_stats()["revision"])
        self.assertEqual([(e.type, e.target, e.problem_id, e.tc_id, e.column, e.value) for e in events], [
            ("created", "test_case", self.doc, tc, "", [1, 2]),
            ("created", "expected_output", self.doc, tc, "", "three"),
            ("updated", "problem_column", self.doc, 0, "level", "easy"),
            ("created", "problem", other, 0, "", {"html": "<p>other</p>", "columns": {"level": "hard"}}),
            ("deleted", "test_case", self.doc, tc, "", None),
        ])
        self.assertEqual(changes.resume_from, revisions[-1] + 1)

    def test_one_problem_progress_and_close(self) -> None:
        with self.client.watch(problem_id=self.doc, progress_interval=0.1) as changes:
            events = iter(changes)
            # From now: first, the revision it starts after.
            self.assertEqual(next(events), WatchEvent(kind="progress", revision=self.client.get_stats()["revision"]))
            self.client.create_problem("<p>not watched</p>")
            tc = self.client.add_test_case(self.doc, 7)
            change = next(events)
            self.assertEqual((change.kind, change.target, change.tc_id, change.value), ("change", "test_case", tc, None))
            progress = next(events)
            self.assertEqual(progress.kind, "progress")
            self.assertEqual(progress.revision, self.client.get_stats()["revision"])
        # Closed: the iteration ends without an error.
        self.assertEqual(list(events), [])

    def test_bad_arguments_are_refused_before_the_call(self) -> None:
        with self.assertRaises(InvalidArgumentError):
            self.client.watch(problem_id=-1)
        with self.assertRaises(InvalidArgumentError):
            self.client.watch(progress_interval=0.05)
