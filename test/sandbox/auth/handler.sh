#!/bin/sh
# Serves one HTTP request on stdin/stdout (spawned per connection by busybox `nc -ll -e`).
CR=$(printf '\r')
read -r method target _proto || exit 0
while IFS= read -r line; do
  line=${line%"$CR"}
  [ -z "$line" ] && break
done
path=${target%%\?*}

respond() { # status, content-type, body
  printf 'HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' "$1" "$2" "${#3}"
  [ "$method" = HEAD ] || printf '%s' "$3"
  code=${1%% *}
  if [ "$code" -ge 400 ]; then
    echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') loop-auth ERROR $method $target $code" > /proc/1/fd/2 2>/dev/null
  else
    case $target in *probe=docker*) return 0 ;; esac
    echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') loop-auth $method $target $code" > /proc/1/fd/1 2>/dev/null
  fi
  return 0
}

case "$path" in
  /health)
    if [ "$APP_MODE" = fail ]; then
      respond '500 Internal Server Error' application/json \
        "{\"status\":\"fail\",\"service\":\"loop-auth\",\"version\":\"$APP_VERSION\"}"
    else
      respond '200 OK' application/json \
        "{\"status\":\"ok\",\"service\":\"loop-auth\",\"version\":\"$APP_VERSION\"}"
    fi
    ;;
  /jwks.json)
    respond '200 OK' application/json '{"keys":[]}' ;;
  *)
    respond '404 Not Found' text/plain "not found: $path
" ;;
esac
