#!/usr/bin/env bash
# Regenerates lse_client/_generated/ (messages, their type stubs, the service stub) from
# proto/lse.proto.
#
# Uses Debian 12's protoc (3.21.12, package protobuf-compiler) and gRPC plugin (1.51, package
# protobuf-compiler-grpc) on purpose:
#   - protoc 3.21 emits the descriptor-pool ("builder") style of *_pb2.py, which protobuf
#     runtimes from 3.20 to today's all accept; Debian's python3-grpc-tools (1.14, protoc 3.5)
#     emits the old style that every upb/C++ runtime (protobuf 4.21 and later) refuses;
#   - gRPC 1.51's plugin writes no runtime version check into *_pb2_grpc.py, which current
#     grpcio-tools does, breaking the older grpcio that Debian ships.
# Install them with: apt-get install -y protobuf-compiler protobuf-compiler-grpc
# The stubs are committed; run this only after changing the proto.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$here/lse_client/_generated"
plugin="${GRPC_PYTHON_PLUGIN:-/usr/bin/grpc_python_plugin}"

command -v protoc >/dev/null || { echo "protoc not found: apt-get install -y protobuf-compiler" >&2; exit 1; }
[ -x "$plugin" ] || { echo "$plugin not found: apt-get install -y protobuf-compiler-grpc" >&2; exit 1; }
case "$(protoc --version)" in
  "libprotoc 3.21."*) ;;
  *) echo "warning: $(protoc --version) is not Debian 12's 3.21; the stubs may not load on older or newer runtimes" >&2 ;;
esac

protoc -I "$repo/proto" --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  --plugin=protoc-gen-grpc_python="$plugin" "$repo/proto/lse.proto"
# The plugin imports the messages as a top-level module; inside a package it must be relative.
sed -i 's/^import lse_pb2 as lse__pb2$/from . import lse_pb2 as lse__pb2/' "$out/lse_pb2_grpc.py"
grep -q '^from . import lse_pb2 as lse__pb2$' "$out/lse_pb2_grpc.py"
echo "regenerated lse_pb2.py, lse_pb2.pyi and lse_pb2_grpc.py in $out with $(protoc --version)"
