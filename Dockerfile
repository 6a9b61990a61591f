# loop-ops-mcp: the MCP server (and the human CLI) in a small, non-root image.
#
#   bash scripts/docker-context.sh          # compile + production node_modules → .docker-context/
#   docker build -t loop-ops-mcp:0.1.0 .
#
# Why the build stage runs on the host (scripts/docker-context.sh) and not in
# a `RUN npm ci` stage: the image is built where there is no package registry
# (the NAS, CI sandboxes: containers without network), and the result is the
# same files either way. The script compiles src/ with tsc, copies
# node_modules, prunes it offline to the production dependencies and trims
# what is never loaded (type declarations, source maps, docs, C sources).
# Hence no RUN instruction at all: the Dockerfile also works on a base image
# without a shell (distroless-style), and building needs no network.
#
# The base image is a build argument: node:20-bookworm-slim for real use, or
# any image with Node 20 at /usr/local/bin/node or /usr/bin/node on the PATH.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- stage 1: the application files, owned by root and read-only for the runtime user
FROM scratch AS app
COPY .docker-context/package.json /app/package.json
COPY .docker-context/node_modules /app/node_modules
COPY .docker-context/dist /app/dist
COPY .docker-context/bin /app/bin

# ---- stage 2: runtime
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="loop-ops-mcp" \
      org.opencontainers.image.description="MCP server to operate loop-api on a Synology NAS over SSH" \
      org.opencontainers.image.licenses="MIT"
COPY --from=app /app /app
WORKDIR /app

# Configuration: a YAML file (mounted) plus LOOP_OPS__SECTION__KEY overrides.
# Secrets never go in the file or the image: give files (Docker secrets or
# read-only mounts) and point at them with the *_FILE variables, e.g.
#   LOOP_OPS_TOKEN_FILE=/run/secrets/loop_ops_token
#   LOOP_OPS_SUDO_PASSWORD_FILE=/run/secrets/nas_sudo_password
#   (nas.privateKeyPath in the config → the mounted SSH key, nas.hostKeyFingerprint pinned)
# Listen on every interface of the container; publish the port on the host's
# 127.0.0.1 only (the reverse proxy in front terminates TLS).
ENV PATH=/app/bin:$PATH \
    NODE_ENV=production \
    LOOP_OPS_CONFIG=/config/config.yaml \
    LOOP_OPS_LOG_FORMAT=json \
    LOOP_OPS__SERVER__HOST=0.0.0.0 \
    LOOP_OPS__SERVER__PORT=8765

# uid/gid 1000 (`node` in the official images); any non-root uid works as long
# as it can read the mounted config, key and secret files.
USER 1000:1000
EXPOSE 8765

# /healthz needs no token and answers 200 while the server runs (nasReachable
# tells whether the NAS answers); no curl in slim images, so Node does it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LOOP_OPS__SERVER__PORT||8765)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# serve (MCP over HTTP) by default; the human CLI works too:
#   docker exec loop-ops-mcp loop-ops-mcp status
# (loop-ops-mcp is /app/bin → dist/cli.js, run through /usr/bin/env node; on a
# base image without /usr/bin/env: docker exec … node /app/dist/cli.js status)
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["serve"]
