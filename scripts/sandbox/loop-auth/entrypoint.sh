#!/bin/sh
echo "loop-auth: starting httpd on :8080"
echo "loop-auth: (stderr) ready" >&2
httpd -f -v -p 8080 -h /www & child=$!
trap 'echo "loop-auth: stopping"; kill "$child"; exit 0' TERM INT
wait "$child"
