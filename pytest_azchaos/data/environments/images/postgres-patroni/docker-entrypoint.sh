#!/bin/sh
# The node's watchdog (watchdog.py) starts first, then Patroni, which arms it whenever it leads
# (the stack's patroni.yml: watchdog driver "testing", device /run/postgresql/watchdog).
# Options alone mean "patroni with the stack's configuration and these options".
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- patroni /etc/patroni/patroni.yml "$@"
fi
if [ "$1" = patroni ]; then
    fifo=/run/postgresql/watchdog
    rm -f "$fifo"
    python3 /usr/local/bin/azchaos-watchdog "$fifo" &
    tries=0
    until [ -p "$fifo" ]; do  # Patroni's open would block on a pipe nobody reads
        tries=$((tries + 1))
        if [ "$tries" -gt 200 ]; then
            echo "docker-entrypoint.sh: the watchdog did not start" >&2
            exit 1
        fi
        sleep 0.05
    done
fi
exec "$@"
