#!/usr/bin/env bash
# Interop check against Go go-micro's own mDNS registry (not part of `npm test`).
#
#   sudo test/go-interop/run.sh [path to a go-micro checkout]
#
# What it needs and does: the repository's scripts/go-interop.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$HERE/../../../../scripts/go-interop" "$HERE" "$@"
