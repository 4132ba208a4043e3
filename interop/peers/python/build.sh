#!/usr/bin/env bash
# Installs the grpcio interop peer: a virtualenv in interop/peers/python/.venv
# with grpcio + grpcio-tools from PyPI, and Python code generated from
# Debian's official protos into build/gen. Idempotent.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"
proto_root=/usr/share/grpc-proto
grpc_version="${RILL_INTEROP_GRPCIO_VERSION:-1.85.*}"

[ -f "$proto_root/grpc/testing/test.proto" ] || { echo "python peer: $proto_root/grpc/testing/test.proto missing (package grpc-proto)" >&2; exit 1; }
python="${PYTHON:-python3}"
command -v "$python" >/dev/null || { echo "python peer: $python not found" >&2; exit 1; }

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import grpc, grpc_tools' 2>/dev/null; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check "grpcio==$grpc_version" "grpcio-tools==$grpc_version"
fi

gen="$here/build/gen"
rm -rf "$gen"; mkdir -p "$gen"
"$venv/bin/python" -m grpc_tools.protoc -I"$proto_root" --python_out="$gen" --grpc_python_out="$gen" \
  "$proto_root"/grpc/testing/{empty,messages,test}.proto
touch "$gen/grpc/testing/__init__.py"
echo "python peer: grpcio $("$venv/bin/python" -c 'import grpc; print(grpc.__version__)') on $("$venv/bin/python" --version)"
