#!/usr/bin/env bash
# Install the reference load generator of bench/traffic_capacity.py: vegeta, a constant-rate
# (open-loop) HTTP load generator in Go, compiled with `go install` from the Go module proxy.
# (wrk2 is not packaged by Debian, and its sources are not on a package registry.)
# Does nothing if vegeta is already on PATH or in $(go env GOPATH)/bin.
set -euo pipefail
VERSION=${VEGETA_VERSION:-v12.13.0}
bin="$(go env GOPATH)/bin/vegeta"
if command -v vegeta >/dev/null 2>&1 || [ -x "$bin" ]; then
    echo "vegeta is already installed"
    exit 0
fi
echo "compiling vegeta $VERSION from source..."
go install "github.com/tsenart/vegeta/v12@$VERSION"
echo "installed $bin"
