"""Data written through the client survives a server restart on the same folder."""
from __future__ import annotations

import math
import unittest
from typing import Any, List

from lse_client import INT64_MIN, LseClient, NotFoundError, StringList, UnavailableError
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


class CompactionRestartTest(unittest.TestCase):
    def setUp(self) -> None:
        # Small segments, so that the data spans several; no background compaction.
        self.server = ServerProcess(extra_args=["--segment-size", "4KiB", "--compaction-interval-ms", "0"])
        self.addCleanup(self.server.close)
        self.server.start()

    def test_bytes_reclaimed_is_negative_when_the_compaction_wrote_more(self) -> None:
        with LseClient(self.server.address) as client:
            client.create_problem("<p>no garbage</p>")  # the segment written in its place adds a watermark
            result = client.compact_now(timeout=60)
            self.assertEqual(result["segments_compacted"], 1)
            self.assertGreater(result["bytes_after"], result["bytes_before"])
            self.assertEqual(result["bytes_reclaimed"], result["bytes_before"] - result["bytes_after"])
            compaction = client.get_stats()["compaction"]
            self.assertEqual(compaction["bytes_reclaimed"], result["bytes_reclaimed"])
            self.assertEqual(compaction["last"], result)

    def test_compacted_data_survives_a_restart(self) -> None:
        with LseClient(self.server.address) as client:
            docs = {client.create_problem("<p>" + "a" * 300 + "</p>", n=str(n)): n for n in range(20)}
            cases = {doc: [client.add_test_case(doc, [n, -n]) for n in range(3)] for doc in docs}
            for doc, n in list(docs.items()):
                if n % 4 == 0:
                    client.delete_problem(doc)
                    del docs[doc]
                else:
                    client.update_problem_html(doc, f"<p>{n}</p>")
                    client.set_expected_output(doc, cases[doc][0], "out" * n)
            result = client.compact_now(timeout=60)
            self.assertGreaterEqual(result["segments_compacted"], 2)
            self.assertGreater(result["bytes_reclaimed"], 0)
            self.assertLess(result["bytes_after"], result["bytes_before"])
            self.assertEqual(client.get_stats()["compaction"]["last"], result)

        self.assertEqual(self.server.stop(), 0)
        self.server.start()

        with LseClient(self.server.address) as client:
            self.assertEqual(list(client.list_problems()), sorted(docs))
            for doc, n in docs.items():
                self.assertEqual(client.get_problem_html(doc), f"<p>{n}</p>")
                self.assertEqual(client.get_problem_meta(doc), {"n": str(n)})
                self.assertEqual(client.get_all_test_cases(doc, include_outputs=True), [
                    {"tc_id": tc, "value": [k, -k], "expected_output": "out" * n if k == 0 else None}
                    for k, tc in enumerate(cases[doc])
                ])
            for doc in set(cases) - set(docs):
                with self.assertRaises(NotFoundError):
                    client.get_problem_html(doc)
            stats = client.get_stats()
            self.assertEqual(stats["compaction"]["runs"], 0)
            self.assertIsNone(stats["compaction"]["last"])


if __name__ == "__main__":
    unittest.main()
