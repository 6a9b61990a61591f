#!/usr/bin/env bash
# Prepares .docker-context/, the only thing the Dockerfile copies:
#   dist/          compiled here from src/ (tsc, no source maps), plus dist/ui/dashboard.html
#   node_modules/  production dependencies only (a copy of ./node_modules, pruned offline)
#   package.json   (type: module, version)
# Run it on a machine with the same OS/CPU family as the image (linux/amd64 for
# an Intel/AMD Synology): ssh2's optional native crypto addon is copied as built.
# Nothing here needs the network; `npm ci` must have run once (node_modules present).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.docker-context
[ -d node_modules ] || { echo "docker-context: run npm ci first" >&2; exit 2; }
rm -rf "$out"
mkdir -p "$out"
node_modules/.bin/tsc -p tsconfig.build.json --outDir "$out/dist" --sourceMap false
# The dashboard view (MCP Apps): one self-contained HTML file bundled by esbuild (a devDependency).
node_modules/.bin/tsx src/ui/build.ts "$out/dist/ui/dashboard.html" >/dev/null
cp package.json package-lock.json "$out/"
# Hard links when possible (fast, no space); npm prune only unlinks.
cp -al node_modules "$out/node_modules" 2>/dev/null || cp -a node_modules "$out/node_modules"
(cd "$out" && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --offline --loglevel=error >/dev/null)
# Not needed at run time: type declarations, source maps, docs, the .bin links, npm's lock copy.
find "$out/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
  -o -name '*.md' -o -name '*.markdown' -o -name '*.tsbuildinfo' \) ! -iname 'LICENSE*' -delete
# Sources that are only there to be compiled (zod's TypeScript, the addons' C sources and objects).
rm -rf "$out/node_modules/zod/src" "$out/node_modules/cpu-features/deps" "$out/node_modules/cpu-features/src"
find "$out/node_modules" -type d \( -name obj.target -o -name .deps \) -path '*/build/*' -prune -exec rm -rf {} +
rm -rf "$out/node_modules/.bin" "$out/node_modules/.package-lock.json" "$out/package-lock.json"
find "$out/node_modules" -depth -type d -empty -delete
# `loop-ops-mcp` on the PATH inside the image (the Dockerfile puts /app/bin first).
chmod 755 "$out/dist/cli.js"
mkdir -p "$out/bin" && ln -s ../dist/cli.js "$out/bin/loop-ops-mcp"
echo "docker-context: $(du -sh "$out" | cut -f1) in $out"
