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
GOBIN="$tmp" CGO_ENABLED=0 go install "github.com/docker/compose/v2/cmd@$VERSION"
mkdir -p "$HOME/.docker/cli-plugins"
install -m 0755 "$tmp/cmd" "$HOME/.docker/cli-plugins/docker-compose"
docker compose version
