#!/usr/bin/env bash
# Everything a brand-new machine needs, idempotent: a virtualenv with the plugin
# installed (editable, with the dev tools), and a Docker engine that answers.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'azchaos-setup: %s\n' "$*" >&2; }

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $($PYTHON --version)"
    if ! $PYTHON -m venv .venv 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            log "installing python3-venv"
            apt-get update -qq >/dev/null && apt-get install -y -qq python3-venv >/dev/null
            rm -rf .venv && $PYTHON -m venv .venv
        else
            log "error: '$PYTHON -m venv' failed; install the venv module (python3-venv)"; exit 1
        fi
    fi
fi
stamp=.venv/.azchaos-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    log "installing pytest-azchaos and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[dev]'
    touch "$stamp"
fi
./scripts/ensure-docker.sh

# Allure 3 (the Node CLI that renders allure-results) into .tools/, for the Allure tests; Chromium
# (Debian's) opens the rendered reports headless. Node 20 or later is what Allure 3 needs.
apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        log "installing $*"
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        log "error: $* missing; install it (Debian: apt-get install $*)"; exit 1
    fi
}
command -v npm >/dev/null || apt_install nodejs npm
if [ ! -x .tools/allure/node_modules/.bin/allure ]; then
    log "installing the Allure 3 report generator into .tools/allure"
    npm install --silent --no-audit --no-fund --prefix .tools/allure 'allure@3' >/dev/null
fi
command -v chromium >/dev/null || apt_install chromium
