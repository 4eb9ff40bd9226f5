"""Data written through the client survives a server restart on the same folder."""
from __future__ import annotations

import math
import unittest
from typing import Any, List

from lse_client import INT64_MIN, LseClient, StringList, UnavailableError
from .server_process import ServerProcess


class RestartTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = ServerProcess()
        self.addCleanup(self.server.close)
        self.server.start()

    def test_reads_back_after_restart(self) -> None:
        with LseClient(self.server.address) as client:
            doc = client.create_problem("<p>\U0001F600</p>", title="kept")
            values: List[Any] = [INT64_MIN, -0.0, "a\x00", StringList([]), [1, 2], {"k": "v"}]
            ids = [client.add_test_case(doc, value) for value in values]
            client.set_expected_output(doc, ids[0], float("nan"))
            gone = client.create_problem("gone")
            client.delete_problem(gone)
        old_address = self.server.address

        self.assertEqual(self.server.stop(), 0)
        with LseClient(old_address, timeout=5) as client, self.assertRaises(UnavailableError):
            client.get_problem_html(doc)
        self.server.start()

        with LseClient(self.server.address) as client:
            self.assertEqual(client.get_problem_html(doc), "<p>\U0001F600</p>")
            self.assertEqual(client.get_problem_meta(doc), {"title": "kept"})
            cases = client.get_all_test_cases(doc, include_outputs=True)
            self.assertEqual([case["tc_id"] for case in cases], ids)
            self.assertEqual([case["value"] for case in cases], values)
            self.assertIsInstance(cases[3]["value"], StringList)
            self.assertEqual(math.copysign(1.0, cases[1]["value"]), -1.0)
            self.assertTrue(math.isnan(cases[0]["expected_output"]))
            self.assertIn(doc, list(client.list_problems()))
            self.assertNotIn(gone, list(client.list_problems()))
            self.assertEqual(client.get_stats()["problems_in_index"], 1)
            self.assertGreater(client.create_problem("new"), gone)  # ids are never reused


if __name__ == "__main__":
    unittest.main()
