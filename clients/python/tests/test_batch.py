"""Atomic batches (the Commit RPC) through LseClient.batch(), against a real server."""
from __future__ import annotations

import unittest
from typing import Optional

import grpc

from lse_client import AlreadyExistsError, BatchRef, InvalidArgumentError, LseClient, NotFoundError
from .server_process import ServerProcess

server: Optional[ServerProcess] = None


def setUpModule() -> None:
    global server
    server = ServerProcess()
    unittest.addModuleCleanup(server.close)
    server.start()


class BatchTest(unittest.TestCase):
    def setUp(self) -> None:
        assert server is not None
        self.client = LseClient(server.address, timeout=10)
        self.addCleanup(self.client.close)

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


if __name__ == "__main__":
    unittest.main()
