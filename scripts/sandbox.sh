#!/usr/bin/env bash
# The sandbox NAS: local stand-ins for the owner's Synology (Docker + OpenSSH + nginx + password sudo),
# as two hosts: `prod` (this machine's loopback) and `staging` (its own network namespace).
#
#   bash scripts/sandbox.sh up              install what is missing, start everything (idempotent)
#   bash scripts/sandbox.sh status          one line per component; exit 0 if all up, 1 otherwise
#   bash scripts/sandbox.sh reset [--target NAME] [--app NAME]
#                                           put the apps back to their initial state (loop-api blue and
#                                           loop-auth, each at its initial commit); every host and both
#                                           apps by default
#   bash scripts/sandbox.sh down [--purge]  stop everything `up` started; --purge also deletes all data
#   bash scripts/sandbox.sh commit [--target NAME] [--app NAME] [-m MSG] FILE=CONTENT...
#                                           push a new commit to an app's origin (for tests; default
#                                           target prod, app loop-api); prints the new commit sha
#
# Needs root and Debian (apt). Everything lives under /var/lib/loop-sandbox (staging under its
# staging/ subdirectory); the per-clone facts (key, known_hosts, sudo password, config.yaml,
# config-single.yaml and config-single-<host>.yaml, sandbox.json) go to <repo>/.sandbox/.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TPL=$REPO_ROOT/scripts/sandbox
APP_SRC=$REPO_ROOT/test/sandbox/app
AUTH_SRC=$REPO_ROOT/test/sandbox/auth
LOCAL=$REPO_ROOT/.sandbox
# shellcheck source=sandbox/netns.sh
source "$TPL/netns.sh"

ROOT=/var/lib/loop-sandbox
SECRETS=$ROOT/secrets
HOSTS=(prod staging)

# use_host NAME: point the per-host variables below at one sandbox host. Every step of up, reset,
# status and down works on the current host; paths keep prod's layout under the host's root.
use_host() {
  HOST=$1
  case $HOST in
    prod)
      HROOT=$ROOT
      NS=                       # this machine's own network
      IN_NS=()
      HOST_ADDR=127.0.0.1       # where sshd and the nginx front listen
      SSH_PORT=2222
      DOCKER=/usr/bin/docker
      DOCKER_SOCK=/var/run/docker.sock
      DOCKER_EXEC_ROOT=/var/run/docker
      SCOPED_SUDOERS=/etc/sudoers.d/loop-sandbox-scoped ;;
    staging)
      HROOT=$ROOT/staging
      NS=loopstg
      IN_NS=(nsenter "--net=/run/netns/$NS" --)   # prefix that starts a daemon in the namespace
      NS_HOST_IF=vstg0 NS_HOST_CIDR=10.77.0.1/30 NS_IF=vstg1 NS_CIDR=10.77.0.2/30
      HOST_ADDR=10.77.0.2
      SSH_PORT=22
      # The product reaches a Docker engine through a binary path only: staging's is a wrapper
      # (root-owned) that points the docker CLI at staging's daemon.
      DOCKER=$HROOT/bin/docker
      DOCKER_SOCK=/run/loop-staging/docker.sock
      DOCKER_EXEC_ROOT=/run/loop-staging/exec
      SCOPED_SUDOERS=/etc/sudoers.d/loop-sandbox-scoped-staging ;;
    *) die "unknown target '$HOST' (known: ${HOSTS[*]})" ;;
  esac
  SSH_HOST=$HOST_ADDR
  RUN=$HROOT/run
  LOGS=$HROOT/log
  STATE=$HROOT/state
  SSH_DIR=$HROOT/ssh
  NGINX_DIR=$HROOT/nginx
  NGINX_CONF=$NGINX_DIR/nginx.conf
  UPSTREAM_DIR=$NGINX_DIR/upstream
  UPSTREAM_FILE=$UPSTREAM_DIR/loop-api.conf
  DOCKER_ROOT=$HROOT/docker
  CONTAINERD_PIDFILE=$DOCKER_EXEC_ROOT/containerd/containerd.pid
  CONTAINERD_ADDR=$DOCKER_EXEC_ROOT/containerd/containerd.sock
  VOLUME1=$HROOT/volume1
  APP_DIR=$VOLUME1/docker/loop-api
  CHECKOUT=$APP_DIR/src
  ORIGIN=$APP_DIR/origin.git
  VAULT=$APP_DIR/vault
  AUTH_DIR=$VOLUME1/docker/loop-auth
  AUTH_CHECKOUT=$AUTH_DIR/src
  AUTH_ORIGIN=$AUTH_DIR/origin.git
  # loop-ops-mcp's state: one dir per app under STATE_ROOT, except prod's loop-api, which keeps the dir
  # the single-target config has always used (STATE_ROOT itself), so both config files lock the same files.
  STATE_ROOT=$VOLUME1/docker/loop-ops
  if [[ $HOST == prod ]]; then OPS_STATE=$STATE_ROOT; else OPS_STATE=$STATE_ROOT/loop-api; fi
  AUTH_STATE=$STATE_ROOT/loop-auth
  FRONT_URL=http://$HOST_ADDR:$FRONT_PORT
  if [[ $HOST == prod ]]; then KNOWN_HOSTS=$LOCAL/known_hosts; else KNOWN_HOSTS=$LOCAL/known_hosts-$HOST; fi
}

NAS_USER=loopadmin      # full password sudo, like a Synology admin: owns the app files; the owner's-way benchmark logs in as it
NAS_HOME=/home/$NAS_USER
# The user loop-ops-mcp and the tests log in as: same key and password, but sudo scoped to exactly the
# root commands the product runs (the file `loop-ops-mcp sudoers` prints, installed as SCOPED_SUDOERS).
SCOPED_USER=loopops
SCOPED_HOME=/home/$SCOPED_USER
LEGACY_SSH_PORT=2022   # password login allowed, for the owner's-way benchmark only
FRONT_PORT=8082
CONTAINER_PORT=8081
BLUE_PORT=18081
GREEN_PORT=18082
AUTH_PORT=18090
AUTH_CONTAINER_PORT=8080
NETWORK=loop_default
BRANCH=main
BASE_IMAGE=loop-sandbox/base:1
INITIAL_IMAGE=loop-api:sandbox-initial
AUTH_INITIAL_IMAGE=loop-auth:sandbox-initial
# The image earlier versions of this script ran loop-auth from: kept (never pruned) so that an older
# copy of the script adopting the sandbox finds it and leaves the running loop-auth alone.
LEGACY_AUTH_IMAGE=loop-auth:sandbox
PACKAGES=(docker.io openssh-server nginx sudo busybox-static git sshpass acl iproute2)   # iproute2: the staging and swarm hosts' namespaces
# Fixed identity and dates make the initial commit's sha a function of the app's content.
GIT_IDENTITY=(GIT_AUTHOR_NAME="Loop Sandbox" GIT_AUTHOR_EMAIL=sandbox@loop.invalid
  GIT_COMMITTER_NAME="Loop Sandbox" GIT_COMMITTER_EMAIL=sandbox@loop.invalid)
INITIAL_DATE="2024-01-01T00:00:00Z"

T0=$(date +%s%N)
HOST=prod
# Messages about staging say so; prod's read as they always have.
say() { if [[ $HOST == prod ]]; then printf '[sandbox] %s\n' "$*"; else printf '[sandbox:%s] %s\n' "$HOST" "$*"; fi; }
warn() { printf '[sandbox] WARNING: %s\n' "$*" >&2; }
die() { printf '[sandbox] ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { printf '%d.%01ds' $(( ($(date +%s%N) - T0) / 1000000000 )) $(( ($(date +%s%N) - T0) / 100000000 % 10 )); }

CLEANUP=()
cleanup() {
  local c
  for c in "${CLEANUP[@]+"${CLEANUP[@]}"}"; do eval "$c" || true; done
}
trap cleanup EXIT

# ---------------------------------------------------------------- helpers

# Run a command as the NAS user, with its own HOME and a cwd it can read.
as_nas() { (cd / && runuser -u "$NAS_USER" -- env HOME="$NAS_HOME" USER="$NAS_USER" LOGNAME="$NAS_USER" "$@"); }
git_nas() { as_nas git "$@"; }

# pid_of PIDFILE PATTERN: print the pid if it is alive, not a zombie, and its command line contains PATTERN.
pid_of() {
  local f=$1 pat=$2 pid state
  [[ -r $f ]] || return 1
  pid=$(tr -dc '0-9' < "$f")
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 1
  state=$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || return 1
  [[ $state != Z ]] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF -- "$pat" || return 1
  printf '%s\n' "$pid"
}

# live_pids REGEX: pids (not zombies) whose command line matches REGEX (pgrep -f).
live_pids() {
  local pat=$1 p state
  for p in $(pgrep -f -- "$pat" || true); do
    [[ $p == "$$" || $p == "$BASHPID" ]] && continue
    state=$(awk '/^State:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
    [[ $state == Z ]] && continue
    printf '%s\n' "$p"
  done
  return 0
}

# live_by_name NAME: pids (not zombies) whose process name is exactly NAME.
live_by_name() {
  local q
  for q in $(pgrep -x -- "$1" || true); do
    if alive "$q"; then printf '%s\n' "$q"; fi
  done
  return 0
}

children_of() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' || true; }

# descendants_of PID: all descendants, deepest last.
descendants_of() {
  local c
  for c in $(children_of "$1"); do
    printf '%s\n' "$c"
    descendants_of "$c"
  done
}

alive() { [[ -e /proc/$1 ]] && [[ $(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) != Z ]]; }

# wait_gone SECONDS PID...: wait until all pids are gone; return 1 on timeout.
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

# port_open PORT: does the current host listen on PORT (at its address; reachable from this machine)?
port_open() { (exec 3<>"/dev/tcp/$HOST_ADDR/$1") 2>/dev/null; }

# on_host CMD...: run CMD in the current host's network (its own namespace for staging).
on_host() { netns_exec "$NS" "$@"; }

http_get() { # URL [timeout]: body on stdout, non-zero on connection failure or HTTP >= 400
  local url=$1 t=${2:-3}
  if command -v curl >/dev/null; then curl -fsS --max-time "$t" "$url"
  elif command -v wget >/dev/null; then wget -q -T "$t" -O - "$url"
  else node -e 'fetch(process.argv[1],{signal:AbortSignal.timeout(+process.argv[2]*1000)}).then(async r=>{process.stdout.write(await r.text());process.exit(r.ok?0:22)},()=>process.exit(7))' "$url" "$t"
  fi
}

# write_file DEST MODE [OWNER]: content from stdin; atomic (rename); only replaces DEST if the content
# differs. Sets CHANGED=1 if it did, 0 otherwise.
CHANGED=0
write_file() {
  local dest=$1 mode=$2 owner=${3:-} tmp
  tmp=$(mktemp "$(dirname "$dest")/.tmp.XXXXXX")
  cat > "$tmp"
  if [[ -f $dest ]] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
    chmod "$mode" "$dest"
    if [[ -n $owner ]]; then chown "$owner" "$dest"; fi
    CHANGED=0
  else
    chmod "$mode" "$tmp"
    if [[ -n $owner ]]; then chown "$owner" "$tmp"; fi
    mv -f "$tmp" "$dest"
    CHANGED=1
  fi
}

docker_ok() { [[ -x $DOCKER ]] && timeout 10 "$DOCKER" info >/dev/null 2>&1; }
dk() { "$DOCKER" "$@"; }
image_exists() { dk image inspect "$1" >/dev/null 2>&1; }
image_label() { dk image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }
container_state() { local s; s=$(dk inspect -f '{{.State.Status}}' "$1" 2>/dev/null) && echo "$s" || echo missing; }
container_health() {
  local s; s=$(dk inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$1" 2>/dev/null) && echo "$s" || echo missing
}

# Fingerprint of a directory's content and modes (decides whether images/repos must be rebuilt).
dir_fingerprint() {
  tar -C "$1" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . | sha256sum | cut -c1-16
}

# detached CMD...: exec CMD with no inherited descriptor but 0-2. A daemon must not keep a lock file open:
# neither ours (fd 9) nor one held around this script (`flock /tmp/loop-ops-sandbox.lock sandbox.sh up`,
# as the tests do), or that lock would stay taken for as long as the daemon lives.
detached() {
  ( close_inherited_fds; exec "$@" )
}

# In the current (sub)shell: close every descriptor but 0-2. Backgrounded daemons run
# `( close_inherited_fds; exec CMD ) &` so that no shell stays behind holding a lock.
close_inherited_fds() {
  local fd
  for fd in $(ls "/proc/$BASHPID/fd"); do
    if (( fd > 2 )); then eval "exec $fd>&-"; fi
  done
}

# Serialise up/down/reset.
lock() {
  local f=/run/lock/loop-sandbox.lock
  exec 9> "$f"
  if ! flock -n 9; then
    say "waiting for another sandbox.sh (lock $f)"
    flock -w 900 9 || die "another sandbox.sh is still running (lock $f)"
  fi
}

require_root() {
  [[ $(id -u) == 0 ]] || die "must run as root (it installs packages and starts dockerd, sshd, nginx)"
}

# ---------------------------------------------------------------- 1. packages

install_packages() {
  local p need=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || need+=("$p")
  done
  if (( ${#need[@]} == 0 )); then
    say "packages: ok"
    return
  fi
  command -v apt-get >/dev/null || die "apt-get not found; cannot install ${need[*]}"
  say "packages: installing ${need[*]} (log $LOGS/apt.log)"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    # Keep package scripts from starting the system's dockerd/sshd/nginx: we run our own instances.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    CLEANUP+=("rm -f /usr/sbin/policy-rc.d")
  fi
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${need[@]}"; } >> "$LOGS/apt.log" 2>&1; then
    tail -n 30 "$LOGS/apt.log" >&2
    die "apt-get failed"
  fi
  if (( ${#CLEANUP[@]} )) && [[ ${CLEANUP[-1]} == "rm -f /usr/sbin/policy-rc.d" ]]; then
    rm -f /usr/sbin/policy-rc.d
    unset 'CLEANUP[-1]'
  fi
  say "packages: installed ($(elapsed))"
}

# ---------------------------------------------------------------- 2. the host's network, dockerd

# Staging lives in its own network namespace, reached from this machine over a veth pair.
ensure_netns() {
  [[ -n $NS ]] || return 0
  netns_ensure "$NS" "$NS_HOST_IF" "$NS_HOST_CIDR" "$NS_IF" "$NS_CIDR" || die "could not set up network namespace $NS"
  say "netns $NS: ok ($NS_HOST_IF ${NS_HOST_CIDR} <-> $NS_IF ${NS_CIDR})"
}

# Staging's docker binary for the product: root-owned, not writable by the NAS users (sudo runs it).
ensure_docker_wrapper() {
  [[ $DOCKER != /usr/bin/docker ]] || return 0
  install -d -m 755 -o root -g root "$(dirname "$DOCKER")"
  write_file "$DOCKER" 755 root:root <<EOF
#!/bin/sh
# The docker CLI of the sandbox host '$HOST' (its own dockerd); written by scripts/sandbox.sh.
exec /usr/bin/docker -H unix://$DOCKER_SOCK "\$@"
EOF
}

start_dockerd() {
  local pid i
  if pid=$(pid_of "$RUN/dockerd.pid" dockerd) && docker_ok; then
    say "dockerd: running (pid $pid)"
    return
  fi
  if [[ -z ${pid:-} ]] && docker_ok; then
    die "a Docker daemon not started by the sandbox already answers on $DOCKER_SOCK; stop it first"
  fi
  if [[ -z ${pid:-} ]]; then
    rm -f "$RUN/dockerd.pid"
    install -d -m 755 "$(dirname "$DOCKER_SOCK")"
    # One process: the subshell closes what it inherited (our lock on fd 9, any caller's) and becomes
    # dockerd. `detached … &` would leave a waiting shell holding the lock for the daemon's lifetime.
    ( close_inherited_fds; exec setsid "${IN_NS[@]}" /usr/sbin/dockerd --iptables=false --bridge=none --storage-driver=vfs \
      --data-root "$DOCKER_ROOT" --exec-root "$DOCKER_EXEC_ROOT" --pidfile "$RUN/dockerd.pid" \
      -H "unix://$DOCKER_SOCK" ) < /dev/null >> "$LOGS/dockerd.log" 2>&1 &
    pid=$!
  fi
  for (( i = 0; i < 600; i++ )); do
    docker_ok && break
    alive "$pid" || { tail -n 20 "$LOGS/dockerd.log" >&2; die "dockerd exited (log $LOGS/dockerd.log)"; }
    sleep 0.1
  done
  docker_ok || die "dockerd did not answer within 60s (log $LOGS/dockerd.log)"
  say "dockerd: started (pid $pid, log $LOGS/dockerd.log)"
}

# ---------------------------------------------------------------- 3. NAS user, key, sudo password

ensure_user() {
  if ! id -u "$NAS_USER" >/dev/null 2>&1; then
    useradd -m -s /bin/bash -c "Sandbox NAS admin" "$NAS_USER"
    say "user: created $NAS_USER"
  fi
  [[ $(getent passwd "$NAS_USER" | cut -d: -f7) == /bin/bash ]] || usermod -s /bin/bash "$NAS_USER"
  install -d -m 700 -o "$NAS_USER" -g "$NAS_USER" "$NAS_HOME/.ssh"

  install -d -m 700 "$SECRETS"
  # Canonical key and password live under $SECRETS; every clone gets a copy in its .sandbox/.
  if ! ssh-keygen -y -f "$SECRETS/id_ed25519" >/dev/null 2>&1; then
    if [[ -f $LOCAL/id_ed25519 ]] && ssh-keygen -y -f "$LOCAL/id_ed25519" >/dev/null 2>&1; then
      install -m 600 "$LOCAL/id_ed25519" "$SECRETS/id_ed25519"
      say "key: adopted $LOCAL/id_ed25519"
    else
      rm -f "$SECRETS/id_ed25519" "$SECRETS/id_ed25519.pub"
      ssh-keygen -q -t ed25519 -N '' -C "loop-sandbox" -f "$SECRETS/id_ed25519"
      say "key: generated ed25519 key"
    fi
  fi
  local pub
  pub=$(ssh-keygen -y -f "$SECRETS/id_ed25519" | awk '{print $1" "$2}')
  write_file "$SECRETS/id_ed25519.pub" 644 < <(printf '%s loop-sandbox\n' "$pub")
  write_file "$NAS_HOME/.ssh/authorized_keys" 600 "$NAS_USER:$NAS_USER" < <(printf '%s loop-sandbox\n' "$pub")
  if (( CHANGED )); then say "key: authorized for $NAS_USER"; fi

  if [[ ! -s $SECRETS/sudo-password ]]; then
    local pw
    if [[ -s $LOCAL/secrets/sudo-password ]]; then
      pw=$(< "$LOCAL/secrets/sudo-password")
      say "sudo password: adopted $LOCAL/secrets/sudo-password"
    else
      pw=$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
      pw=${pw:0:24}
      say "sudo password: generated"
    fi
    (umask 077; printf '%s' "$pw" > "$SECRETS/sudo-password")
  fi
  chmod 600 "$SECRETS/sudo-password"
  local hash
  hash=$(getent shadow "$NAS_USER" | cut -d: -f2)
  if ! PW=$(< "$SECRETS/sudo-password") perl -e 'exit(crypt($ENV{PW}, $ARGV[0]) eq $ARGV[0] ? 0 : 1)' "$hash"; then
    printf '%s:%s\n' "$NAS_USER" "$(< "$SECRETS/sudo-password")" | chpasswd
    say "sudo password: set for $NAS_USER"
  fi

  local tmp
  tmp=$(mktemp)
  printf '# Sandbox NAS: the admin user may sudo with its password (like a Synology admin).\nDefaults:%s !lecture\n%s ALL=(ALL) ALL\n' \
    "$NAS_USER" "$NAS_USER" > "$tmp"
  visudo -cqf "$tmp" || { rm -f "$tmp"; die "generated sudoers snippet is invalid"; }
  write_file /etc/sudoers.d/loop-sandbox 440 root:root < "$tmp"
  if (( CHANGED )); then say "sudo: /etc/sudoers.d/loop-sandbox written"; fi
  rm -f "$tmp"

  # Per-clone copies.
  install -d -m 755 "$LOCAL"
  install -d -m 700 "$LOCAL/secrets"
  write_file "$LOCAL/id_ed25519" 600 < "$SECRETS/id_ed25519"
  write_file "$LOCAL/id_ed25519.pub" 644 < "$SECRETS/id_ed25519.pub"
  write_file "$LOCAL/secrets/sudo-password" 600 < "$SECRETS/sudo-password"
  say "user: $NAS_USER ok (key login only, password sudo)"
}

# The scoped user: key login, the same password, sudo only through $SCOPED_SUDOERS (written by
# scoped_sudoers once the config exists). Both users may work on the app's files (share_dirs).
ensure_scoped_user() {
  if ! id -u "$SCOPED_USER" >/dev/null 2>&1; then
    useradd -m -s /bin/bash -c "Sandbox NAS user for loop-ops-mcp (scoped sudo)" "$SCOPED_USER"
    say "user: created $SCOPED_USER"
  fi
  [[ $(getent passwd "$SCOPED_USER" | cut -d: -f7) == /bin/bash ]] || usermod -s /bin/bash "$SCOPED_USER"
  install -d -m 700 -o "$SCOPED_USER" -g "$SCOPED_USER" "$SCOPED_HOME/.ssh"
  write_file "$SCOPED_HOME/.ssh/authorized_keys" 600 "$SCOPED_USER:$SCOPED_USER" < "$SECRETS/id_ed25519.pub"
  if (( CHANGED )); then say "key: authorized for $SCOPED_USER"; fi
  local hash
  hash=$(getent shadow "$SCOPED_USER" | cut -d: -f2)
  if ! PW=$(< "$SECRETS/sudo-password") perl -e 'exit(crypt($ENV{PW}, $ARGV[0]) eq $ARGV[0] ? 0 : 1)' "$hash"; then
    printf '%s:%s\n' "$SCOPED_USER" "$(< "$SECRETS/sudo-password")" | chpasswd
    say "sudo password: set for $SCOPED_USER"
  fi
}

# Let both NAS users read and write the apps' checkouts, origins, state and upstream dirs, whoever
# created a file (default ACLs are inherited whatever the umask). Idempotent.
share_dir() {
  setfacl -R -m "u:$SCOPED_USER:rwX,u:$NAS_USER:rwX" "$1"
  find "$1" -type d -exec setfacl -m "d:u:$SCOPED_USER:rwX,d:u:$NAS_USER:rwX" {} +
}
share_dirs() {
  local d
  for d in "$APP_DIR" "$AUTH_DIR" "$STATE_ROOT" "$UPSTREAM_DIR"; do share_dir "$d"; done
}

# sudoers_rules DIR: the root commands the product may run on each host, as `loop-ops-mcp sudoers`
# prints them for the scoped user from the targets file (that host's block only), into DIR/<host>.
# The hosts are generated at once (each run of the CLI costs a Node start-up).
sudoers_rules() {
  local dir=$1 tsx=$REPO_ROOT/node_modules/.bin/tsx h pids=() ok=0 p
  [[ -x $tsx ]] || { warn "$tsx is missing: run 'npm ci' in $REPO_ROOT first (the scoped sudoers file is generated by loop-ops-mcp)"; return 1; }
  for h in "${HOSTS[@]}"; do
    "$tsx" "$REPO_ROOT/src/cli.ts" sudoers --config "$LOCAL/config.yaml" --target "$h" --user "$SCOPED_USER" > "$dir/$h" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || ok=1; done
  return "$ok"
}

# same_rules FILE1 FILE2: the same rules, whatever the comments (each clone's header names its own
# config file: a clone's `up` must not count another's file as stale).
same_rules() { cmp -s <(grep -v '^#' "$1" 2>/dev/null) <(grep -v '^#' "$2" 2>/dev/null); }

# The scoped user's sudoers file of every host (one file per host, so that the rules of one never
# change with the other's).
scoped_sudoers() {
  local dir h
  dir=$(mktemp -d)
  CLEANUP+=("rm -rf '$dir'")
  sudoers_rules "$dir" || die "loop-ops-mcp sudoers failed"
  for h in "${HOSTS[@]}"; do
    use_host "$h"
    visudo -cqf "$dir/$h" || die "the generated sudoers file for $h is invalid (visudo -cf)"
    if [[ -s $SCOPED_SUDOERS ]] && same_rules "$dir/$h" "$SCOPED_SUDOERS"; then continue; fi
    write_file "$SCOPED_SUDOERS" 440 root:root < "$dir/$h"
    say "sudo: $SCOPED_SUDOERS written ($(grep -c "^$SCOPED_USER " "$SCOPED_SUDOERS") root commands for $SCOPED_USER)"
  done
}

# ---------------------------------------------------------------- 4. sshd

# render TEMPLATE: a scripts/sandbox template filled in for the current host (for prod, byte for byte
# the file earlier versions of this script installed, so a copy of either leaves the other's alone).
# A host with its own address also listens on its loopback, where the product's front check (an SSH
# tunnel to 127.0.0.1:<frontPort> on the NAS) looks for nginx.
render() {
  local loopback=()
  [[ $HOST_ADDR == 127.0.0.1 ]] || loopback=(-e 's#^\( *\)listen @ADDR@:@FRONT_PORT@;#&\n\1listen 127.0.0.1:@FRONT_PORT@;#')
  sed "${loopback[@]}" -e '/^# (A template: /d' -e "s#@ROOT@#$HROOT#g" -e "s#@ADDR@#$HOST_ADDR#g" \
    -e "s#@SSH_PORT@#$SSH_PORT#g" -e "s#@LEGACY_SSH_PORT@#$LEGACY_SSH_PORT#g" -e "s#@FRONT_PORT@#$FRONT_PORT#g" "$1"
}

declare -A HOST_FPS=()   # host name -> its sshd host key's fingerprint (SHA256:…)
start_sshd() {
  install -d -m 700 "$SSH_DIR"
  if ! ssh-keygen -y -f "$SSH_DIR/ssh_host_ed25519_key" >/dev/null 2>&1; then
    rm -f "$SSH_DIR/ssh_host_ed25519_key" "$SSH_DIR/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "loop-sandbox-$HOST" -f "$SSH_DIR/ssh_host_ed25519_key"
    say "sshd: generated host key"
  fi
  local changed pid
  write_file "$SSH_DIR/sshd_config" 644 < <(render "$TPL/sshd_config")
  changed=$CHANGED
  install -d -m 755 /run/sshd   # privilege separation directory (normally made by the init script)
  local kh_name="[$SSH_HOST]:$SSH_PORT"
  [[ $SSH_PORT == 22 ]] && kh_name=$SSH_HOST   # known_hosts names a host on port 22 without brackets
  printf '%s %s\n' "$kh_name" "$(awk '{print $1" "$2}' "$SSH_DIR/ssh_host_ed25519_key.pub")" \
    | write_file "$KNOWN_HOSTS" 644
  HOST_FPS[$HOST]=$(ssh-keygen -lf "$SSH_DIR/ssh_host_ed25519_key.pub" | awk '{print $2}')

  if pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config"); then
    if (( changed )); then
      /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" || die "sshd config invalid"
      kill -HUP "$pid"
      say "sshd: config changed, reloaded (pid $pid)"
    else
      say "sshd: running (pid $pid, $SSH_HOST:$SSH_PORT)"
    fi
    return
  fi
  port_open "$SSH_PORT" && die "port $SSH_PORT is in use by another process"
  port_open "$LEGACY_SSH_PORT" && die "port $LEGACY_SSH_PORT is in use by another process"
  /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" || die "sshd config invalid"
  rm -f "$RUN/sshd.pid"
  detached "${IN_NS[@]}" /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$LOGS/sshd.log" < /dev/null > /dev/null 2>&1
  local i
  for (( i = 0; i < 100; i++ )); do
    pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config") && port_open "$SSH_PORT" && break
    sleep 0.05
  done
  [[ -n ${pid:-} ]] || die "sshd did not start (log $LOGS/sshd.log)"
  say "sshd: started (pid $pid, $SSH_HOST:$SSH_PORT, host key ${HOST_FPS[$HOST]})"
}

# ---------------------------------------------------------------- 5. NAS filesystem, git checkouts

ensure_dirs() {
  install -d -m 755 "$ROOT" "$HROOT" "$RUN" "$LOGS" "$STATE" "$VOLUME1" "$VOLUME1/docker"
  install -d -m 755 -o "$NAS_USER" -g "$NAS_USER" "$APP_DIR" "$VAULT" "$AUTH_DIR" "$STATE_ROOT" "$OPS_STATE" "$AUTH_STATE"
  # Root (tests) works in repos owned by the NAS user: tell git they are safe.
  local d
  for d in "$CHECKOUT" "$ORIGIN" "$AUTH_CHECKOUT" "$AUTH_ORIGIN"; do
    git config --system --get-all safe.directory 2>/dev/null | grep -qxF "$d" \
      || git config --system --add safe.directory "$d"
  done
}

# use_app NAME: the current host's paths of one app (its source folder in this repo, checkout, origin,
# the files remembering its initial commit and source fingerprint, and the image of that commit).
use_app() {
  case $1 in
    loop-api)
      A_SRC=$APP_SRC A_CHECKOUT=$CHECKOUT A_ORIGIN=$ORIGIN A_IMAGE=$INITIAL_IMAGE
      A_COMMIT_FILE=$STATE/initial-commit A_FP_FILE=$STATE/app-fingerprint ;;
    loop-auth)
      A_SRC=$AUTH_SRC A_CHECKOUT=$AUTH_CHECKOUT A_ORIGIN=$AUTH_ORIGIN A_IMAGE=$AUTH_INITIAL_IMAGE
      A_COMMIT_FILE=$STATE/loop-auth-initial-commit A_FP_FILE=$STATE/loop-auth-fingerprint ;;
    *) die "unknown app '$1' (known: loop-api, loop-auth)" ;;
  esac
  A_NAME=$1
}

# ensure_repo APP: the app's checkout and bare origin, made from its source folder when that changed.
# Sets REPO_COMMIT (the initial commit: the same sha on every host, identity and date being fixed)
# and REPO_REINIT=1 when it (re)made them.
REPO_COMMIT=
REPO_REINIT=0
ensure_repo() {
  use_app "$1"
  local fp ok=1
  fp=$(dir_fingerprint "$A_SRC")
  REPO_REINIT=0
  [[ -f $A_FP_FILE && $(< "$A_FP_FILE") == "$fp" ]] || ok=0
  [[ -s $A_COMMIT_FILE ]] || ok=0
  if (( ok )); then
    REPO_COMMIT=$(< "$A_COMMIT_FILE")
    git_nas -C "$A_ORIGIN" cat-file -e "$REPO_COMMIT^{commit}" 2>/dev/null || ok=0
    git_nas -C "$A_CHECKOUT" rev-parse -q --verify HEAD >/dev/null 2>&1 || ok=0
  fi
  if (( ok )); then
    say "checkout $A_NAME: ok ($A_CHECKOUT, initial commit ${REPO_COMMIT:0:12})"
    return
  fi
  say "checkout $A_NAME: initialising from ${A_SRC#"$REPO_ROOT/"} (fingerprint $fp)"
  rm -rf "$A_ORIGIN" "$A_CHECKOUT"
  install -d -m 755 -o "$NAS_USER" -g "$NAS_USER" "$A_ORIGIN" "$A_CHECKOUT"
  git_nas init -q --bare -b "$BRANCH" "$A_ORIGIN"
  git_nas init -q -b "$BRANCH" "$A_CHECKOUT"
  cp -R "$A_SRC/." "$A_CHECKOUT/"
  chown -R "$NAS_USER:$NAS_USER" "$A_CHECKOUT"
  git_nas -C "$A_CHECKOUT" config user.name "NAS Admin"
  git_nas -C "$A_CHECKOUT" config user.email "loopadmin@nas.invalid"
  git_nas -C "$A_CHECKOUT" add -A
  as_nas env "${GIT_IDENTITY[@]}" GIT_AUTHOR_DATE="$INITIAL_DATE" GIT_COMMITTER_DATE="$INITIAL_DATE" \
    git -C "$A_CHECKOUT" commit -q -m "$A_NAME sandbox app $(head -n1 "$A_SRC/VERSION")"
  git_nas -C "$A_CHECKOUT" remote add origin "$A_ORIGIN"
  git_nas -C "$A_CHECKOUT" push -q -u origin "$BRANCH"
  REPO_COMMIT=$(git_nas -C "$A_CHECKOUT" rev-parse HEAD)
  printf '%s\n' "$REPO_COMMIT" > "$A_COMMIT_FILE"
  printf '%s\n' "$fp" > "$A_FP_FILE"
  REPO_REINIT=1
  say "checkout $A_NAME: initial commit $REPO_COMMIT, origin $A_ORIGIN"
}

INITIAL_COMMIT=   # loop-api's
AUTH_COMMIT=      # loop-auth's
APP_REINIT=0
AUTH_REINIT=0
ensure_repos() {
  ensure_repo loop-api; INITIAL_COMMIT=$REPO_COMMIT APP_REINIT=$REPO_REINIT
  ensure_repo loop-auth; AUTH_COMMIT=$REPO_COMMIT AUTH_REINIT=$REPO_REINIT
}

# Initial commits recorded by an earlier `up` (reset and status need them, not the checkouts' work).
load_commits() {
  [[ -s $STATE/initial-commit && -s $STATE/loop-auth-initial-commit ]] || die "sandbox host $HOST not initialised; run 'up' first"
  INITIAL_COMMIT=$(< "$STATE/initial-commit")
  AUTH_COMMIT=$(< "$STATE/loop-auth-initial-commit")
}

# reset_repo APP COMMIT: origin with only main, at COMMIT; checkout clean on main at COMMIT, tracking it.
reset_repo() {
  use_app "$1"
  local commit=$2 name
  chown -R "$NAS_USER:$NAS_USER" "$A_ORIGIN" "$A_CHECKOUT"
  git_nas -C "$A_ORIGIN" symbolic-ref HEAD "refs/heads/$BRANCH"
  git_nas -C "$A_ORIGIN" update-ref "refs/heads/$BRANCH" "$commit"
  while read -r name; do
    [[ -z $name || $name == "refs/heads/$BRANCH" ]] || git_nas -C "$A_ORIGIN" update-ref -d "$name"
  done < <(git_nas -C "$A_ORIGIN" for-each-ref --format='%(refname)')
  git_nas -C "$A_CHECKOUT" fetch -q --prune --prune-tags origin
  git_nas -C "$A_CHECKOUT" checkout -q -f -B "$BRANCH" "$commit"
  git_nas -C "$A_CHECKOUT" reset -q --hard "$commit"
  git_nas -C "$A_CHECKOUT" clean -q -fdx
  git_nas -C "$A_CHECKOUT" branch -q -u "origin/$BRANCH" "$BRANCH"
  while read -r name; do
    [[ -z $name || $name == "refs/heads/$BRANCH" || $name == refs/remotes/* ]] || git_nas -C "$A_CHECKOUT" update-ref -d "$name"
  done < <(git_nas -C "$A_CHECKOUT" for-each-ref --format='%(refname)')
}

# ---------------------------------------------------------------- 6. images

ensure_base_image() {
  local bbver
  bbver=$(dpkg-query -W -f='${Version}' busybox-static)
  if image_exists "$BASE_IMAGE" && [[ $(image_label "$BASE_IMAGE" loop-sandbox.busybox) == "$bbver" ]]; then
    say "image $BASE_IMAGE: ok"
    return
  fi
  local rootfs a
  rootfs=$(mktemp -d)
  CLEANUP+=("rm -rf '$rootfs'")
  install -d "$rootfs"/{bin,etc,dev,proc,sys,root,app,vault,www} "$rootfs/usr/bin"
  install -d -m 1777 "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do
    [[ $a == busybox || -e $rootfs/bin/$a ]] || ln -s busybox "$rootfs/bin/$a"
  done
  ln -s /bin/busybox "$rootfs/usr/bin/env"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf - . \
    | dk import -c 'CMD ["/bin/sh"]' -c "LABEL loop-sandbox.busybox=\"$bbver\"" \
        -m "loop-sandbox base from Debian busybox-static $bbver" - "$BASE_IMAGE" >/dev/null
  say "image $BASE_IMAGE: imported from busybox-static $bbver ($(du -sh "$rootfs" | cut -f1))"
}

# A host other than prod gets its images from prod's engine (nothing can be pulled): the base and
# both initial images, by `docker save | docker load`, when missing or different here.
PROD_DOCKER=/usr/bin/docker
copy_images_from_prod() {
  local img need=() prod_id
  for img in "$BASE_IMAGE" "$INITIAL_IMAGE" "$AUTH_INITIAL_IMAGE"; do
    prod_id=$("$PROD_DOCKER" image inspect -f '{{.Id}}' "$img" 2>/dev/null) || die "prod has no image $img: bring prod up first"
    [[ $(dk image inspect -f '{{.Id}}' "$img" 2>/dev/null) == "$prod_id" ]] || need+=("$img")
  done
  if (( ${#need[@]} == 0 )); then
    say "images from prod: ok"
    return
  fi
  "$PROD_DOCKER" save "${need[@]}" | dk load -q >/dev/null
  say "images from prod: loaded ${need[*]}"
}

# ensure_app_image APP COMMIT: the app's initial image, built from COMMIT (git archive: independent of the
# checkout's HEAD) on the current host's engine, unless one from that commit and base is there.
ensure_app_image() {
  use_app "$1"
  local commit=$2 base
  base=$(dk image inspect -f '{{.Id}}' "$BASE_IMAGE")
  if image_exists "$A_IMAGE" && [[ $(image_label "$A_IMAGE" loop-sandbox.commit) == "$commit" ]] \
     && [[ $(image_label "$A_IMAGE" loop-sandbox.base) == "$base" ]]; then
    say "image $A_IMAGE: ok"
    return
  fi
  git_nas -C "$A_ORIGIN" archive --format=tar "$commit" \
    | dk build -q -t "$A_IMAGE" --label "loop-sandbox.commit=$commit" --label "loop-sandbox.base=$base" - >/dev/null
  say "image $A_IMAGE: built from ${commit:0:12}"
}

ensure_initial_image() { ensure_app_image loop-api "$INITIAL_COMMIT"; }

# remove_images_except REPOSITORY KEEP...: every tag of REPOSITORY but KEEP (images tests deployed).
remove_images_except() {
  local repo=$1 img k keep; shift
  while read -r img; do
    [[ -n $img ]] || continue
    keep=0
    for k in "$@"; do [[ $img == "$k" ]] && keep=1; done
    (( keep )) || dk rmi -f "$img" >/dev/null 2>&1 || true
  done < <(dk images --format '{{.Repository}}:{{.Tag}}' "$repo")
}

# ---------------------------------------------------------------- 8. network and containers

ensure_network() {
  if dk network inspect "$NETWORK" >/dev/null 2>&1; then
    say "network $NETWORK: ok"
  else
    dk network create "$NETWORK" >/dev/null
    say "network $NETWORK: created"
  fi
}

# loop-auth as the product's `recreate` strategy expects it: one container named after the app, with
# the app/version/commit labels, published on 127.0.0.1 (not behind nginx).
run_auth() {
  local version
  version=$(git_nas -C "$AUTH_ORIGIN" show "$AUTH_COMMIT:VERSION" | head -n1)
  dk run -d --name loop-auth --network "$NETWORK" -p "127.0.0.1:$AUTH_PORT:$AUTH_CONTAINER_PORT" \
    --restart unless-stopped --label loop-ops.app=loop-auth \
    --label "loop-ops.version=$version" --label "loop-ops.commit=$AUTH_COMMIT" \
    "$AUTH_INITIAL_IMAGE" >/dev/null
  say "container loop-auth: started from $AUTH_INITIAL_IMAGE (version $version, 127.0.0.1:$AUTH_PORT)"
}

# Keep whatever loop-auth runs (a test may have redeployed it); start it if stopped, run the initial
# one if missing or made by an older sandbox (no commit label: the product could not redeploy it).
ensure_auth() {
  if (( AUTH_REINIT )); then
    say "loop-auth: (re)initialised sources, resetting it"
    reset_auth
    return
  fi
  ensure_app_image loop-auth "$AUTH_COMMIT"
  local state
  state=$(container_state loop-auth)
  if [[ $state != missing && -z $(dk inspect -f '{{ index .Config.Labels "loop-ops.commit" }}' loop-auth 2>/dev/null) ]]; then
    say "container loop-auth: has no loop-ops.commit label (older sandbox), replacing it"
    dk rm -f loop-auth >/dev/null
    state=missing
  fi
  case $state in
    running) say "container loop-auth: running" ;;
    missing) run_auth ;;
    *)
      dk start loop-auth >/dev/null
      say "container loop-auth: was $state, started" ;;
  esac
}

reset_auth() {
  local ids
  ids=$( { dk ps -aq --filter label=loop-ops.app=loop-auth; dk ps -aq --filter 'name=^/?loop-auth'; } | sort -u)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    dk rm -f $ids >/dev/null
  fi
  reset_repo loop-auth "$AUTH_COMMIT"
  remove_images_except loop-auth "$AUTH_INITIAL_IMAGE" "$LEGACY_AUTH_IMAGE"
  ensure_app_image loop-auth "$AUTH_COMMIT"
  install -d -m 755 -o "$NAS_USER" -g "$NAS_USER" "$AUTH_STATE"
  find "$AUTH_STATE" -mindepth 1 -delete
  share_dir "$AUTH_STATE"
  run_auth
  wait_healthy loop-auth 30 || die "loop-auth did not become healthy"
}

run_blue() {
  local version
  version=$(git_nas -C "$ORIGIN" show "$INITIAL_COMMIT:VERSION" | head -n1)
  dk run -d --name loop-api-blue --network "$NETWORK" -p "127.0.0.1:$BLUE_PORT:$CONTAINER_PORT" \
    -e COLOR=blue -v "$VAULT:/vault" --restart unless-stopped \
    --label loop-ops.app=loop-api --label loop-ops.color=blue \
    --label "loop-ops.version=$version" --label "loop-ops.commit=$INITIAL_COMMIT" \
    "$INITIAL_IMAGE" >/dev/null
  say "container loop-api-blue: started from $INITIAL_IMAGE (version $version, 127.0.0.1:$BLUE_PORT)"
}

wait_healthy() { # CONTAINER SECONDS
  local c=$1 deadline=$(( $(date +%s) + $2 )) h
  while :; do
    h=$(container_health "$c")
    [[ $h == healthy ]] && return 0
    (( $(date +%s) >= deadline )) && { warn "$c health: $h"; return 1; }
    sleep 0.2
  done
}

wait_front() { # SECONDS [GREP-PATTERN]
  local deadline=$(( $(date +%s) + $1 )) pat=${2:-'"status":"ok"'} body
  while :; do
    body=$(http_get "$FRONT_URL/health" 2 2>/dev/null) && grep -q -- "$pat" <<< "$body" && {
      FRONT_BODY=$body; return 0; }
    (( $(date +%s) >= deadline )) && return 1
    sleep 0.2
  done
}

live_color() {
  local port
  port=$(grep -o '127\.0\.0\.1:[0-9]*' "$UPSTREAM_FILE" 2>/dev/null | head -n1 | cut -d: -f2) || true
  case $port in
    "$BLUE_PORT") echo blue ;;
    "$GREEN_PORT") echo green ;;
    *) echo unknown ;;
  esac
}

# ---------------------------------------------------------------- 9. nginx

write_upstream_blue() {
  write_file "$UPSTREAM_FILE" 644 "$NAS_USER:$NAS_USER" < <(printf 'server 127.0.0.1:%s;\n' "$BLUE_PORT")
}

nginx_reload() {
  on_host /usr/sbin/nginx -q -c "$NGINX_CONF" -t || die "nginx -t failed"
  local out
  out=$(/usr/sbin/nginx -c "$NGINX_CONF" -s reload 2>&1) || { printf '%s\n' "$out" >&2; die "nginx reload failed"; }
}

start_nginx() {
  install -d -m 755 "$NGINX_DIR" "$NGINX_DIR/tmp"
  install -d -m 755 -o "$NAS_USER" -g "$NAS_USER" "$UPSTREAM_DIR"
  [[ -s $UPSTREAM_FILE ]] || write_upstream_blue
  local changed pid
  write_file "$NGINX_CONF" 644 < <(render "$TPL/nginx.conf")
  changed=$CHANGED
  if pid=$(pid_of "$RUN/nginx.pid" "$NGINX_CONF"); then
    if (( changed )); then
      nginx_reload
      say "nginx: config changed, reloaded (pid $pid)"
    else
      say "nginx: running (pid $pid, $HOST_ADDR:$FRONT_PORT -> $(live_color))"
    fi
    return
  fi
  port_open "$FRONT_PORT" && die "port $FRONT_PORT is in use by another process"
  on_host /usr/sbin/nginx -q -c "$NGINX_CONF" -t || die "nginx -t failed for $NGINX_CONF"
  rm -f "$RUN/nginx.pid"
  detached "${IN_NS[@]}" /usr/sbin/nginx -c "$NGINX_CONF" < /dev/null > /dev/null 2>> "$LOGS/nginx-error.log"
  local i
  for (( i = 0; i < 100; i++ )); do
    pid=$(pid_of "$RUN/nginx.pid" "$NGINX_CONF") && port_open "$FRONT_PORT" && break
    sleep 0.05
  done
  [[ -n ${pid:-} ]] || die "nginx did not start (log $LOGS/nginx-error.log)"
  say "nginx: started (pid $pid, $HOST_ADDR:$FRONT_PORT -> $(live_color))"
}

# ---------------------------------------------------------------- reset

reset_app() {
  local ids
  ids=$( { dk ps -aq --filter label=loop-ops.app=loop-api; dk ps -aq --filter 'name=^/?loop-api-'; } | sort -u)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    say "reset: removing containers $(dk inspect -f '{{.Name}}' $ids | tr -d / | tr '\n' ' ')"
    # shellcheck disable=SC2086
    dk rm -f $ids >/dev/null
  fi
  reset_repo loop-api "$INITIAL_COMMIT"
  # images: only the initial one (and the base) remain
  remove_images_except loop-api "$INITIAL_IMAGE"
  dk image prune -f >/dev/null 2>&1 || true
  ensure_initial_image
  # state of loop-ops-mcp (lock, journal, history); on prod loop-auth's state dir lives inside it
  find "$OPS_STATE" -mindepth 1 -maxdepth 1 ! -path "$AUTH_STATE" -exec rm -rf {} +
  chown "$NAS_USER:$NAS_USER" "$OPS_STATE"
  run_blue
  write_upstream_blue
  nginx_reload
  wait_healthy loop-api-blue 30 || die "loop-api-blue did not become healthy"
  wait_front 15 '"color":"blue"' || die "front $FRONT_URL does not answer with blue"
  say "reset: loop-api live blue ${INITIAL_COMMIT:0:12} ($(elapsed))"
}

# Make the live color serve again after a restart or a test that stopped it; reset if that fails.
ensure_app() {
  if (( APP_REINIT )); then
    say "app: (re)initialised sources, resetting app state"
    reset_app
    return
  fi
  ensure_initial_image
  local color state
  color=$(live_color)
  if [[ $color == unknown ]]; then
    say "app: upstream file does not point at a color, resetting"
    reset_app; return
  fi
  state=$(container_state "loop-api-$color")
  case $state in
    running) ;;
    missing)
      if [[ $color == blue ]]; then run_blue; else say "app: live container loop-api-$color is missing, resetting"; reset_app; return; fi ;;
    *) dk start "loop-api-$color" >/dev/null; say "container loop-api-$color: was $state, started" ;;
  esac
  if wait_front 30 && wait_healthy "loop-api-$color" 20; then
    wait_healthy loop-auth 20 || true
    say "app: live $color (healthy), front answers $FRONT_BODY"
  else
    say "app: front $FRONT_URL/health not healthy, resetting"
    reset_app
  fi
}

# ---------------------------------------------------------------- 11. config for the product, facts for tests

version_at() { git_nas -C "$1" show "$2:VERSION" | head -n1; }

# The current host as one old-format, single-target config (top-level nas/docker/app/nginx/state):
# prod's is .sandbox/config-single.yaml, for the suite that runs on the old format.
single_target_yaml() {
  cat <<EOF
# Generated by scripts/sandbox.sh for the sandbox NAS. Do not edit: rewritten by 'npm run sandbox -- up'.
nas:
  host: $SSH_HOST
  port: $SSH_PORT
  username: $SCOPED_USER
  privateKeyPath: $LOCAL/id_ed25519
  hostKeyFingerprint: "${HOST_FPS[$HOST]}"
  knownHostsPath: $KNOWN_HOSTS
sudo:
  mode: password
  passwordFile: $LOCAL/secrets/sudo-password
docker:
  binary: $DOCKER
app:
  name: loop-api
  checkoutDir: $CHECKOUT
  frontPort: $FRONT_PORT
  containerPort: $CONTAINER_PORT
  healthPath: /health
  network: $NETWORK
  vaultPath: $VAULT
  vaultMount: /vault
  oauthKeysDir: $VAULT/oauth-keys
  dbPath: $VAULT/loop.db
  watch: [loop-auth]
  colorPorts: { blue: $BLUE_PORT, green: $GREEN_PORT }
  publicHealthUrl: $FRONT_URL/health
nginx:
  upstreamFile: $UPSTREAM_FILE
  testCommand: [/usr/sbin/nginx, -c, $NGINX_CONF, -t]
  reloadCommand: [/usr/sbin/nginx, -c, $NGINX_CONF, -s, reload]
state:
  dir: $OPS_STATE
EOF
}

# The current host as one entry of the targets format (see README: configuration).
target_yaml() {
  local state_line=
  # prod's loop-api keeps the state dir of the single-target file: both files lock the same files.
  [[ $HOST == prod ]] && state_line="stateDir: $OPS_STATE"
  cat <<EOF
  $HOST:
    driver: single-host
    nas:
      host: $SSH_HOST
      port: $SSH_PORT
      username: $SCOPED_USER
      privateKeyPath: $LOCAL/id_ed25519
      hostKeyFingerprint: "${HOST_FPS[$HOST]}"
      knownHostsPath: $KNOWN_HOSTS
    sudo:
      mode: password
      passwordFile: $LOCAL/secrets/sudo-password
    docker:
      binary: $DOCKER
    nginx:
      testCommand: [/usr/sbin/nginx, -c, $NGINX_CONF, -t]
      reloadCommand: [/usr/sbin/nginx, -c, $NGINX_CONF, -s, reload]
    state:
      dir: $STATE_ROOT
    apps:
      loop-api:
        strategy: blue-green
        checkoutDir: $CHECKOUT
        frontPort: $FRONT_PORT
        containerPort: $CONTAINER_PORT
        healthPath: /health
        network: $NETWORK
        vaultPath: $VAULT
        vaultMount: /vault
        oauthKeysDir: $VAULT/oauth-keys
        dbPath: $VAULT/loop.db
        watch: [loop-auth]
        colorPorts: { blue: $BLUE_PORT, green: $GREEN_PORT }
        publicHealthUrl: $FRONT_URL/health
        upstreamFile: $UPSTREAM_FILE
        ${state_line}
      loop-auth:
        strategy: recreate
        checkoutDir: $AUTH_CHECKOUT
        containerPort: $AUTH_CONTAINER_PORT
        hostPort: $AUTH_PORT
        healthPath: /health
        network: $NETWORK
EOF
}

# The current host's facts for the tests (one entry of sandbox.json's "targets").
target_json() {
  local netns=null
  [[ -n $NS ]] && netns="{ \"name\": \"$NS\", \"hostInterface\": \"$NS_HOST_IF\", \"hostAddress\": \"${NS_HOST_CIDR%/*}\", \"address\": \"$HOST_ADDR\" }"
  cat <<EOF
    "$HOST": {
      "rootDir": "$HROOT",
      "volume1": "$VOLUME1",
      "netns": $netns,
      "ssh": {
        "host": "$SSH_HOST",
        "port": $SSH_PORT,
        "username": "$SCOPED_USER",
        "privateKeyPath": "$LOCAL/id_ed25519",
        "knownHostsPath": "$KNOWN_HOSTS",
        "hostKeyFingerprint": "${HOST_FPS[$HOST]}"
      },
      "sshdConfig": "$SSH_DIR/sshd_config",
      "sshdPidFile": "$RUN/sshd.pid",
      "scopedSudoers": "$SCOPED_SUDOERS",
      "dockerBinary": "$DOCKER",
      "dockerSocket": "$DOCKER_SOCK",
      "stateDir": "$STATE_ROOT",
      "configSinglePath": "$LOCAL/config-single-$HOST.yaml",
      "nginx": {
        "conf": "$NGINX_CONF",
        "upstreamFile": "$UPSTREAM_FILE",
        "testCommand": ["/usr/sbin/nginx", "-c", "$NGINX_CONF", "-t"],
        "reloadCommand": ["/usr/sbin/nginx", "-c", "$NGINX_CONF", "-s", "reload"],
        "accessLog": "$LOGS/nginx-access.log"
      },
      "frontUrl": "$FRONT_URL",
      "logDir": "$LOGS",
      "apps": {
        "loop-api": {
          "strategy": "blue-green",
          "frontUrl": "$FRONT_URL",
          "publicHealthUrl": "$FRONT_URL/health",
          "checkoutDir": "$CHECKOUT",
          "originRepo": "$ORIGIN",
          "branch": "$BRANCH",
          "initialCommit": "$INITIAL_COMMIT",
          "initialVersion": "$(version_at "$ORIGIN" "$INITIAL_COMMIT")",
          "initialImage": "$INITIAL_IMAGE",
          "vaultDir": "$VAULT",
          "network": "$NETWORK",
          "containerPort": $CONTAINER_PORT,
          "colorPorts": { "blue": $BLUE_PORT, "green": $GREEN_PORT },
          "containers": { "blue": "loop-api-blue", "green": "loop-api-green" },
          "upstreamFile": "$UPSTREAM_FILE",
          "stateDir": "$OPS_STATE"
        },
        "loop-auth": {
          "strategy": "recreate",
          "container": "loop-auth",
          "hostPort": $AUTH_PORT,
          "containerPort": $AUTH_CONTAINER_PORT,
          "healthUrlOnHost": "http://127.0.0.1:$AUTH_PORT/health",
          "checkoutDir": "$AUTH_CHECKOUT",
          "originRepo": "$AUTH_ORIGIN",
          "branch": "$BRANCH",
          "initialCommit": "$AUTH_COMMIT",
          "initialVersion": "$(version_at "$AUTH_ORIGIN" "$AUTH_COMMIT")",
          "initialImage": "$AUTH_INITIAL_IMAGE",
          "network": "$NETWORK",
          "stateDir": "$AUTH_STATE"
        }
      }
    }
EOF
}

# Needs every host's HOST_FPS and commits (from up). Leaves the current host at prod.
write_facts() {
  local h first=1 targets_yaml='' targets_json=''
  for h in "${HOSTS[@]}"; do
    use_host "$h"
    load_commits
    targets_yaml+=$(target_yaml | sed '/^ *$/d')$'\n'
    (( first )) || targets_json+=$',\n'
    targets_json+=$(target_json)
    first=0
  done
  # Each host alone in the single-target format: the suite's one-host scenarios run on prod or on
  # staging (test lanes); prod's is also config-single.yaml, the file the README's examples use.
  for h in "${HOSTS[@]}"; do
    use_host "$h"
    write_file "$LOCAL/config-single-$h.yaml" 644 < <(single_target_yaml)
  done
  use_host prod
  write_file "$LOCAL/config-single.yaml" 644 < <(single_target_yaml)
  write_file "$LOCAL/config.yaml" 644 <<EOF
# Generated by scripts/sandbox.sh for the sandbox NAS: two hosts (prod, staging), two apps on each.
# Do not edit: rewritten by 'npm run sandbox -- up'. The same prod in the single-target format:
# $LOCAL/config-single.yaml.
targets:
${targets_yaml}
EOF
  write_file "$LOCAL/sandbox.json" 644 <<EOF
{
  "repoRoot": "$REPO_ROOT",
  "rootDir": "$ROOT",
  "volume1": "$VOLUME1",
  "configPath": "$LOCAL/config.yaml",
  "configSinglePath": "$LOCAL/config-single.yaml",
  "sandboxScript": "$REPO_ROOT/scripts/sandbox.sh",
  "sshUser": "$SCOPED_USER",
  "adminUser": "$NAS_USER",
  "scopedSudoers": "$SCOPED_SUDOERS",
  "sshdConfig": "$SSH_DIR/sshd_config",
  "sshdPidFile": "$RUN/sshd.pid",
  "legacyPasswordSsh": { "host": "$SSH_HOST", "port": $LEGACY_SSH_PORT, "username": "$NAS_USER", "note": "password login (sshpass) as the full-sudo admin, for benchmarking the owner's old way only; port $SSH_PORT is key-only" },
  "ssh": {
    "host": "$SSH_HOST",
    "port": $SSH_PORT,
    "username": "$SCOPED_USER",
    "privateKeyPath": "$LOCAL/id_ed25519",
    "knownHostsPath": "$KNOWN_HOSTS",
    "hostKeyFingerprint": "${HOST_FPS[prod]}"
  },
  "sudoPasswordFile": "$LOCAL/secrets/sudo-password",
  "dockerBinary": "$DOCKER",
  "app": {
    "name": "loop-api",
    "checkoutDir": "$CHECKOUT",
    "originRepo": "$ORIGIN",
    "branch": "$BRANCH",
    "initialCommit": "$INITIAL_COMMIT",
    "initialVersion": "$(version_at "$ORIGIN" "$INITIAL_COMMIT")",
    "initialImage": "$INITIAL_IMAGE",
    "baseImage": "$BASE_IMAGE",
    "vaultDir": "$VAULT",
    "vaultMount": "/vault",
    "oauthKeysDir": "$VAULT/oauth-keys",
    "dbPath": "$VAULT/loop.db",
    "network": "$NETWORK",
    "containerPort": $CONTAINER_PORT,
    "colorPorts": { "blue": $BLUE_PORT, "green": $GREEN_PORT },
    "containers": { "blue": "loop-api-blue", "green": "loop-api-green" },
    "watch": ["loop-auth"]
  },
  "auth": { "container": "loop-auth", "image": "$AUTH_INITIAL_IMAGE", "hostPort": $AUTH_PORT },
  "stateDir": "$OPS_STATE",
  "nginx": {
    "conf": "$NGINX_CONF",
    "upstreamFile": "$UPSTREAM_FILE",
    "testCommand": ["/usr/sbin/nginx", "-c", "$NGINX_CONF", "-t"],
    "reloadCommand": ["/usr/sbin/nginx", "-c", "$NGINX_CONF", "-s", "reload"],
    "accessLog": "$LOGS/nginx-access.log"
  },
  "frontUrl": "$FRONT_URL",
  "publicHealthUrl": "$FRONT_URL/health",
  "logDir": "$LOGS",
  "targets": {
${targets_json}
  }
}
EOF
  say "facts: $LOCAL/config.yaml (targets), $LOCAL/config-single.yaml (prod, single-target format), $LOCAL/sandbox.json"
}

# ---------------------------------------------------------------- commands

# up_host NAME: everything one sandbox host needs (prod first: the others copy its images).
up_host() {
  use_host "$1"
  install -d -m 755 "$HROOT" "$LOGS" "$RUN"
  ensure_netns
  ensure_dirs
  ensure_docker_wrapper
  start_dockerd
  start_sshd
  ensure_repos
  if [[ $HOST == prod ]]; then ensure_base_image; else copy_images_from_prod; fi
  ensure_network
  ensure_auth
  start_nginx
  ensure_app
  share_dirs
}

cmd_up() {
  require_root
  use_host prod
  install -d -m 755 "$ROOT" "$LOGS" "$RUN"
  lock
  install_packages
  ensure_user
  ensure_scoped_user
  local h
  for h in "${HOSTS[@]}"; do up_host "$h"; done
  write_facts
  scoped_sudoers
  use_host prod
  bash "$TPL/swarm.sh" up || die "the Swarm host did not come up (scripts/sandbox/swarm.sh)"
  say "up: ready in $(elapsed); ssh $SCOPED_USER (scoped sudo) or $NAS_USER (full sudo) to"
  for h in "${HOSTS[@]}"; do
    use_host "$h"
    printf '[sandbox]   %-8s ssh %s:%s, front %s/health, loop-auth 127.0.0.1:%s (as seen from that host)\n' "$h" "$SSH_HOST" "$SSH_PORT" "$FRONT_URL" "$AUTH_PORT"
  done
}

# targets_arg [--target NAME]: the hosts a command works on (all by default).
targets_arg() {
  case ${1:-} in
    '') printf '%s\n' "${HOSTS[@]}" ;;
    --target) use_host "${2:?--target needs a name}"; printf '%s\n' "$2" ;;
    *) die "expected --target NAME, got '$1'" ;;
  esac
}

# reset [--target NAME] [--app loop-api|loop-auth]: both apps of every host unless told otherwise
# (a test of one app resets that app only: half the work, and the other app's lane is left alone).
cmd_reset() {
  require_root
  local hosts h app='' target_args=()
  while (( $# )); do
    case $1 in
      --target) target_args=(--target "${2:?--target needs a name}"); shift 2 ;;
      --app) app=${2:?--app needs a name}; shift 2
        [[ $app == loop-api || $app == loop-auth ]] || die "--app: expected loop-api or loop-auth, got '$app'" ;;
      *) die "expected --target NAME or --app NAME, got '$1'" ;;
    esac
  done
  hosts=$(targets_arg "${target_args[@]}") || exit 1
  lock
  for h in $hosts; do
    use_host "$h"
    docker_ok || die "docker is not running on $h; run 'up' first"
    pid_of "$RUN/nginx.pid" "$NGINX_CONF" >/dev/null || die "nginx is not running on $h; run 'up' first"
    load_commits
    [[ $app == loop-auth ]] || reset_app
    [[ $app == loop-api ]] || reset_auth
    say "reset: done on $h${app:+ ($app)}, loop-api live blue ${INITIAL_COMMIT:0:12}, loop-auth ${AUTH_COMMIT:0:12} ($(elapsed))"
  done
}

# stop_pid NAME PID GRACE [SIGNAL]: signal, wait, then SIGKILL what is left.
stop_pid() {
  local name=$1 pid=$2 grace=$3 sig=${4:-TERM}
  kill "-$sig" "$pid" 2>/dev/null || true
  if ! wait_gone "$grace" "$pid"; then
    warn "$name (pid $pid) still running after ${grace}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone 5 "$pid" || warn "$name (pid $pid) did not die"
  fi
}

# down_host NAME: stop the host's nginx, sshd and dockerd (by their pid files), then its namespace.
down_host() {
  use_host "$1"
  local pid kids p extra
  # nginx: graceful quit of the master; workers are its children
  if pid=$(pid_of "$RUN/nginx.pid" "$NGINX_CONF"); then
    kids=$(children_of "$pid")
    stop_pid nginx "$pid" 10 QUIT
    for p in $kids; do alive "$p" && stop_pid "nginx worker" "$p" 5; done
    say "nginx: stopped (pid $pid)"
  else
    say "nginx: not running"
  fi
  # sshd: the listener, its sessions and whatever they still run (remote commands outlive their channel)
  if pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config"); then
    kids=$(descendants_of "$pid")
    stop_pid sshd "$pid" 10
    for p in $kids; do alive "$p" && kill -TERM "$p" 2>/dev/null; done
    # shellcheck disable=SC2086
    if [[ -n $kids ]] && ! wait_gone 5 $kids; then
      for p in $kids; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
    fi
    say "sshd: stopped (pid $pid)"
  else
    say "sshd: not running"
  fi
  # dockerd: stops the containers, its containerd, shims and docker-proxy processes
  if pid=$(pid_of "$RUN/dockerd.pid" dockerd); then
    extra=$( { children_of "$pid"; live_pids "-address $CONTAINERD_ADDR"; } | sort -u)
    stop_pid dockerd "$pid" 60
    for p in $extra; do
      if alive "$p" && tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -qE 'containerd|docker-proxy'; then
        stop_pid "$(tr '\0' ' ' < "/proc/$p/cmdline" | cut -c1-60)" "$p" 10
      fi
    done
    say "dockerd: stopped (pid $pid)"
  else
    say "dockerd: not running"
  fi
  if [[ -n $NS ]]; then
    netns_remove "$NS" "$NS_HOST_IF" || die "could not remove network namespace $NS"
    say "netns $NS: removed (with $NS_HOST_IF)"
  fi
}

cmd_down() {
  require_root
  local purge=0
  [[ ${1:-} == --purge ]] && purge=1
  use_host prod
  lock
  bash "$TPL/swarm.sh" down "$@" || die "the Swarm host did not stop (scripts/sandbox/swarm.sh)"
  local h p leftovers=() what
  for (( h = ${#HOSTS[@]} - 1; h >= 0; h-- )); do down_host "${HOSTS[h]}"; done
  # verify: by our paths (other sandbox hosts may run their own Docker on this machine): dockerd by its
  # data root, containerd and the shims by the exec root, sshd and nginx by their config files
  for h in "${HOSTS[@]}"; do
    use_host "$h"
    for what in "dockerd .*--data-root $DOCKER_ROOT( |$)" "$DOCKER_EXEC_ROOT/containerd/" "sshd -f $SSH_DIR/sshd_config" "nginx -c $NGINX_CONF"; do
      p=$(live_pids "$what" | tr '\n' ' ')
      [[ -z ${p// /} ]] || leftovers+=("$what: $p")
    done
    if [[ -n $NS ]] && { netns_exists "$NS" || ip link show "$NS_HOST_IF" >/dev/null 2>&1; }; then
      leftovers+=("network namespace $NS or its veth $NS_HOST_IF")
    fi
  done
  use_host prod
  # nginx workers and docker-proxy have no path of ours in their command line; any whose parent is gone is ours
  for what in nginx docker-proxy; do
    for p in $(live_by_name "$what"); do
      if [[ $(ps -o ppid= -p "$p" | tr -d ' ') == 1 ]]; then leftovers+=("orphan $what: $p"); fi
    done
  done
  if (( ${#leftovers[@]} )); then
    printf '[sandbox] still running: %s\n' "${leftovers[@]}" >&2
    die "down: some processes are still running"
  fi
  say "down: nothing left running (dockerd, containerd, shims, docker-proxy, sshd, nginx on ${HOSTS[*]}; network namespaces removed)"
  if (( purge )); then
    # vfs layers may include read-only dirs; make sure everything goes
    local files=(/etc/sudoers.d/loop-sandbox)
    for h in "${HOSTS[@]}"; do use_host "$h"; files+=("$SCOPED_SUDOERS"); done
    use_host prod
    # Only what up made: other sandbox hosts may keep their own files under $ROOT.
    local d dirs=()
    for d in run log state ssh nginx docker volume1 secrets staging; do dirs+=("$ROOT/$d"); done
    rm -rf "${dirs[@]}" "$LOCAL" /run/loop-staging
    rmdir "$ROOT" 2>/dev/null || true
    rm -f "${files[@]}"
    say "down --purge: removed ${dirs[*]}, $LOCAL and ${files[*]} (users $NAS_USER, $SCOPED_USER kept)"
  fi
}

# status_host NAME: one line per component of the host; returns 1 if any is not up.
status_host() {
  use_host "$1"
  local all=0 pid name state live body h p=''
  [[ $HOST == prod ]] || p="$HOST:"
  report() { printf '%-19s %s\n' "$p$1" "$2"; }
  if [[ -n $NS ]]; then
    if netns_exists "$NS" && ip link show "$NS_HOST_IF" >/dev/null 2>&1; then report netns "$NS ($NS_HOST_IF ${NS_HOST_CIDR} <-> ${NS_CIDR})"
    else report netns "missing ($NS)"; all=1; fi
  fi
  if pid=$(pid_of "$RUN/dockerd.pid" dockerd) && docker_ok; then
    report dockerd "running pid $pid (docker info ok, data $DOCKER_ROOT, $DOCKER_SOCK)"
  else report dockerd "stopped"; all=1; fi
  if pid=$(pid_of "$CONTAINERD_PIDFILE" containerd); then report containerd "running pid $pid"
  else report containerd "stopped"; all=1; fi
  if pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config") && port_open "$SSH_PORT"; then
    report sshd "running pid $pid $SSH_HOST:$SSH_PORT (key only), :$LEGACY_SSH_PORT (password, bench only)"
  else report sshd "stopped"; all=1; fi
  if pid=$(pid_of "$RUN/nginx.pid" "$NGINX_CONF") && port_open "$FRONT_PORT"; then
    report nginx "running pid $pid $HOST_ADDR:$FRONT_PORT -> $(live_color)"
  else report nginx "stopped"; all=1; fi
  if docker_ok; then
    # Required: the live color's container and loop-auth. The other color may be stopped or absent.
    live="loop-api-$(live_color)"
    for name in loop-api-blue loop-api-green loop-auth; do
      state=$(container_state "$name")
      h=$(container_health "$name")
      if [[ $name == "$live" || $name == loop-auth ]]; then
        [[ $name == "$live" ]] && h="$h, live"
        [[ $state == running ]] || all=1
      elif [[ $state == missing ]]; then
        continue
      fi
      [[ $name == loop-auth && $state != missing ]] \
        && h="$h, version $(dk inspect -f '{{ index .Config.Labels "loop-ops.version" }}' loop-auth 2>/dev/null)"
      report "$name" "$state ($h)"
    done
  fi
  if body=$(http_get "$FRONT_URL/health" 2 2>/dev/null); then
    report front "up $FRONT_URL/health $body"
  else report front "down $FRONT_URL/health"; all=1; fi
  if [[ -f $STATE/app-fingerprint && $(< "$STATE/app-fingerprint") == "$(dir_fingerprint "$APP_SRC")" ]] \
     && [[ -f $STATE/loop-auth-fingerprint && $(< "$STATE/loop-auth-fingerprint") == "$(dir_fingerprint "$AUTH_SRC")" ]]; then
    report app-src "in sync with test/sandbox/app and test/sandbox/auth"
  else report app-src "stale (test/sandbox/app or test/sandbox/auth changed, or never installed)"; all=1; fi
  if [[ -s $SCOPED_SUDOERS ]] && grep -q "^AllowUsers.* $SCOPED_USER" "$SSH_DIR/sshd_config" 2>/dev/null \
     && [[ -n $RULES_DIR ]] && same_rules "$RULES_DIR/$HOST" "$SCOPED_SUDOERS"; then
    report scoped-sudo "$SCOPED_USER: $(grep -c "^$SCOPED_USER " "$SCOPED_SUDOERS") root commands ($SCOPED_SUDOERS)"
  else report scoped-sudo "missing or stale ($SCOPED_USER, $SCOPED_SUDOERS, AllowUsers)"; all=1; fi
  return "$all"
}

RULES_DIR=   # status: the rules every host should have (sudoers_rules), generated once
cmd_status() {
  local all=0 h
  RULES_DIR=$(mktemp -d)
  CLEANUP+=("rm -rf '$RULES_DIR'")
  [[ -s $LOCAL/config.yaml ]] && sudoers_rules "$RULES_DIR" 2>/dev/null || RULES_DIR=
  for h in "${HOSTS[@]}"; do status_host "$h" || all=1; done
  use_host prod
  if [[ -s $LOCAL/config.yaml && -s $LOCAL/config-single.yaml && -s $LOCAL/config-single-staging.yaml && -s $LOCAL/sandbox.json && -s $LOCAL/id_ed25519 ]] \
     && grep -q '"configSinglePath": "[^"]*-staging.yaml"' "$LOCAL/sandbox.json" \
     && cmp -s "$LOCAL/id_ed25519" "$SECRETS/id_ed25519" 2>/dev/null \
     && cmp -s "$LOCAL/secrets/sudo-password" "$SECRETS/sudo-password" 2>/dev/null; then
    printf '%-19s %s\n' facts "$LOCAL"
  else printf '%-19s %s\n' facts "missing or stale in $LOCAL"; all=1; fi
  bash "$TPL/swarm.sh" status || all=1
  return "$all"
}

cmd_commit() {
  require_root
  local msg="test commit" target=prod app=loop-api kv file content tmp sha
  local -a sets=()
  while (( $# )); do
    case $1 in
      -m) msg=$2; shift 2 ;;
      --target) target=$2; shift 2 ;;
      --app) app=$2; shift 2 ;;
      *=*) sets+=("$1"); shift ;;
      *) die "commit: expected FILE=CONTENT, -m MSG, --target NAME or --app NAME, got '$1'" ;;
    esac
  done
  (( ${#sets[@]} )) || die "commit: nothing to change (give FILE=CONTENT)"
  use_host "$target"
  use_app "$app"
  [[ -d $A_ORIGIN ]] || die "commit: no origin for $app on $target ($A_ORIGIN); run 'up' first"
  tmp=$(mktemp -d)
  CLEANUP+=("rm -rf '$tmp'")
  chown "$NAS_USER:$NAS_USER" "$tmp"
  git_nas clone -q -b "$BRANCH" "$A_ORIGIN" "$tmp/w"
  for kv in "${sets[@]}"; do
    file=${kv%%=*}; content=${kv#*=}
    [[ $file != /* && $file != *..* ]] || die "commit: bad path $file"
    # shellcheck disable=SC2016  # expanded by the inner sh
    as_nas sh -c 'mkdir -p "$(dirname "$1")" && printf "%s\n" "$2" > "$1"' sh "$tmp/w/$file" "$content"
  done
  git_nas -C "$tmp/w" add -A
  as_nas env "${GIT_IDENTITY[@]}" git -C "$tmp/w" commit -q --allow-empty -m "$msg"
  git_nas -C "$tmp/w" push -q origin "HEAD:$BRANCH"
  sha=$(git_nas -C "$tmp/w" rev-parse HEAD)
  printf '%s\n' "$sha"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  reset) shift; cmd_reset "$@" ;;
  commit) shift; cmd_commit "$@" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
