"""The README's Python example runs as written against a real server and prints what it says."""
from __future__ import annotations

import re
import subprocess
import sys
import unittest

from .server_process import REPO_DIR, ServerProcess


def python_section() -> str:
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n### Python client\n")
    end = readme.index("\n### ", start + 1)
    return readme[start:end]


class ReadmeTest(unittest.TestCase):
    def test_names_the_install_and_test_commands(self) -> None:
        section = python_section()
        for command in ("apt-get install -y python3-grpcio python3-protobuf", "pip install ./clients/python",
                        "npm run test:python", "clients/python/regenerate_stubs.sh"):
            self.assertIn(command, section)

    def test_example_runs_as_written(self) -> None:
        blocks = re.findall(r"```python\n(.*?)```", python_section(), re.S)
        self.assertEqual(len(blocks), 1)
        self.assertIn('LseClient("localhost:50051"', blocks[0])
        server = ServerProcess()  # a new, empty store, as the example's ids assume
        self.addCleanup(server.close)
        server.start()
        code = blocks[0].replace("localhost:50051", server.address)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
        self.assertEqual(result.stdout.splitlines(), [
            "{'tc_id': 2, 'value': [1, 2], 'expected_output': 3}",
            "{'tc_id': 3, 'value': [], 'expected_output': None}",
            "problem 1",
            "1",
            "NOT_FOUND problem 12345 not found",
        ])


if __name__ == "__main__":
    unittest.main()
