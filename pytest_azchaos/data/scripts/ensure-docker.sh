#!/usr/bin/env bash
# Make sure a Docker engine answers. Where one already does (a laptop, GitHub
# Actions) do nothing; otherwise install Debian's docker.io and start dockerd
# in the background, then wait until it answers. Idempotent.
set -euo pipefail

log() { printf 'azchaos-setup: %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }
# dockerd 20.10 (Debian 12's docker.io) can deadlock in its networking after many containers:
# `docker info` still answers, while every network call (and so every stack start) hangs.
network_answers() { timeout "${AZCHAOS_ENGINE_TIMEOUT_S:-30}" docker network ls >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
    if ! network_answers; then
        log "error: the Docker engine answers, but its network API did not within ${AZCHAOS_ENGINE_TIMEOUT_S:-30} s:"
        log "dockerd's networking is stuck (a deadlock seen with docker.io 20.10 after many containers)."
        log "hint: restart dockerd ('systemctl restart docker', or as root 'pkill dockerd' and run this"
        log "script again), then remove what was left with 'azchaos down --all'."
        exit 1
    fi
    log "Docker engine already answers; nothing to do"
    exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        log "error: no Docker engine answers and dockerd is not installed."
        log "hint: install Docker (https://docs.docker.com/engine/install/) and start it, then retry."
        exit 1
    fi
    log "installing Debian's docker.io (no Docker engine answers)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi

# The pid file of a dockerd or containerd that ended with the machine (a snapshot restored, a
# container restarted with /var/run kept) names a PID that another process may hold by now.
# dockerd then takes containerd for running ("containerd is still running"), waits for a socket
# that never comes and gives up: "timeout waiting for containerd to start". So a pid file whose
# process is not the one it names is removed before dockerd starts.
clear_stale_pidfile() {  # FILE NAME
    local file=$1 name=$2 pid
    [ -f "$file" ] || return 0
    pid=$(tr -dc '0-9' <"$file")
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
        return 0
    fi
    log "removing $file: it names process ${pid:-?}, which is not a running $name"
    rm -f "$file"
}

logfile=${AZCHAOS_DOCKERD_LOG:-/var/log/azchaos-dockerd.log}
if ! pgrep -x dockerd >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        log "error: dockerd is installed but not running, and starting it needs root."
        log "hint: run 'sudo dockerd &' or 'sudo systemctl start docker', then retry."
        exit 1
    fi
    run_dir=${AZCHAOS_RUN_DIR:-/var/run}
    clear_stale_pidfile "$run_dir/docker.pid" dockerd
    clear_stale_pidfile "$run_dir/docker/containerd/containerd.pid" containerd
    log "starting dockerd in the background (log: $logfile)"
    nohup dockerd >"$logfile" 2>&1 </dev/null &
    started=$!
fi

# dockerd's last error line (its log is long and mostly info), so that the error says why.
last_error() {
    local line
    line=$(grep -E 'level=(error|fatal)|^failed' "$logfile" 2>/dev/null | tail -n 1 || true)
    echo "${line:-no error line in its log}"
}
for _ in $(seq 1 60); do
    if engine_answers; then
        log "Docker engine answers ($(docker version --format '{{.Server.Version}}'))"
        exit 0
    fi
    if [ -n "${started:-}" ] && ! kill -0 "$started" 2>/dev/null; then  # no use waiting for it
        log "error: dockerd exited before it answered: $(last_error)"
        log "see $logfile"
        exit 1
    fi
    sleep 1
done
[ -n "${started:-}" ] && log "dockerd's last error: $(last_error)"
log "error: dockerd did not answer within 60 s; see $logfile"
exit 1
