#!/usr/bin/env bash
# Interop check against Go go-micro's own HTTP broker (not part of `pnpm test`).
#
#   sudo test/go-interop/run.sh [path to a go-micro checkout]
#
# Needs Go, root (for a private network namespace: go-micro's mDNS registry always
# multicasts on port 5353 on every interface, so it must not run in the host's
# namespace), and built packages (`pnpm run build` here and in ../registry-mdns).
# Without a checkout, go-micro.dev/v6 comes from the Go module proxy.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cp "$HERE/peer.go" "$WORK/"
{
  echo 'module interop'
  echo 'go 1.25.0'
  echo 'require go-micro.dev/v6 v6.10.0'
  [ -n "${1:-}" ] && echo "replace go-micro.dev/v6 => $(cd "$1" && pwd)"
} >"$WORK/go.mod"
(cd "$WORK" && go mod tidy >/dev/null && go build -o peer .)
# inside: only lo, with a multicast route whose source is 127.0.0.1
unshare --net bash -c '
  ip link set lo up && ip link set lo multicast on &&
  ip route add 224.0.0.0/4 dev lo src 127.0.0.1 &&
  PEER="$1" node "$2"' _ "$WORK/peer" "$HERE/interop.mjs"
