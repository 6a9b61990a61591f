#!/bin/sh
# PID 1 of the sample app: prepare the vault, then serve HTTP on :8081.
# Modes (file /app/MODE, or build arg MODE): ok | fail (health answers 500) | slow:N (listen after N s).
set -u
VERSION=$(cat /app/VERSION 2>/dev/null || echo 0.0.0)
MODE=${BUILD_MODE:-}
[ -n "$MODE" ] || MODE=$(cat /app/MODE 2>/dev/null || echo ok)
COLOR=${COLOR:-none}
export APP_VERSION="$VERSION" APP_MODE="$MODE" COLOR

log() { echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') loop-api[$COLOR] $*"; }

log "starting version=$VERSION mode=$MODE"
echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') loop-api[$COLOR] stderr: starting (this line goes to stderr)" >&2

VAULT=${VAULT_DIR:-/vault}
mkdir -p "$VAULT/oauth-keys"
if [ ! -s "$VAULT/oauth-keys/private.key" ]; then
  head -c 48 /dev/urandom | base64 > "$VAULT/oauth-keys/private.key"
  chmod 600 "$VAULT/oauth-keys/private.key"
  log "generated OAuth key $VAULT/oauth-keys/private.key"
fi
if [ ! -e "$VAULT/loop.db" ]; then
  touch "$VAULT/loop.db"
  echo "loop.db created $(date -u '+%Y-%m-%dT%H:%M:%SZ') by version $VERSION" >> "$VAULT/loop.db"
  log "created database $VAULT/loop.db"
fi

child=
stop() {
  log "received stop signal, shutting down"
  [ -n "$child" ] && kill "$child" 2>/dev/null
  exit 0
}
trap stop TERM INT

case "$MODE" in
  slow:*)
    delay=${MODE#slow:}
    log "slow mode: listening in ${delay}s"
    sleep "$delay" & child=$!
    wait "$child"
    ;;
esac

chmod 755 /app/handler.sh
log "listening on :8081"
echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') loop-api[$COLOR] stderr: ready" >&2
# One handler process per connection (busybox nc -ll -e); the handler logs to PID 1's stdout.
nc -ll -p 8081 -e /app/handler.sh & child=$!
wait "$child"
log "server exited"
