"""TLS, mutual TLS and tokens, against real servers started with those options (secure_server.mjs).

Certificates and token files are made for the run in temporary folders (credentials.py).
"""
from __future__ import annotations

import os
import tempfile
import unittest
from pathlib import Path
from typing import Callable, Dict, Optional
from unittest import mock

import grpc

from lse_client import (
    InvalidArgumentError, LseClient, LseError, PermissionDeniedError, UnauthenticatedError, UnavailableError,
    ValueTypeError,
)
from .credentials import Certificates, write_token_file
from .server_process import ServerProcess, TlsFiles

certificates: Optional[Certificates] = None


def setUpModule() -> None:
    global certificates
    certificates = Certificates()
    unittest.addModuleCleanup(certificates.close)


def certs() -> Certificates:
    assert certificates is not None
    return certificates


def start(test_class: type[unittest.TestCase], *, tls: Optional[TlsFiles] = None,
          auth_tokens_file: Optional[str] = None) -> ServerProcess:
    """A server for the tests of a class, stopped after them."""
    server = ServerProcess(tls=tls, auth_tokens_file=auth_tokens_file)
    test_class.addClassCleanup(server.close)
    server.start()
    return server


class RefusalTestCase(unittest.TestCase):
    server: ServerProcess

    def assertRefused(self, error_class: type, code: grpc.StatusCode, call: Callable[[], object]) -> LseError:
        with self.assertRaises(error_class) as caught:
            call()
        error = caught.exception
        assert isinstance(error, LseError)
        self.assertEqual(error.code, code)
        return error


class TlsTest(RefusalTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = start(cls, tls=TlsFiles(certs().path("server.crt"), certs().path("server.key")))

    def test_a_client_trusting_the_ca_is_served(self) -> None:
        with LseClient(self.server.address, timeout=10, root_certificates=certs().read("ca.crt")) as client:
            doc = client.create_problem("over TLS")
            self.assertEqual(client.get_problem_html(doc), "over TLS")

    def test_a_plaintext_client_is_refused(self) -> None:
        with LseClient(self.server.address, timeout=10) as client:
            self.assertRefused(UnavailableError, grpc.StatusCode.UNAVAILABLE, lambda: client.get_stats())

    def test_a_client_trusting_another_ca_is_refused(self) -> None:
        with LseClient(self.server.address, timeout=10, root_certificates=certs().read("other-ca.crt")) as client:
            self.assertRefused(UnavailableError, grpc.StatusCode.UNAVAILABLE, lambda: client.get_stats())


class MutualTlsTest(RefusalTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = start(cls, tls=TlsFiles(certs().path("server.crt"), certs().path("server.key"), certs().path("ca.crt")))

    def client(self, certificate: Optional[str]) -> LseClient:
        keys: Dict[str, bytes] = {}
        if certificate is not None:
            keys = {"private_key": certs().read(f"{certificate}.key"), "certificate_chain": certs().read(f"{certificate}.crt")}
        client = LseClient(self.server.address, timeout=10, root_certificates=certs().read("ca.crt"), **keys)
        self.addCleanup(client.close)
        return client

    def test_a_client_with_a_certificate_of_the_ca_is_served(self) -> None:
        client = self.client("client")
        doc = client.create_problem("mutual")
        self.assertEqual(client.get_problem_html(doc), "mutual")

    def test_a_client_without_a_certificate_is_refused(self) -> None:
        client = self.client(None)
        self.assertRefused(UnavailableError, grpc.StatusCode.UNAVAILABLE, lambda: client.get_stats())

    def test_a_client_with_a_certificate_of_another_ca_is_refused(self) -> None:
        client = self.client("stranger")
        self.assertRefused(UnavailableError, grpc.StatusCode.UNAVAILABLE, lambda: client.get_stats())


class TokenTest(RefusalTestCase):
    """Over plaintext loopback, which the server allows with tokens; TLS with a token is in
    test_readme's example."""

    tokens: Dict[str, str]

    @classmethod
    def setUpClass(cls) -> None:
        folder = tempfile.TemporaryDirectory(prefix="lse-python-tokens-")
        cls.addClassCleanup(folder.cleanup)
        token_file = Path(folder.name) / "tokens"
        cls.tokens = write_token_file(token_file, [("read", "reader"), ("write", "writer"), ("admin", "operator")])
        cls.server = start(cls, auth_tokens_file=str(token_file))

    def setUp(self) -> None:
        # A token in the environment of whoever runs the tests must not reach these clients.
        environment = mock.patch.dict(os.environ)
        environment.start()
        self.addCleanup(environment.stop)
        os.environ.pop("LSE_TOKEN", None)

    def client(self, token: Optional[str] = None) -> LseClient:
        client = LseClient(self.server.address, timeout=10, token=token)
        self.addCleanup(client.close)
        return client

    def test_a_write_token_writes_and_reads(self) -> None:
        client = self.client(self.tokens["writer"])
        doc = client.create_problem("written")
        client.add_test_case(doc, [1, 2])
        self.assertEqual(client.get_problem_html(doc), "written")

    def test_a_read_token_reads_and_is_denied_writes(self) -> None:
        doc = self.client(self.tokens["writer"]).create_problem("read me")
        reader = self.client(self.tokens["reader"])
        self.assertEqual(reader.get_problem_html(doc), "read me")
        error = self.assertRefused(PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED,
                                   lambda: reader.update_problem_html(doc, "changed"))
        self.assertIn("needs a token of role write", error.message)
        self.assertEqual(reader.get_problem_html(doc), "read me")

    def test_flush_needs_an_admin_token(self) -> None:
        self.assertRefused(PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED, lambda: self.client(self.tokens["writer"]).flush())
        self.client(self.tokens["operator"]).flush()

    def test_no_token_or_an_unknown_one_is_unauthenticated(self) -> None:
        self.assertRefused(UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED, lambda: self.client().get_stats())
        self.assertRefused(UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED,
                           lambda: self.client("not-a-token-of-the-file").get_stats())

    def test_lse_token_is_used_when_no_token_is_given(self) -> None:
        os.environ["LSE_TOKEN"] = self.tokens["writer"]
        self.client().create_problem("from the environment")
        # An explicit token wins over the environment's.
        reader = self.client(self.tokens["reader"])
        self.assertRefused(PermissionDeniedError, grpc.StatusCode.PERMISSION_DENIED, lambda: reader.create_problem("no"))
        # An empty variable is no token, rather than a malformed one.
        os.environ["LSE_TOKEN"] = ""
        self.assertRefused(UnauthenticatedError, grpc.StatusCode.UNAUTHENTICATED, lambda: self.client().get_stats())


class ArgumentTest(unittest.TestCase):
    """Settings that could not work are refused by the constructor, before any connection."""

    def test_pem_must_be_bytes(self) -> None:
        with self.assertRaisesRegex(ValueTypeError, "root_certificates must be PEM bytes"):
            LseClient("127.0.0.1:1", root_certificates="-----BEGIN CERTIFICATE-----")  # type: ignore[arg-type]

    def test_key_and_certificate_go_together(self) -> None:
        with self.assertRaisesRegex(InvalidArgumentError, "go together"):
            LseClient("127.0.0.1:1", private_key=b"key")
        with self.assertRaisesRegex(InvalidArgumentError, "go together"):
            LseClient("127.0.0.1:1", certificate_chain=b"certificate")

    def test_a_channel_excludes_tls_arguments(self) -> None:
        channel = grpc.insecure_channel("127.0.0.1:1")
        self.addCleanup(channel.close)
        with self.assertRaisesRegex(InvalidArgumentError, "channel excludes"):
            LseClient(channel=channel, root_certificates=b"ca")

    def test_a_token_that_cannot_be_sent_is_refused_without_echoing_it(self) -> None:
        for token in ("two words", "caf\u00e9", "line\n", ""):
            with self.subTest(token=token):
                with self.assertRaises(InvalidArgumentError) as caught:
                    LseClient("127.0.0.1:1", token=token)
                if token:
                    self.assertNotIn(token, str(caught.exception))
        with mock.patch.dict(os.environ, {"LSE_TOKEN": "two words"}), self.assertRaisesRegex(InvalidArgumentError, "LSE_TOKEN"):
            LseClient("127.0.0.1:1")
        with self.assertRaises(ValueTypeError):
            LseClient("127.0.0.1:1", token=b"bytes")  # type: ignore[arg-type]


if __name__ == "__main__":
    unittest.main()
