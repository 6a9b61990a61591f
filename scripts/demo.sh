#!/usr/bin/env bash
# npm run demo: bring the sandbox NAS up, build, and serve loop-ops-mcp against it.
# Prints the MCP URL, the bearer token, an Inspector command line and a Claude
# Desktop snippet; writes LOOP_OPS_URL / LOOP_OPS_TOKEN to .sandbox/demo.env.
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
URL="http://127.0.0.1:${PORT}/mcp"
CONFIG="$ROOT/.sandbox/config.yaml"

umask 077
cat > "$ROOT/.sandbox/demo.env" <<ENV
LOOP_OPS_URL=${URL}
LOOP_OPS_TOKEN=${TOKEN}
ENV

cat <<TXT

loop-ops-mcp demo — serving the sandbox NAS
  MCP URL (Streamable HTTP): ${URL}
  legacy SSE:                http://127.0.0.1:${PORT}/sse
  bearer token:              ${TOKEN}
  (both also in .sandbox/demo.env)

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
exec node dist/cli.js serve --config "$CONFIG" --port "$PORT"
