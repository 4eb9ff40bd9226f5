"""Stubs generated from proto/lse.proto by regenerate_stubs.sh; do not edit by hand."""
