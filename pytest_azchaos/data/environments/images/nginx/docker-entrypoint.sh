#!/bin/sh
# Like the official image: run /docker-entrypoint.d/*.sh, then the command.
set -e
for script in /docker-entrypoint.d/*.sh; do
    [ -x "$script" ] && "$script"
done
exec "$@"
