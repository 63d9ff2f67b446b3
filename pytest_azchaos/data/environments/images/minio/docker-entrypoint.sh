#!/bin/sh
# Like the official image: arguments that are not a program are arguments of minio.
set -e
if [ "${1}" != "minio" ] && ! command -v "${1}" >/dev/null 2>&1; then
    set -- minio "$@"
fi
exec "$@"
