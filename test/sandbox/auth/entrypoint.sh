#!/bin/sh
# PID 1 of the loop-auth stand-in: serve HTTP on :8080 (/health with the version, /jwks.json).
# Modes (file /app/MODE, or build arg MODE): ok | fail (health answers 500) | slow:N (listen after N s).
set -u
VERSION=$(cat /app/VERSION 2>/dev/null || echo 0.0.0)
MODE=${BUILD_MODE:-}
[ -n "$MODE" ] || MODE=$(cat /app/MODE 2>/dev/null || echo ok)
export APP_VERSION="$VERSION" APP_MODE="$MODE"

log() { echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') loop-auth $*"; }

log "starting version=$VERSION mode=$MODE"
echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') loop-auth stderr: starting (this line goes to stderr)" >&2

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
log "listening on :8080"
# One handler process per connection (busybox nc -ll -e); the handler logs to PID 1's stdout.
nc -ll -p 8080 -e /app/handler.sh & child=$!
wait "$child"
log "server exited"
