#!/usr/bin/env bash
# Builds the grpc-go interop peer (Debian's grpc-go 1.33, offline, GOPATH mode)
# into interop/peers/go/build/bin/{server,client}. Assumes the Debian packages
# are installed (interop/run installs them). Idempotent.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"
gopath="$build/gopath"
proto_root=/usr/share/grpc-proto
pkg=rillpeer/grpc_testing

for tool in go protoc protoc-gen-go protoc-gen-go-grpc; do
  command -v "$tool" >/dev/null || { echo "go peer: $tool not found" >&2; exit 1; }
done
[ -f "$proto_root/grpc/testing/test.proto" ] || { echo "go peer: $proto_root/grpc/testing/test.proto missing (package grpc-proto)" >&2; exit 1; }

rm -rf "$gopath/src/rillpeer"
mkdir -p "$gopath/src/$pkg" "$gopath/src/rillpeer/server" "$gopath/src/rillpeer/client" "$build/bin" "$build/gen"

# Generate from Debian's official protos. protoc-gen-go (v1.3 API) names the
# package after the proto package (grpc_testing) and writes next to the proto
# path; protoc-gen-go-grpc is told the same import path.
m=""
for f in empty messages test; do m="$m,Mgrpc/testing/$f.proto=$pkg"; done
m="${m#,}"
rm -rf "$build/gen"; mkdir -p "$build/gen"
protoc -I"$proto_root" \
  --go_out="$m:$build/gen" \
  --go-grpc_out="$m:$build/gen" \
  "$proto_root"/grpc/testing/{empty,messages,test}.proto
cp "$build"/gen/grpc/testing/*.pb.go "$build/gen/$pkg"/*.pb.go "$gopath/src/$pkg/"
cp "$here/server/main.go" "$gopath/src/rillpeer/server/"
cp "$here/client/main.go" "$gopath/src/rillpeer/client/"

export GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOPROXY=off
export GOCACHE="$build/gocache"
go build -o "$build/bin/server" rillpeer/server
go build -o "$build/bin/client" rillpeer/client
echo "go peer: built $(go version | awk '{print $3}') grpc-go $(sed -n 's/^const Version = "\(.*\)"/\1/p' /usr/share/gocode/src/google.golang.org/grpc/version.go)"
