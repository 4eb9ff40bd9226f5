"""Throwaway credentials for the TLS and token tests, made in a temporary folder, never committed.

Certificates are made by openssl, as test/support/test-certificates.ts makes them for the
TypeScript tests: a CA, a server certificate for 127.0.0.1 and localhost, a client certificate
from the same CA, and a client certificate from another CA (which mutual TLS must refuse).
Token files hold ``<role> sha256:<hex digest> <name>`` lines, as the server reads them
(src/server/access-tokens.ts); the tokens themselves stay with the tests.
"""
from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple


class Certificates:
    """PEM files in ``dir``; ``read(name)`` returns one's bytes, e.g. ``read("ca.crt")``."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lse-python-certs-"))
        try:
            self._make_ca("ca")
            self._make_ca("other-ca")
            self._make_signed("ca", "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
            self._make_signed("ca", "client", "extendedKeyUsage=clientAuth\n")
            self._make_signed("other-ca", "stranger", "extendedKeyUsage=clientAuth\n")
        except BaseException:
            self.close()
            raise

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def read(self, name: str) -> bytes:
        return (self.dir / name).read_bytes()

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _openssl(self, *args: str) -> None:
        subprocess.run(["openssl", *args], cwd=self.dir, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _make_ca(self, name: str) -> None:
        self._openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                      "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.crt")

    def _make_signed(self, ca: str, name: str, extensions: str) -> None:
        self._openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
                      "-keyout", f"{name}.key", "-out", f"{name}.csr")
        (self.dir / f"{name}.ext").write_text(extensions)
        self._openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
                      "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt")


def write_token_file(path: Path, roles: List[Tuple[str, str]]) -> Dict[str, str]:
    """Writes a token file with a new random token for each ``(role, name)``; returns name -> token."""
    tokens: Dict[str, str] = {}
    lines: List[str] = []
    for role, name in roles:
        token = secrets.token_urlsafe(32)
        tokens[name] = token
        lines.append(f"{role} sha256:{hashlib.sha256(token.encode('utf-8')).hexdigest()} {name}")
    path.write_text("\n".join(lines) + "\n")
    return tokens
