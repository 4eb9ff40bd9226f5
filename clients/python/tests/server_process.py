"""Runs a real Stratum server for the tests: ``node bin/stratum.mjs serve`` on 127.0.0.1 with
``--port 0`` (or secure_server.mjs, for TLS and tokens), its port read from the "listening" log
line, stopped with SIGTERM.

The tests start the process themselves (rather than being handed an address) so that they can
stop it and start it again on the same folder, as a restart in production would.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Sequence

REPO_DIR = Path(os.environ.get("LSE_REPO_DIR") or Path(__file__).resolve().parents[3])
NODE = os.environ.get("LSE_NODE", "node")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class TlsFiles:
    """The server's TLS files (PEM paths); with ``client_ca_file`` it requires client certificates."""

    def __init__(self, cert_file: str, key_file: str, client_ca_file: Optional[str] = None) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self.client_ca_file = client_ca_file


class ServerProcess:
    """One server process at a time on one data folder; ``address`` changes on each start.
    ``extra_args`` are added to ``stratum serve``'s, e.g. ``["--segment-size", "4KiB"]``.
    ``tls`` and ``auth_tokens_file`` run secure_server.mjs instead, which passes them to
    startServer (and takes no ``extra_args``)."""

    def __init__(self, data_dir: Optional[str] = None, extra_args: Sequence[str] = (), *,
                 tls: Optional[TlsFiles] = None, auth_tokens_file: Optional[str] = None) -> None:
        assert not (extra_args and (tls or auth_tokens_file)), "extra_args are flags of stratum serve"
        self._owns_dir = data_dir is None
        self._extra_args = list(extra_args)
        self._tls = tls
        self._auth_tokens_file = auth_tokens_file
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="lse-python-test-")
        self._process: Optional[subprocess.Popen[str]] = None
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._drainer: Optional[threading.Thread] = None
        self.log: List[str] = []
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        """Starts the server and waits for its "listening" line; raises with its log otherwise."""
        assert self._process is None, "already running"
        self._process = subprocess.Popen(
            self._command(), cwd=REPO_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        )
        self._lines = queue.Queue()
        # Drained on a thread for the process's whole life, so a full pipe never blocks the server.
        self._drainer = threading.Thread(target=self._drain, args=(self._process.stdout, self._lines), daemon=True)
        self._drainer.start()
        while True:
            try:
                line = self._lines.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                self._kill()
                raise RuntimeError(f"the server did not log 'listening' within {START_TIMEOUT_S}s:\n" + "\n".join(self.log))
            if line is None:
                code = self._process.wait()
                self._close_output(self._process)
                self._process = None
                raise RuntimeError(f"the server exited with code {code} before listening:\n" + "\n".join(self.log))
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("msg") == "listening":
                self.port = int(record["port"])
                return

    def _command(self) -> List[str]:
        if self._tls is None and self._auth_tokens_file is None:
            return [NODE, "bin/stratum.mjs", "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", self.data_dir,
                    "--sync", "none", "--log-level", "info", "--shutdown-grace-ms", "5000", *self._extra_args]
        options: Dict[str, Any] = {"dataDir": self.data_dir}
        if self._tls is not None:
            options["tls"] = {"certFile": self._tls.cert_file, "keyFile": self._tls.key_file}
            if self._tls.client_ca_file is not None:
                options["tls"]["clientCaFile"] = self._tls.client_ca_file
        if self._auth_tokens_file is not None:
            options["authTokensFile"] = self._auth_tokens_file
        return [NODE, str(Path(__file__).with_name("secure_server.mjs")), json.dumps(options)]

    def _drain(self, stream: IO[str], lines: "queue.Queue[Optional[str]]") -> None:
        for line in stream:
            self.log.append(line.rstrip("\n"))
            lines.put(line)
        lines.put(None)

    def stop(self) -> int:
        """Stops the server gracefully (SIGTERM) and returns its exit code (0 when clean)."""
        process, self._process = self._process, None
        if process is None:
            return 0
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RuntimeError("the server did not stop within its grace period:\n" + "\n".join(self.log))
        finally:
            self._close_output(process)

    def _close_output(self, process: "subprocess.Popen[str]") -> None:
        """Lets the drain thread read the last lines, then closes the pipe."""
        if self._drainer is not None:
            self._drainer.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._close_output(self._process)
            self._process = None

    def close(self) -> None:
        """Stops the server if it runs and removes the data folder if this object made it."""
        try:
            self.stop()
        finally:
            if self._owns_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)
