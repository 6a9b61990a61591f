#!/usr/bin/env bash
# The sandbox's Docker Swarm host: a second "machine" beside the sandbox NAS, in its own network
# namespace, for the `swarm` target.
#
#   bash scripts/sandbox/swarm.sh up        start it (idempotent; the sandbox NAS must be up: users, key, base image)
#   bash scripts/sandbox/swarm.sh status    one line per component; exit 0 if all up
#   bash scripts/sandbox/swarm.sh down [--purge]   stop everything `up` started (namespace, veth, sshd, dockerd);
#                                           --purge also deletes its data, facts and sudoers file
#   bash scripts/sandbox/swarm.sh reset     the app service back to the initial image, origin/checkout/state reset
#   bash scripts/sandbox/swarm.sh commit [-m MSG] FILE=CONTENT...   push a commit to the swarm app's origin
#
# What runs (network namespace `loopswarm`, host 10.77.1.1/30 <-> namespace 10.77.1.2/30):
#   - sshd on 10.77.1.2:22 with its own host key; users loopops (scoped sudo) and loopadmin, the sandbox's key;
#   - dockerd with its own data-root/exec-root/pidfile/socket (--iptables=false --bridge=none --storage-driver=vfs),
#     a single-node swarm (advertise 10.77.1.2);
#   - service loop-api: 2 replicas, endpoint_mode dnsrr (this kernel has no IPVS: no VIPs, no routing mesh) on the
#     attachable overlay loop_swarm, start-first updates with automatic rollback;
#   - service loop-front: nginx on the overlay, port 8082 published in host mode (http://10.77.1.2:8082), resolving
#     tasks.loop-api through Docker's DNS every second, so tasks coming and going during an update never fail a request.
# Facts for the tests and the product: <repo>/.sandbox/swarm.json, <repo>/.sandbox/swarm-config.yaml.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LOCAL=$REPO_ROOT/.sandbox
APP_SRC=$REPO_ROOT/test/sandbox/app

SANDBOX_ROOT=/var/lib/loop-sandbox
SECRETS=$SANDBOX_ROOT/secrets
PROD_DOCKER=/usr/bin/docker            # the sandbox NAS's dockerd (default socket): the base image comes from it
ROOT=$SANDBOX_ROOT/swarm
RUN=$ROOT/run
LOGS=$ROOT/log
SSH_DIR=$ROOT/ssh
DOCKER_ROOT=$ROOT/docker
EXEC_ROOT=$ROOT/exec
SOCKET=$RUN/docker.sock
WRAPPER=$ROOT/bin/docker               # root-owned: sudoers names it; it only adds -H <socket>
APP_DIR=$SANDBOX_ROOT/volume1/docker/loop-api-swarm
CHECKOUT=$APP_DIR/src
ORIGIN=$APP_DIR/origin.git
OPS_STATE=$SANDBOX_ROOT/volume1/docker/loop-ops-swarm

NS=loopswarm
VETH_HOST=veth-lswarm
VETH_NS=veth-lswarm-ns
HOST_IP=10.77.1.1
NS_IP=10.77.1.2
SSH_PORT=22
FRONT_PORT=8082
CONTAINER_PORT=8081
NETWORK=loop_swarm
SERVICE=loop-api
FRONT_SERVICE=loop-front
REPLICAS=2
BRANCH=main
BASE_IMAGE=loop-sandbox/base:1
INITIAL_IMAGE=loop-api:swarm-initial
FRONT_IMAGE=loop-sandbox/swarm-front:1
NAS_USER=loopadmin
SCOPED_USER=loopops
SUDOERS=/etc/sudoers.d/loop-sandbox-swarm
GIT_IDENTITY=(GIT_AUTHOR_NAME="Loop Sandbox" GIT_AUTHOR_EMAIL=sandbox@loop.invalid
  GIT_COMMITTER_NAME="Loop Sandbox" GIT_COMMITTER_EMAIL=sandbox@loop.invalid)
INITIAL_DATE="2024-01-01T00:00:00Z"
# Swarm's default pool is 10.0.0.0/8: keep its overlays well away from the veth's 10.77.1.0/30.
ADDR_POOL=10.78.0.0/16

say() { printf '[swarm] %s\n' "$*"; }
die() { printf '[swarm] ERROR: %s\n' "$*" >&2; exit 1; }

as_nas() { (cd / && runuser -u "$NAS_USER" -- env HOME="/home/$NAS_USER" USER="$NAS_USER" LOGNAME="$NAS_USER" "$@"); }
git_nas() { as_nas git "$@"; }
dk() { /usr/bin/docker -H "unix://$SOCKET" "$@"; }
docker_ok() { [[ -S $SOCKET ]] && timeout 10 /usr/bin/docker -H "unix://$SOCKET" info >/dev/null 2>&1; }
# nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup mounts dockerd needs.
in_ns() { nsenter --net="/run/netns/$NS" -- "$@"; }
ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$NS"; }

alive() { [[ -e /proc/$1 ]] && [[ $(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) != Z ]]; }
# pid_of PIDFILE PATTERN: the pid if alive and its command line contains PATTERN.
pid_of() {
  local f=$1 pat=$2 pid
  [[ -r $f ]] || return 1
  pid=$(tr -dc '0-9' < "$f")
  [[ -n $pid ]] && alive "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$pat" || return 1
  printf '%s\n' "$pid"
}
wait_gone() {
  local t=$1; shift
  local deadline=$(( $(date +%s) + t )) p any
  while :; do
    any=0
    for p in "$@"; do alive "$p" && any=1; done
    (( any == 0 )) && return 0
    (( $(date +%s) >= deadline )) && return 1
    sleep 0.1
  done
}
stop_pid() { # NAME PID GRACE
  kill -TERM "$2" 2>/dev/null || true
  if ! wait_gone "$3" "$2"; then
    say "$1 (pid $2) still running after $3 s: KILL"
    kill -KILL "$2" 2>/dev/null || true
    wait_gone 5 "$2" || true
  fi
}
# Processes whose network namespace is ours (what is left once the daemons are asked to stop).
ns_pids() { ns_exists && ip netns pids "$NS" 2>/dev/null || true; }

# Closes every descriptor above 2 of the current (sub)shell, to be called first in `( close_fds; exec DAEMON ) &`:
# a daemon started under `flock FILE …` (the tests' shared lock) or this script's own lock would otherwise hold
# that lock for as long as it lives. Inline, not a function wrapping a subshell: `f &` forks a shell that waits
# for the inner one, with the descriptors still open.
close_fds() {
  local fd
  for fd in $(ls "/proc/$BASHPID/fd"); do
    if (( fd > 2 )); then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

http_get() { curl -fsS --max-time "${2:-3}" "$1"; }

# write_if_changed DEST MODE: stdin to DEST (atomic) unless identical.
write_if_changed() {
  local dest=$1 mode=$2 tmp
  tmp=$(mktemp "$(dirname "$dest")/.tmp.XXXXXX")
  cat > "$tmp"
  if [[ -f $dest ]] && cmp -s "$tmp" "$dest"; then rm -f "$tmp"; chmod "$mode" "$dest"; return 1; fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
}

lock() {
  exec 8> /run/lock/loop-sandbox-swarm.lock
  flock -w 600 8 || die "another swarm.sh is still running"
}

# ---------------------------------------------------------------- namespace

ensure_netns() {
  if ! ns_exists; then ip netns add "$NS"; fi
  if ! ip link show "$VETH_HOST" >/dev/null 2>&1; then
    ip link add "$VETH_HOST" type veth peer name "$VETH_NS"
    ip link set "$VETH_NS" netns "$NS"
  fi
  ip addr replace "$HOST_IP/30" dev "$VETH_HOST"
  ip link set "$VETH_HOST" up
  in_ns ip addr replace "$NS_IP/30" dev "$VETH_NS"
  in_ns ip link set "$VETH_NS" up
  in_ns ip link set lo up
  in_ns ip route replace default via "$HOST_IP" 2>/dev/null || true
  say "netns $NS: $HOST_IP <-> $NS_IP"
}

# ---------------------------------------------------------------- sshd

HOST_FP=
start_sshd() {
  install -d -m 700 "$SSH_DIR"
  if ! ssh-keygen -y -f "$SSH_DIR/ssh_host_ed25519_key" >/dev/null 2>&1; then
    rm -f "$SSH_DIR/ssh_host_ed25519_key"{,.pub}
    ssh-keygen -q -t ed25519 -N '' -C "loop-sandbox-swarm" -f "$SSH_DIR/ssh_host_ed25519_key"
  fi
  local changed=0 pid i
  write_if_changed "$SSH_DIR/sshd_config" 644 <<EOF && changed=1
# sshd of the sandbox Swarm manager (network namespace $NS), started by scripts/sandbox/swarm.sh.
Port $SSH_PORT
ListenAddress $NS_IP
AddressFamily inet
HostKey $SSH_DIR/ssh_host_ed25519_key
PidFile $RUN/sshd.pid
LogLevel INFO
AllowUsers $NAS_USER $SCOPED_USER
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
MaxSessions 10
X11Forwarding no
PrintMotd no
PrintLastLog no
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  install -d -m 755 /run/sshd
  printf '%s %s\n' "$NS_IP" "$(awk '{print $1" "$2}' "$SSH_DIR/ssh_host_ed25519_key.pub")" | write_if_changed "$LOCAL/swarm_known_hosts" 644 || true
  HOST_FP=$(ssh-keygen -lf "$SSH_DIR/ssh_host_ed25519_key.pub" | awk '{print $2}')
  if pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config"); then
    if (( changed )); then kill -HUP "$pid"; say "sshd: config changed, reloaded (pid $pid)"; else say "sshd: running (pid $pid)"; fi
    return
  fi
  /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" || die "sshd config invalid"
  rm -f "$RUN/sshd.pid"
  ( close_fds; exec nsenter --net="/run/netns/$NS" -- /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$LOGS/sshd.log" < /dev/null > /dev/null 2>&1 )
  for (( i = 0; i < 100; i++ )); do
    pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config") && (exec 3<>"/dev/tcp/$NS_IP/$SSH_PORT") 2>/dev/null && break
    pid=
    sleep 0.05
  done
  [[ -n $pid ]] || die "sshd did not start (log $LOGS/sshd.log)"
  say "sshd: started (pid $pid, $NS_IP:$SSH_PORT, host key $HOST_FP)"
}

# ---------------------------------------------------------------- dockerd and the swarm

start_dockerd() {
  local pid i
  if pid=$(pid_of "$RUN/dockerd.pid" dockerd) && docker_ok; then
    say "dockerd: running (pid $pid)"
  else
    if [[ -z ${pid:-} ]]; then
      rm -f "$RUN/dockerd.pid" "$SOCKET"
      # Swarm tasks try a registry pull before using a local image (a 20 s DNS timeout here, no registry):
      # images are built on the manager, so the local one is the one wanted.
      ( close_fds; exec nsenter --net="/run/netns/$NS" -- env DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid /usr/sbin/dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs \
        --data-root "$DOCKER_ROOT" --exec-root "$EXEC_ROOT" --pidfile "$RUN/dockerd.pid" \
        -H "unix://$SOCKET" < /dev/null >> "$LOGS/dockerd.log" 2>&1 ) &
      pid=$!
    fi
    for (( i = 0; i < 600; i++ )); do
      docker_ok && break
      alive "$pid" || { tail -n 20 "$LOGS/dockerd.log" >&2; die "dockerd exited (log $LOGS/dockerd.log)"; }
      sleep 0.1
    done
    docker_ok || die "dockerd did not answer within 60 s (log $LOGS/dockerd.log)"
    say "dockerd: started (pid $pid, unix://$SOCKET)"
  fi
  if [[ $(dk info -f '{{.Swarm.LocalNodeState}}') != active ]]; then
    dk swarm init --advertise-addr "$NS_IP" --listen-addr "$NS_IP:2377" --default-addr-pool "$ADDR_POOL" >/dev/null
    say "swarm: initialised (manager $NS_IP)"
  else
    say "swarm: active"
  fi
  if ! dk network inspect "$NETWORK" >/dev/null 2>&1; then
    dk network create --driver overlay --attachable "$NETWORK" >/dev/null
    say "network $NETWORK: created (overlay, attachable)"
  fi
}

# The product runs `sudo <wrapper> …`: a fixed root-owned program, so sudoers can name it.
write_wrapper() {
  install -d -m 755 "$ROOT/bin"
  write_if_changed "$WRAPPER" 755 <<EOF || true
#!/bin/sh
# Docker CLI of the sandbox Swarm manager (scripts/sandbox/swarm.sh): the Debian CLI on its own socket.
exec /usr/bin/docker -H unix://$SOCKET "\$@"
EOF
  chown root:root "$WRAPPER"
}

# ---------------------------------------------------------------- images

image_label() { dk image inspect -f "{{ index .Config.Labels \"$1\" }}" "$2" 2>/dev/null || true; }

# The busybox base of the sandbox app, moved in from the sandbox NAS (no registry: save | load).
ensure_base_image() {
  local want have
  want=$("$PROD_DOCKER" image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null) || die "$BASE_IMAGE is missing on the sandbox NAS: run scripts/sandbox.sh up first"
  have=$(dk image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
  if [[ $want == "$have" ]]; then say "image $BASE_IMAGE: ok"; return; fi
  "$PROD_DOCKER" save "$BASE_IMAGE" | dk load -q >/dev/null
  say "image $BASE_IMAGE: loaded from the sandbox NAS (docker save | docker load)"
}

front_conf() {
  cat <<EOF
# The swarm front: reaches the tasks of $SERVICE through Docker's DNS (endpoint_mode dnsrr, no VIP).
user nobody nogroup;
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path /tmp/body;
  proxy_temp_path /tmp/proxy;
  fastcgi_temp_path /tmp/fastcgi;
  uwsgi_temp_path /tmp/uwsgi;
  scgi_temp_path /tmp/scgi;
  # Re-resolved every second: tasks that start or stop during an update are picked up or dropped.
  resolver 127.0.0.11 valid=1s ipv6=off;
  resolver_timeout 2s;
  server {
    listen $FRONT_PORT;
    location = /front-health { return 200 "ok\n"; }
    location / {
      # A variable makes nginx resolve at request time (with the resolver above), not once at start.
      set \$backend http://tasks.$SERVICE:$CONTAINER_PORT;
      proxy_pass \$backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 1s;
      proxy_read_timeout 10s;
      # A task stopping between resolution and connect refuses or drops: try another address.
      proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;
      proxy_next_upstream_tries 4;
    }
  }
}
EOF
}

# nginx from the host's Debian package (binary and the libraries it links) on the busybox rootfs, imported.
ensure_front_image() {
  local fp rootfs lib
  fp=$( { sha256sum /usr/sbin/nginx; front_conf; } | sha256sum | cut -c1-16)
  if [[ $(image_label loop-sandbox.fingerprint "$FRONT_IMAGE") == "$fp" ]]; then say "image $FRONT_IMAGE: ok"; return; fi
  rootfs=$(mktemp -d)
  # The base rootfs (busybox, /etc/passwd with nobody), from the copy loaded here: the NAS's dockerd is not touched.
  dk rm -f loop-swarm-front-rootfs >/dev/null 2>&1 || true
  dk create --name loop-swarm-front-rootfs "$BASE_IMAGE" >/dev/null
  dk export loop-swarm-front-rootfs | tar -C "$rootfs" -xf -
  dk rm loop-swarm-front-rootfs >/dev/null
  install -d "$rootfs/usr/sbin" "$rootfs/etc/nginx" "$rootfs/var/log/nginx" "$rootfs/var/lib/nginx" "$rootfs/run"
  cp /usr/sbin/nginx "$rootfs/usr/sbin/nginx"
  for lib in $(ldd /usr/sbin/nginx | grep -o '/[^ ]*'); do
    install -D "$lib" "$rootfs$lib"
  done
  front_conf > "$rootfs/etc/nginx/nginx.conf"
  tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf - . \
    | dk import -c 'CMD ["/usr/sbin/nginx", "-g", "daemon off;", "-c", "/etc/nginx/nginx.conf"]' \
        -c "LABEL loop-sandbox.fingerprint=\"$fp\"" -m "swarm front: Debian nginx on busybox" - "$FRONT_IMAGE" >/dev/null
  rm -rf "$rootfs"
  say "image $FRONT_IMAGE: imported (Debian nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/.*\///'))"
}

# ---------------------------------------------------------------- the app's sources

INITIAL_COMMIT=
ensure_repos() {
  local fp ok=1
  fp=$(tar -C "$APP_SRC" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . | sha256sum | cut -c1-16)
  install -d -m 755 -o "$NAS_USER" -g "$NAS_USER" "$APP_DIR" "$OPS_STATE"
  local d
  for d in "$CHECKOUT" "$ORIGIN"; do
    git config --system --get-all safe.directory 2>/dev/null | grep -qxF "$d" || git config --system --add safe.directory "$d"
  done
  [[ -f $ROOT/app-fingerprint && $(< "$ROOT/app-fingerprint") == "$fp" && -s $ROOT/initial-commit ]] || ok=0
  if (( ok )); then
    INITIAL_COMMIT=$(< "$ROOT/initial-commit")
    git_nas -C "$ORIGIN" cat-file -e "$INITIAL_COMMIT^{commit}" 2>/dev/null || ok=0
    git_nas -C "$CHECKOUT" rev-parse -q --verify HEAD >/dev/null 2>&1 || ok=0
  fi
  if (( ok )); then say "checkout: ok ($CHECKOUT, initial ${INITIAL_COMMIT:0:12})"; return; fi
  rm -rf "$ORIGIN" "$CHECKOUT"
  install -d -m 755 -o "$NAS_USER" -g "$NAS_USER" "$ORIGIN" "$CHECKOUT"
  git_nas init -q --bare -b "$BRANCH" "$ORIGIN"
  git_nas init -q -b "$BRANCH" "$CHECKOUT"
  cp -R "$APP_SRC/." "$CHECKOUT/"
  chown -R "$NAS_USER:$NAS_USER" "$CHECKOUT"
  git_nas -C "$CHECKOUT" add -A
  as_nas env "${GIT_IDENTITY[@]}" GIT_AUTHOR_DATE="$INITIAL_DATE" GIT_COMMITTER_DATE="$INITIAL_DATE" \
    git -C "$CHECKOUT" commit -q -m "loop-api sandbox app $(head -n1 "$APP_SRC/VERSION")"
  git_nas -C "$CHECKOUT" remote add origin "$ORIGIN"
  git_nas -C "$CHECKOUT" push -q -u origin "$BRANCH"
  INITIAL_COMMIT=$(git_nas -C "$CHECKOUT" rev-parse HEAD)
  printf '%s\n' "$INITIAL_COMMIT" > "$ROOT/initial-commit"
  printf '%s\n' "$fp" > "$ROOT/app-fingerprint"
  say "checkout: initial commit ${INITIAL_COMMIT:0:12}, origin $ORIGIN"
}

# Both NAS users work on the app's files and the state dir, whoever created a file.
share_dirs() {
  local d
  for d in "$APP_DIR" "$OPS_STATE"; do
    setfacl -R -m "u:$SCOPED_USER:rwX,u:$NAS_USER:rwX" "$d"
    find "$d" -type d -exec setfacl -m "d:u:$SCOPED_USER:rwX,d:u:$NAS_USER:rwX" {} +
  done
}

# The initial image, labelled as the product labels what it builds (loop-ops.app/version/commit).
ensure_initial_image() {
  local version
  if [[ $(image_label loop-sandbox.commit "$INITIAL_IMAGE") == "$INITIAL_COMMIT" ]]; then say "image $INITIAL_IMAGE: ok"; return; fi
  version=$(git_nas -C "$ORIGIN" show "$INITIAL_COMMIT:VERSION" | head -n1)
  git_nas -C "$ORIGIN" archive --format=tar "$INITIAL_COMMIT" \
    | dk build -q -t "$INITIAL_IMAGE" --label "loop-sandbox.commit=$INITIAL_COMMIT" \
        --label "loop-ops.app=$SERVICE" --label "loop-ops.version=$version" --label "loop-ops.commit=$INITIAL_COMMIT" - >/dev/null
  say "image $INITIAL_IMAGE: built from ${INITIAL_COMMIT:0:12}"
}

# ---------------------------------------------------------------- services

service_exists() { dk service inspect "$1" >/dev/null 2>&1; }

create_app_service() {
  # Health-gated start-first rolling update, one task at a time, rolled back automatically on failure.
  dk service create -d -q --name "$SERVICE" --replicas "$REPLICAS" --endpoint-mode dnsrr --network "$NETWORK" \
    --label "loop-ops.app=$SERVICE" --env COLOR=swarm --no-resolve-image \
    --update-order start-first --update-parallelism 1 --update-delay 1s --update-monitor 5s \
    --update-failure-action rollback --update-max-failure-ratio 0 \
    --rollback-order start-first --rollback-parallelism 1 --rollback-monitor 5s --rollback-failure-action pause \
    --restart-condition any --restart-delay 1s --stop-grace-period 10s \
    "$INITIAL_IMAGE" >/dev/null
  say "service $SERVICE: created ($REPLICAS replicas, dnsrr, start-first, rollback on failure)"
}

create_front_service() {
  dk service create -d -q --name "$FRONT_SERVICE" --mode global --network "$NETWORK" --no-resolve-image \
    --publish "mode=host,target=$FRONT_PORT,published=$FRONT_PORT" --restart-condition any \
    "$FRONT_IMAGE" >/dev/null
  say "service $FRONT_SERVICE: created (host-mode $NS_IP:$FRONT_PORT)"
}

ensure_services() {
  if ! service_exists "$SERVICE"; then create_app_service; else say "service $SERVICE: exists"; fi
  if service_exists "$FRONT_SERVICE" && [[ $(dk service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$FRONT_SERVICE") != "$FRONT_IMAGE" || $(dk image inspect -f '{{.Id}}' "$FRONT_IMAGE") != "$(cat "$ROOT/front-image-id" 2>/dev/null)" ]]; then
    dk service rm "$FRONT_SERVICE" >/dev/null
    sleep 1
  fi
  if ! service_exists "$FRONT_SERVICE"; then
    create_front_service
    dk image inspect -f '{{.Id}}' "$FRONT_IMAGE" > "$ROOT/front-image-id"
  else
    say "service $FRONT_SERVICE: exists"
  fi
}

FRONT_BODY=
wait_front() { # SECONDS [PATTERN]
  local t=$1 pat=${2:-'"status":"ok"'} deadline
  deadline=$(( $(date +%s) + t ))
  while (( $(date +%s) < deadline )); do
    if FRONT_BODY=$(http_get "http://$NS_IP:$FRONT_PORT/health" 2 2>/dev/null) && [[ $FRONT_BODY == *$pat* ]]; then return 0; fi
    sleep 0.5
  done
  return 1
}

# ---------------------------------------------------------------- facts, sudoers

write_facts() {
  local version
  version=$(git_nas -C "$ORIGIN" show "$INITIAL_COMMIT:VERSION" | head -n1)
  # Today's single-target config format pointing at the swarm manager: what `loop-ops-mcp sudoers` reads,
  # and what the swarm driver's tests build their SSH pool and Docker engine from.
  write_if_changed "$LOCAL/swarm-config.yaml" 644 <<EOF || true
# Generated by scripts/sandbox/swarm.sh for the sandbox Swarm manager. Do not edit.
nas:
  host: $NS_IP
  port: $SSH_PORT
  username: $SCOPED_USER
  privateKeyPath: $LOCAL/id_ed25519
  hostKeyFingerprint: "$HOST_FP"
  knownHostsPath: $LOCAL/swarm_known_hosts
sudo:
  mode: password
  passwordFile: $LOCAL/secrets/sudo-password
docker:
  binary: $WRAPPER
app:
  name: $SERVICE
  checkoutDir: $CHECKOUT
  frontPort: $FRONT_PORT
  containerPort: $CONTAINER_PORT
  healthPath: /health
  network: $NETWORK
  vaultPath: $APP_DIR/vault
  oauthKeysDir: $APP_DIR/vault/oauth-keys
  dbPath: $APP_DIR/vault/loop.db
  watch: []
  publicHealthUrl: http://$NS_IP:$FRONT_PORT/health
nginx:
  upstreamFile: $APP_DIR/upstream-unused.conf
  useSudo: false
state:
  dir: $OPS_STATE
EOF
  write_if_changed "$LOCAL/swarm.json" 644 <<EOF || true
{
  "driver": "swarm",
  "configPath": "$LOCAL/swarm-config.yaml",
  "script": "$REPO_ROOT/scripts/sandbox/swarm.sh",
  "namespace": "$NS",
  "ssh": {
    "host": "$NS_IP",
    "port": $SSH_PORT,
    "username": "$SCOPED_USER",
    "privateKeyPath": "$LOCAL/id_ed25519",
    "knownHostsPath": "$LOCAL/swarm_known_hosts",
    "hostKeyFingerprint": "$HOST_FP"
  },
  "adminUser": "$NAS_USER",
  "sudoPasswordFile": "$LOCAL/secrets/sudo-password",
  "sudoers": "$SUDOERS",
  "dockerBinary": "$WRAPPER",
  "dockerSocket": "$SOCKET",
  "stateDir": "$OPS_STATE",
  "network": "$NETWORK",
  "apps": {
    "loop-api": {
      "strategy": "swarm-service",
      "service": "$SERVICE",
      "replicas": $REPLICAS,
      "checkoutDir": "$CHECKOUT",
      "originRepo": "$ORIGIN",
      "branch": "$BRANCH",
      "initialCommit": "$INITIAL_COMMIT",
      "initialVersion": "$version",
      "initialImage": "$INITIAL_IMAGE",
      "containerPort": $CONTAINER_PORT,
      "healthPath": "/health",
      "frontService": "$FRONT_SERVICE",
      "frontUrl": "http://$NS_IP:$FRONT_PORT",
      "publicHealthUrl": "http://$NS_IP:$FRONT_PORT/health"
    }
  },
  "logDir": "$LOGS"
}
EOF
  say "facts: $LOCAL/swarm.json, $LOCAL/swarm-config.yaml"
}

# The scoped user's root commands on the swarm host, generated by the product from the config it runs with
# (a file of its own beside the sandbox NAS's: rules add up).
write_sudoers() {
  local tsx=$REPO_ROOT/node_modules/.bin/tsx tmp
  [[ -x $tsx ]] || die "$tsx is missing: run 'npm ci' first"
  tmp=$(mktemp)
  "$tsx" "$REPO_ROOT/src/cli.ts" sudoers --config "$LOCAL/swarm-config.yaml" --user "$SCOPED_USER" > "$tmp" || { rm -f "$tmp"; die "loop-ops-mcp sudoers failed"; }
  visudo -cqf "$tmp" || { rm -f "$tmp"; die "the generated sudoers file is invalid"; }
  if write_if_changed "$SUDOERS" 440 < "$tmp"; then say "sudo: $SUDOERS written"; fi
  chown root:root "$SUDOERS"
  rm -f "$tmp"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  [[ -s $SECRETS/id_ed25519 && -s $LOCAL/id_ed25519 ]] || die "the sandbox NAS's key is missing: run scripts/sandbox.sh up"
  id -u "$SCOPED_USER" >/dev/null 2>&1 || die "user $SCOPED_USER is missing: run scripts/sandbox.sh up"
  lock
  install -d -m 755 "$ROOT" "$RUN" "$LOGS" "$EXEC_ROOT"
  ensure_netns
  start_sshd
  start_dockerd
  write_wrapper
  ensure_repos
  share_dirs
  ensure_base_image
  ensure_initial_image
  ensure_front_image
  ensure_services
  wait_front 90 || die "the swarm front http://$NS_IP:$FRONT_PORT/health does not answer (services: $(dk service ls --format '{{.Name}} {{.Replicas}}' | tr '\n' ' '))"
  write_facts
  write_sudoers
  say "up: front http://$NS_IP:$FRONT_PORT/health answers $FRONT_BODY; ssh $SCOPED_USER@$NS_IP:$SSH_PORT; docker $WRAPPER"
}

cmd_reset() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  lock
  docker_ok || die "the swarm dockerd is not running; run up first"
  INITIAL_COMMIT=$(< "$ROOT/initial-commit")
  local name img
  chown -R "$NAS_USER:$NAS_USER" "$ORIGIN" "$CHECKOUT"
  git_nas -C "$ORIGIN" update-ref "refs/heads/$BRANCH" "$INITIAL_COMMIT"
  while read -r name; do
    [[ -z $name || $name == "refs/heads/$BRANCH" ]] || git_nas -C "$ORIGIN" update-ref -d "$name"
  done < <(git_nas -C "$ORIGIN" for-each-ref --format='%(refname)')
  git_nas -C "$CHECKOUT" fetch -q --prune --prune-tags origin
  git_nas -C "$CHECKOUT" checkout -q -f -B "$BRANCH" "$INITIAL_COMMIT"
  git_nas -C "$CHECKOUT" reset -q --hard "$INITIAL_COMMIT"
  git_nas -C "$CHECKOUT" clean -q -fdx
  git_nas -C "$CHECKOUT" branch -q -u "origin/$BRANCH" "$BRANCH"
  find "$OPS_STATE" -mindepth 1 -delete
  share_dirs
  # A fresh service from the initial image (no previous spec to roll back to), then the old images go.
  if service_exists "$SERVICE"; then dk service rm "$SERVICE" >/dev/null; fi
  local i
  for (( i = 0; i < 100; i++ )); do
    [[ -z $(dk ps -aq --filter "label=com.docker.swarm.service.name=$SERVICE") ]] && break
    sleep 0.2
  done
  create_app_service
  while read -r img; do
    [[ -z $img || $img == "$INITIAL_IMAGE" ]] || dk rmi "$img" >/dev/null 2>&1 || true
  done < <(dk images --format '{{.Repository}}:{{.Tag}}' loop-api)
  wait_front 60 '"version":"'"$(git_nas -C "$ORIGIN" show "$INITIAL_COMMIT:VERSION" | head -n1)"'"' || die "the front does not serve the initial version"
  # Both replicas up before anyone measures anything.
  for (( i = 0; i < 120; i++ )); do
    [[ $(dk service ls --filter "name=$SERVICE" --format '{{.Replicas}}') == "$REPLICAS/$REPLICAS" ]] && break
    sleep 0.5
  done
  say "reset: $SERVICE at ${INITIAL_COMMIT:0:12} ($(dk service ls --filter "name=$SERVICE" --format '{{.Replicas}}'))"
}

cmd_down() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  local purge=0
  [[ ${1:-} == --purge ]] && purge=1
  lock
  local pid p left
  if pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config"); then stop_pid sshd "$pid" 10; say "sshd: stopped"; fi
  if pid=$(pid_of "$RUN/dockerd.pid" dockerd); then
    # Tasks would restart on the next start anyway; stopping the daemon stops containerd, shims and proxies.
    stop_pid dockerd "$pid" 60
    say "dockerd: stopped"
  fi
  # Whatever still lives in the namespace (session children, shims, docker-proxy).
  for p in $(ns_pids); do alive "$p" && kill -TERM "$p" 2>/dev/null; done
  # shellcheck disable=SC2046
  if ! wait_gone 10 $(ns_pids); then for p in $(ns_pids); do kill -KILL "$p" 2>/dev/null || true; done; fi
  # Mounts dockerd left under its roots (netns files, overlay sandboxes).
  { grep -oE " ($EXEC_ROOT|$DOCKER_ROOT)[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r p; do umount -l "$p" 2>/dev/null || true; done
  if ip link show "$VETH_HOST" >/dev/null 2>&1; then ip link del "$VETH_HOST"; fi
  if ns_exists; then ip netns del "$NS"; fi
  left=$(pgrep -f -- "$RUN/dockerd.pid|$SSH_DIR/sshd_config|$EXEC_ROOT" || true)
  [[ -z $left ]] || die "down: still running: $left"
  say "down: namespace $NS, veth, sshd and dockerd gone"
  if (( purge )); then
    rm -rf "$ROOT" "$APP_DIR" "$OPS_STATE" "$LOCAL/swarm.json" "$LOCAL/swarm-config.yaml" "$LOCAL/swarm_known_hosts"
    rm -f "$SUDOERS"
    say "down --purge: removed $ROOT, the swarm app's checkout and state, its facts and $SUDOERS"
  fi
}

cmd_status() {
  local all=0 pid body
  report() { printf '%-11s %s\n' "$1" "$2"; }
  if ns_exists; then report swarm-ns "$NS ($NS_IP)"; else report swarm-ns "missing"; return 1; fi
  if pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config"); then report swarm-sshd "running pid $pid $NS_IP:$SSH_PORT"; else report swarm-sshd stopped; all=1; fi
  if pid=$(pid_of "$RUN/dockerd.pid" dockerd) && docker_ok; then
    report swarm-dockerd "running pid $pid, swarm $(dk info -f '{{.Swarm.LocalNodeState}}'), $SERVICE $(dk service ls --filter "name=$SERVICE" --format '{{.Replicas}}' 2>/dev/null)"
  else report swarm-dockerd stopped; all=1; fi
  if body=$(http_get "http://$NS_IP:$FRONT_PORT/health" 2 2>/dev/null); then report swarm-front "up http://$NS_IP:$FRONT_PORT/health $body"
  else report swarm-front "down http://$NS_IP:$FRONT_PORT/health"; all=1; fi
  if [[ -s $LOCAL/swarm.json && -s $SUDOERS ]]; then report swarm-facts "$LOCAL/swarm.json"; else report swarm-facts "missing"; all=1; fi
  return "$all"
}

cmd_commit() {
  [[ $(id -u) == 0 ]] || die "must run as root"
  local msg="test commit" kv file content tmp sha
  local -a sets=()
  while (( $# )); do
    case $1 in
      -m) msg=$2; shift 2 ;;
      *=*) sets+=("$1"); shift ;;
      *) die "commit: expected FILE=CONTENT or -m MSG, got '$1'" ;;
    esac
  done
  (( ${#sets[@]} )) || die "commit: nothing to change"
  tmp=$(mktemp -d)
  chown "$NAS_USER:$NAS_USER" "$tmp"
  git_nas clone -q -b "$BRANCH" "$ORIGIN" "$tmp/w"
  for kv in "${sets[@]}"; do
    file=${kv%%=*}; content=${kv#*=}
    [[ $file != /* && $file != *..* ]] || die "commit: bad path $file"
    # shellcheck disable=SC2016
    as_nas sh -c 'mkdir -p "$(dirname "$1")" && printf "%s\n" "$2" > "$1"' sh "$tmp/w/$file" "$content"
  done
  git_nas -C "$tmp/w" add -A
  as_nas env "${GIT_IDENTITY[@]}" git -C "$tmp/w" commit -q --allow-empty -m "$msg"
  git_nas -C "$tmp/w" push -q origin "HEAD:$BRANCH"
  sha=$(git_nas -C "$tmp/w" rev-parse HEAD)
  rm -rf "$tmp"
  printf '%s\n' "$sha"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  reset) shift; cmd_reset "$@" ;;
  commit) shift; cmd_commit "$@" ;;
  *) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
