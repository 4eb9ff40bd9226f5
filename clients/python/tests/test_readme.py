"""The README's Python example runs as written against a real server and prints what it says."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import unittest
from pathlib import Path
from typing import List

from .credentials import Certificates, write_token_file
from .server_process import REPO_DIR, ServerProcess, TlsFiles


def python_section() -> str:
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    start = readme.index("\n### Python client\n")
    end = readme.index("\n### ", start + 1)
    return readme[start:end]


def python_examples() -> List[str]:
    return re.findall(r"```python\n(.*?)```", python_section(), re.S)


class ReadmeTest(unittest.TestCase):
    def test_names_the_install_and_test_commands(self) -> None:
        section = python_section()
        for command in ("apt-get install -y python3-grpcio python3-protobuf", "pip install ./clients/python",
                        "npm run test:python", "clients/python/regenerate_stubs.sh"):
            self.assertIn(command, section)

    def test_has_the_two_examples(self) -> None:
        blocks = python_examples()
        self.assertEqual(len(blocks), 2)
        self.assertIn('LseClient("localhost:50051"', blocks[0])
        self.assertIn('LseClient("stratum.example.com:50051"', blocks[1])

    def test_example_runs_as_written(self) -> None:
        blocks = python_examples()
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

    def test_tls_and_token_example_runs_as_written(self) -> None:
        # A server with TLS and tokens; the example runs in the certificates' folder, so that its
        # "ca.crt" is theirs, with a read token in LSE_TOKEN.
        certificates = Certificates()
        self.addCleanup(certificates.close)
        token_file = Path(certificates.dir) / "tokens"
        token = write_token_file(token_file, [("read", "reader")])["reader"]
        server = ServerProcess(tls=TlsFiles(certificates.path("server.crt"), certificates.path("server.key")),
                               auth_tokens_file=str(token_file))
        self.addCleanup(server.close)
        server.start()
        code = python_examples()[1].replace("stratum.example.com:50051", server.address)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                                cwd=certificates.dir, env={**os.environ, "LSE_TOKEN": token})
        self.assertEqual(result.stdout.splitlines(), ["0", "PERMISSION_DENIED"])


if __name__ == "__main__":
    unittest.main()
