#!/usr/bin/env bash
# npm run demo: bring the sandbox NAS up, build, and serve loop-ops-mcp against it.
# Prints the MCP URL, the bearer token, an Inspector command line and a Claude
# Desktop snippet; writes LOOP_OPS_URL / LOOP_OPS_TOKEN / LOOP_OPS_ADMIN_PASSPHRASE
# to .sandbox/demo.env. OAuth 2.1 is on too (issuer http://127.0.0.1:<port>,
# state in .sandbox/oauth-state.json): the consent page asks for the admin passphrase.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PORT="${LOOP_OPS_DEMO_PORT:-8765}"

bash scripts/sandbox.sh up
[ -d node_modules ] || npm ci
npm run --silent build

# The demo's bearer token: generated once, kept in a 0600 file, never on a command line.
TOKEN_FILE="$ROOT/.sandbox/secrets/demo-token"
if [ ! -s "$TOKEN_FILE" ]; then
  umask 077
  node -e 'process.stdout.write(require("crypto").randomBytes(24).toString("base64url"))' > "$TOKEN_FILE"
fi
TOKEN="$(cat "$TOKEN_FILE")"
# The admin passphrase typed on the OAuth consent page: generated once, 0600 too.
PASSPHRASE_FILE="$ROOT/.sandbox/secrets/admin-passphrase"
if [ ! -s "$PASSPHRASE_FILE" ]; then
  (umask 077; node -e 'process.stdout.write(require("crypto").randomBytes(18).toString("base64url"))' > "$PASSPHRASE_FILE")
fi
chmod 600 "$TOKEN_FILE" "$PASSPHRASE_FILE"
PASSPHRASE="$(cat "$PASSPHRASE_FILE")"
BASE="http://127.0.0.1:${PORT}"
URL="http://127.0.0.1:${PORT}/mcp"
CONFIG="$ROOT/.sandbox/config.yaml"

umask 077
cat > "$ROOT/.sandbox/demo.env" <<ENV
LOOP_OPS_URL=${URL}
LOOP_OPS_TOKEN=${TOKEN}
LOOP_OPS_ADMIN_PASSPHRASE=${PASSPHRASE}
ENV

cat <<TXT

loop-ops-mcp demo — serving the sandbox NAS
  MCP URL (Streamable HTTP): ${URL}
  legacy SSE:                http://127.0.0.1:${PORT}/sse
  bearer token:              ${TOKEN}
  OAuth issuer:              ${BASE}  (metadata: ${BASE}/.well-known/oauth-authorization-server)
  admin passphrase:          ${PASSPHRASE}  (typed on the OAuth consent page)
  (all also in .sandbox/demo.env)

MCP Inspector (needs Node >= 22.19):
  npx @modelcontextprotocol/inspector --cli ${URL} --transport http \\
    --header "Authorization: Bearer ${TOKEN}" --method tools/call --tool-name status

Claude Desktop (claude_desktop_config.json), local over stdio:
  {
    "mcpServers": {
      "loop-ops": {
        "command": "node",
        "args": ["${ROOT}/dist/cli.js", "stdio", "--config", "${CONFIG}"]
      }
    }
  }

Claude Code:
  claude mcp add --transport http loop-ops ${URL} --header "Authorization: Bearer ${TOKEN}"

Ctrl-C stops the server; 'npm run sandbox -- down' stops the sandbox NAS.
TXT

export LOOP_OPS_TOKEN_FILE="$TOKEN_FILE"
export LOOP_OPS_ADMIN_PASSPHRASE_FILE="$PASSPHRASE_FILE"
export LOOP_OPS__AUTH__OAUTH__ENABLED=true
export LOOP_OPS__AUTH__OAUTH__PUBLIC_BASE_URL="$BASE"
export LOOP_OPS__AUTH__OAUTH__STATE_FILE="$ROOT/.sandbox/oauth-state.json"
exec node dist/cli.js serve --config "$CONFIG" --port "$PORT"
