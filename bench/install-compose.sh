#!/usr/bin/env bash
# Install the Docker Compose v2 CLI plugin for the benchmark, from source with `go install`
# (no registry or download site is needed). Does nothing if `docker compose` already works.
set -euo pipefail
if docker compose version >/dev/null 2>&1; then
    echo "docker compose is already installed: $(docker compose version)"
    exit 0
fi
VERSION=${COMPOSE_VERSION:-v2.40.3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "compiling docker compose $VERSION from source (a few minutes)..."
# Compose's go.mod has exclude directives, which 'go install pkg@version' refuses:
# fetch the module from the Go module proxy and build it as the main module instead.
dir=$(go mod download -json "github.com/docker/compose/v2@$VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
(cd "$dir" && CGO_ENABLED=0 go build -trimpath -o "$tmp/docker-compose" ./cmd)
mkdir -p "$HOME/.docker/cli-plugins"
install -m 0755 "$tmp/docker-compose" "$HOME/.docker/cli-plugins/docker-compose"
docker compose version
