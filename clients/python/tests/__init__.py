"""Tests of lse_client; those that need a server start one (see server_process.py)."""
