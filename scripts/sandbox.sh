#!/usr/bin/env bash
# The sandbox NAS: a local stand-in for the owner's Synology (Docker + OpenSSH + nginx + password sudo).
#
#   bash scripts/sandbox.sh up              install what is missing, start everything (idempotent)
#   bash scripts/sandbox.sh status          one line per component; exit 0 if all up, 1 otherwise
#   bash scripts/sandbox.sh reset           put the app back to its initial state (blue, initial commit)
#   bash scripts/sandbox.sh down [--purge]  stop everything `up` started; --purge also deletes all data
#   bash scripts/sandbox.sh commit [-m MSG] FILE=CONTENT...
#                                           push a new commit to the checkout's origin (for tests);
#                                           prints the new commit sha
#
# Needs root and Debian (apt). Everything lives under /var/lib/loop-sandbox; the per-clone facts
# (key, known_hosts, sudo password, config.yaml, sandbox.json) go to <repo>/.sandbox/.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TPL=$REPO_ROOT/scripts/sandbox
APP_SRC=$REPO_ROOT/test/sandbox/app
LOCAL=$REPO_ROOT/.sandbox

ROOT=/var/lib/loop-sandbox
RUN=$ROOT/run
LOGS=$ROOT/log
SECRETS=$ROOT/secrets
STATE=$ROOT/state
SSH_DIR=$ROOT/ssh
NGINX_DIR=$ROOT/nginx
NGINX_CONF=$NGINX_DIR/nginx.conf
UPSTREAM_DIR=$NGINX_DIR/upstream
UPSTREAM_FILE=$UPSTREAM_DIR/loop-api.conf
DOCKER_ROOT=$ROOT/docker
VOLUME1=$ROOT/volume1
APP_DIR=$VOLUME1/docker/loop-api
CHECKOUT=$APP_DIR/src
ORIGIN=$APP_DIR/origin.git
VAULT=$APP_DIR/vault
OPS_STATE=$VOLUME1/docker/loop-ops

NAS_USER=loopadmin      # full password sudo, like a Synology admin: owns the app files; the owner's-way benchmark logs in as it
NAS_HOME=/home/$NAS_USER
# The user loop-ops-mcp and the tests log in as: same key and password, but sudo scoped to exactly the
# root commands the product runs (the file `loop-ops-mcp sudoers` prints, installed as SCOPED_SUDOERS).
SCOPED_USER=loopops
SCOPED_HOME=/home/$SCOPED_USER
SCOPED_SUDOERS=/etc/sudoers.d/loop-sandbox-scoped
SSH_HOST=127.0.0.1
SSH_PORT=2222
LEGACY_SSH_PORT=2022   # password login allowed, for the owner's-way benchmark only
FRONT_PORT=8082
CONTAINER_PORT=8081
BLUE_PORT=18081
GREEN_PORT=18082
AUTH_PORT=18090
NETWORK=loop_default
BRANCH=main
DOCKER=/usr/bin/docker
BASE_IMAGE=loop-sandbox/base:1
INITIAL_IMAGE=loop-api:sandbox-initial
AUTH_IMAGE=loop-auth:sandbox
DOCKER_EXEC_ROOT=/var/run/docker
CONTAINERD_PIDFILE=$DOCKER_EXEC_ROOT/containerd/containerd.pid
CONTAINERD_ADDR=$DOCKER_EXEC_ROOT/containerd/containerd.sock
PACKAGES=(docker.io openssh-server nginx sudo busybox-static git sshpass acl)
# Fixed identity and dates make the initial commit's sha a function of the app's content.
GIT_IDENTITY=(GIT_AUTHOR_NAME="Loop Sandbox" GIT_AUTHOR_EMAIL=sandbox@loop.invalid
  GIT_COMMITTER_NAME="Loop Sandbox" GIT_COMMITTER_EMAIL=sandbox@loop.invalid)
INITIAL_DATE="2024-01-01T00:00:00Z"

T0=$(date +%s%N)
say() { printf '[sandbox] %s\n' "$*"; }
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

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

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

# Serialise up/down/reset. Daemons are started with fd 9 closed (9>&-), or they would hold the lock forever.
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

# ---------------------------------------------------------------- 2. dockerd

start_dockerd() {
  local pid i
  if pid=$(pid_of "$RUN/dockerd.pid" dockerd) && docker_ok; then
    say "dockerd: running (pid $pid)"
    return
  fi
  if [[ -z ${pid:-} ]] && docker_ok; then
    die "a Docker daemon not started by the sandbox already answers on /var/run/docker.sock; stop it first"
  fi
  if [[ -z ${pid:-} ]]; then
    rm -f "$RUN/dockerd.pid"
    setsid /usr/sbin/dockerd --iptables=false --bridge=none --storage-driver=vfs \
      --data-root "$DOCKER_ROOT" --exec-root "$DOCKER_EXEC_ROOT" --pidfile "$RUN/dockerd.pid" \
      < /dev/null >> "$LOGS/dockerd.log" 2>&1 9>&- &
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

# Let both NAS users read and write the app's checkout, origin, state and upstream dirs, whoever
# created a file (default ACLs are inherited whatever the umask). Idempotent.
share_dirs() {
  local d
  for d in "$APP_DIR" "$OPS_STATE" "$UPSTREAM_DIR"; do
    setfacl -R -m "u:$SCOPED_USER:rwX,u:$NAS_USER:rwX" "$d"
    find "$d" -type d -exec setfacl -m "d:u:$SCOPED_USER:rwX,d:u:$NAS_USER:rwX" {} +
  done
}

# The sudoers file of the scoped user: generated by the product from the config it runs with.
scoped_sudoers() {
  local tsx=$REPO_ROOT/node_modules/.bin/tsx tmp
  [[ -x $tsx ]] || die "$tsx is missing: run 'npm ci' in $REPO_ROOT first (the scoped sudoers file is generated by loop-ops-mcp)"
  tmp=$(mktemp)
  if ! "$tsx" "$REPO_ROOT/src/cli.ts" sudoers --config "$LOCAL/config.yaml" --user "$SCOPED_USER" > "$tmp"; then
    rm -f "$tmp"; die "loop-ops-mcp sudoers failed"
  fi
  visudo -cqf "$tmp" || { rm -f "$tmp"; die "the generated sudoers file is invalid (visudo -cf)"; }
  write_file "$SCOPED_SUDOERS" 440 root:root < "$tmp"
  rm -f "$tmp"
  if (( CHANGED )); then say "sudo: $SCOPED_SUDOERS written ($(grep -c "^$SCOPED_USER " "$SCOPED_SUDOERS") root commands for $SCOPED_USER)"; fi
}

# ---------------------------------------------------------------- 4. sshd

HOST_FP=
start_sshd() {
  install -d -m 700 "$SSH_DIR"
  if ! ssh-keygen -y -f "$SSH_DIR/ssh_host_ed25519_key" >/dev/null 2>&1; then
    rm -f "$SSH_DIR/ssh_host_ed25519_key" "$SSH_DIR/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "loop-sandbox-nas" -f "$SSH_DIR/ssh_host_ed25519_key"
    say "sshd: generated host key"
  fi
  local changed pid
  write_file "$SSH_DIR/sshd_config" 644 < "$TPL/sshd_config"
  changed=$CHANGED
  install -d -m 755 /run/sshd   # privilege separation directory (normally made by the init script)
  printf '[%s]:%s %s\n' "$SSH_HOST" "$SSH_PORT" "$(awk '{print $1" "$2}' "$SSH_DIR/ssh_host_ed25519_key.pub")" \
    | write_file "$LOCAL/known_hosts" 644
  HOST_FP=$(ssh-keygen -lf "$SSH_DIR/ssh_host_ed25519_key.pub" | awk '{print $2}')

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
  /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$LOGS/sshd.log" < /dev/null > /dev/null 2>&1 9>&-
  local i
  for (( i = 0; i < 100; i++ )); do
    pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config") && port_open "$SSH_PORT" && break
    sleep 0.05
  done
  [[ -n ${pid:-} ]] || die "sshd did not start (log $LOGS/sshd.log)"
  say "sshd: started (pid $pid, $SSH_HOST:$SSH_PORT, host key $HOST_FP)"
}

# ---------------------------------------------------------------- 5. NAS filesystem, git checkout

ensure_dirs() {
  install -d -m 755 "$ROOT" "$RUN" "$LOGS" "$STATE" "$VOLUME1" "$VOLUME1/docker"
  install -d -m 755 -o "$NAS_USER" -g "$NAS_USER" "$APP_DIR" "$VAULT" "$OPS_STATE"
  # Root (tests) works in repos owned by the NAS user: tell git they are safe.
  local d
  for d in "$CHECKOUT" "$ORIGIN"; do
    git config --system --get-all safe.directory 2>/dev/null | grep -qxF "$d" \
      || git config --system --add safe.directory "$d"
  done
}

APP_FP=
INITIAL_COMMIT=
APP_REINIT=0
ensure_repos() {
  APP_FP=$(dir_fingerprint "$APP_SRC")
  local ok=1
  [[ -f $STATE/app-fingerprint && $(< "$STATE/app-fingerprint") == "$APP_FP" ]] || ok=0
  [[ -s $STATE/initial-commit ]] || ok=0
  if (( ok )); then
    INITIAL_COMMIT=$(< "$STATE/initial-commit")
    git_nas -C "$ORIGIN" cat-file -e "$INITIAL_COMMIT^{commit}" 2>/dev/null || ok=0
    git_nas -C "$CHECKOUT" rev-parse -q --verify HEAD >/dev/null 2>&1 || ok=0
  fi
  if (( ok )); then
    say "checkout: ok ($CHECKOUT, initial commit ${INITIAL_COMMIT:0:12})"
    return
  fi
  say "checkout: initialising from test/sandbox/app (fingerprint $APP_FP)"
  rm -rf "$ORIGIN" "$CHECKOUT"
  install -d -m 755 -o "$NAS_USER" -g "$NAS_USER" "$ORIGIN" "$CHECKOUT"
  git_nas init -q --bare -b "$BRANCH" "$ORIGIN"
  git_nas init -q -b "$BRANCH" "$CHECKOUT"
  cp -R "$APP_SRC/." "$CHECKOUT/"
  chown -R "$NAS_USER:$NAS_USER" "$CHECKOUT"
  git_nas -C "$CHECKOUT" config user.name "NAS Admin"
  git_nas -C "$CHECKOUT" config user.email "loopadmin@nas.invalid"
  git_nas -C "$CHECKOUT" add -A
  as_nas env "${GIT_IDENTITY[@]}" GIT_AUTHOR_DATE="$INITIAL_DATE" GIT_COMMITTER_DATE="$INITIAL_DATE" \
    git -C "$CHECKOUT" commit -q -m "loop-api sandbox app $(head -n1 "$APP_SRC/VERSION")"
  git_nas -C "$CHECKOUT" remote add origin "$ORIGIN"
  git_nas -C "$CHECKOUT" push -q -u origin "$BRANCH"
  INITIAL_COMMIT=$(git_nas -C "$CHECKOUT" rev-parse HEAD)
  printf '%s\n' "$INITIAL_COMMIT" > "$STATE/initial-commit"
  printf '%s\n' "$APP_FP" > "$STATE/app-fingerprint"
  APP_REINIT=1
  say "checkout: initial commit $INITIAL_COMMIT, origin $ORIGIN"
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

# Build loop-api:sandbox-initial from the initial commit (git archive: independent of the checkout's HEAD).
ensure_initial_image() {
  if image_exists "$INITIAL_IMAGE" && [[ $(image_label "$INITIAL_IMAGE" loop-sandbox.commit) == "$INITIAL_COMMIT" ]] \
     && [[ $(image_label "$INITIAL_IMAGE" loop-sandbox.base) == "$(dk image inspect -f '{{.Id}}' "$BASE_IMAGE")" ]]; then
    say "image $INITIAL_IMAGE: ok"
    return
  fi
  git_nas -C "$ORIGIN" archive --format=tar "$INITIAL_COMMIT" \
    | dk build -q -t "$INITIAL_IMAGE" --label "loop-sandbox.commit=$INITIAL_COMMIT" \
        --label "loop-sandbox.base=$(dk image inspect -f '{{.Id}}' "$BASE_IMAGE")" - >/dev/null
  say "image $INITIAL_IMAGE: built from ${INITIAL_COMMIT:0:12}"
}

AUTH_REBUILT=0
ensure_auth_image() {
  local fp
  AUTH_REBUILT=0
  fp=$(dir_fingerprint "$TPL/loop-auth")
  if image_exists "$AUTH_IMAGE" && [[ $(image_label "$AUTH_IMAGE" loop-sandbox.fingerprint) == "$fp" ]] \
     && [[ $(image_label "$AUTH_IMAGE" loop-sandbox.base) == "$(dk image inspect -f '{{.Id}}' "$BASE_IMAGE")" ]]; then
    say "image $AUTH_IMAGE: ok"
    return
  fi
  dk build -q -t "$AUTH_IMAGE" --label "loop-sandbox.fingerprint=$fp" \
    --label "loop-sandbox.base=$(dk image inspect -f '{{.Id}}' "$BASE_IMAGE")" "$TPL/loop-auth" >/dev/null
  AUTH_REBUILT=1
  say "image $AUTH_IMAGE: built"
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

ensure_auth() {
  local state
  ensure_auth_image
  state=$(container_state loop-auth)
  if [[ $state != missing ]] && (( AUTH_REBUILT )); then
    dk rm -f loop-auth >/dev/null
    state=missing
  fi
  case $state in
    running) say "container loop-auth: running" ;;
    missing)
      dk run -d --name loop-auth --network "$NETWORK" -p "127.0.0.1:$AUTH_PORT:8080" \
        --restart unless-stopped --label loop-ops.app=loop-auth "$AUTH_IMAGE" >/dev/null
      say "container loop-auth: started (127.0.0.1:$AUTH_PORT)" ;;
    *)
      dk start loop-auth >/dev/null
      say "container loop-auth: was $state, started" ;;
  esac
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
    body=$(http_get "http://127.0.0.1:$FRONT_PORT/health" 2 2>/dev/null) && grep -q -- "$pat" <<< "$body" && {
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
  /usr/sbin/nginx -q -c "$NGINX_CONF" -t || die "nginx -t failed"
  local out
  out=$(/usr/sbin/nginx -c "$NGINX_CONF" -s reload 2>&1) || { printf '%s\n' "$out" >&2; die "nginx reload failed"; }
}

start_nginx() {
  install -d -m 755 "$NGINX_DIR" "$NGINX_DIR/tmp"
  install -d -m 755 -o "$NAS_USER" -g "$NAS_USER" "$UPSTREAM_DIR"
  [[ -s $UPSTREAM_FILE ]] || write_upstream_blue
  local changed pid
  write_file "$NGINX_CONF" 644 < "$TPL/nginx.conf"
  changed=$CHANGED
  if pid=$(pid_of "$RUN/nginx.pid" "$NGINX_CONF"); then
    if (( changed )); then
      nginx_reload
      say "nginx: config changed, reloaded (pid $pid)"
    else
      say "nginx: running (pid $pid, 127.0.0.1:$FRONT_PORT -> $(live_color))"
    fi
    return
  fi
  port_open "$FRONT_PORT" && die "port $FRONT_PORT is in use by another process"
  /usr/sbin/nginx -q -c "$NGINX_CONF" -t || die "nginx -t failed for $NGINX_CONF"
  rm -f "$RUN/nginx.pid"
  /usr/sbin/nginx -c "$NGINX_CONF" < /dev/null > /dev/null 2>> "$LOGS/nginx-error.log" 9>&-
  local i
  for (( i = 0; i < 100; i++ )); do
    pid=$(pid_of "$RUN/nginx.pid" "$NGINX_CONF") && port_open "$FRONT_PORT" && break
    sleep 0.05
  done
  [[ -n ${pid:-} ]] || die "nginx did not start (log $LOGS/nginx-error.log)"
  say "nginx: started (pid $pid, 127.0.0.1:$FRONT_PORT -> $(live_color))"
}

# ---------------------------------------------------------------- reset

reset_app() {
  local ids name img
  ids=$( { dk ps -aq --filter label=loop-ops.app=loop-api; dk ps -aq --filter 'name=^/?loop-api-'; } | sort -u)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    say "reset: removing containers $(dk inspect -f '{{.Name}}' $ids | tr -d / | tr '\n' ' ')"
    # shellcheck disable=SC2086
    dk rm -f $ids >/dev/null
  fi
  chown -R "$NAS_USER:$NAS_USER" "$ORIGIN" "$CHECKOUT"
  # origin: only main, at the initial commit
  git_nas -C "$ORIGIN" symbolic-ref HEAD "refs/heads/$BRANCH"
  git_nas -C "$ORIGIN" update-ref "refs/heads/$BRANCH" "$INITIAL_COMMIT"
  while read -r name; do
    [[ -z $name || $name == "refs/heads/$BRANCH" ]] || git_nas -C "$ORIGIN" update-ref -d "$name"
  done < <(git_nas -C "$ORIGIN" for-each-ref --format='%(refname)')
  # checkout: main at the initial commit, clean, tracking origin/main
  git_nas -C "$CHECKOUT" fetch -q --prune --prune-tags origin
  git_nas -C "$CHECKOUT" checkout -q -f -B "$BRANCH" "$INITIAL_COMMIT"
  git_nas -C "$CHECKOUT" reset -q --hard "$INITIAL_COMMIT"
  git_nas -C "$CHECKOUT" clean -q -fdx
  git_nas -C "$CHECKOUT" branch -q -u "origin/$BRANCH" "$BRANCH"
  while read -r name; do
    [[ -z $name || $name == "refs/heads/$BRANCH" || $name == refs/remotes/* ]] || git_nas -C "$CHECKOUT" update-ref -d "$name"
  done < <(git_nas -C "$CHECKOUT" for-each-ref --format='%(refname)')
  # images: only the initial one (and the base) remain
  while read -r img; do
    [[ -z $img || $img == "$INITIAL_IMAGE" ]] || dk rmi -f "$img" >/dev/null 2>&1 || true
  done < <(dk images --format '{{.Repository}}:{{.Tag}}' loop-api)
  dk image prune -f >/dev/null 2>&1 || true
  ensure_initial_image
  # state of loop-ops-mcp (lock, journal, history)
  find "$OPS_STATE" -mindepth 1 -delete
  chown "$NAS_USER:$NAS_USER" "$OPS_STATE"
  run_blue
  write_upstream_blue
  nginx_reload
  ensure_auth
  wait_healthy loop-api-blue 30 || die "loop-api-blue did not become healthy"
  wait_front 15 '"color":"blue"' || die "front $FRONT_PORT does not answer with blue"
  say "reset: done, live blue ${INITIAL_COMMIT:0:12} ($(elapsed))"
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
    say "app: front http://127.0.0.1:$FRONT_PORT/health not healthy, resetting"
    reset_app
  fi
}

# ---------------------------------------------------------------- 11. config for the product, facts for tests

write_facts() {
  local version
  version=$(git_nas -C "$ORIGIN" show "$INITIAL_COMMIT:VERSION" | head -n1)
  write_file "$LOCAL/config.yaml" 644 <<EOF
# Generated by scripts/sandbox.sh for the sandbox NAS. Do not edit: rewritten by 'npm run sandbox -- up'.
nas:
  host: $SSH_HOST
  port: $SSH_PORT
  username: $SCOPED_USER
  privateKeyPath: $LOCAL/id_ed25519
  hostKeyFingerprint: "$HOST_FP"
  knownHostsPath: $LOCAL/known_hosts
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
  publicHealthUrl: http://127.0.0.1:$FRONT_PORT/health
nginx:
  upstreamFile: $UPSTREAM_FILE
  testCommand: [/usr/sbin/nginx, -c, $NGINX_CONF, -t]
  reloadCommand: [/usr/sbin/nginx, -c, $NGINX_CONF, -s, reload]
state:
  dir: $OPS_STATE
EOF
  write_file "$LOCAL/sandbox.json" 644 <<EOF
{
  "repoRoot": "$REPO_ROOT",
  "rootDir": "$ROOT",
  "volume1": "$VOLUME1",
  "configPath": "$LOCAL/config.yaml",
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
    "knownHostsPath": "$LOCAL/known_hosts",
    "hostKeyFingerprint": "$HOST_FP"
  },
  "sudoPasswordFile": "$LOCAL/secrets/sudo-password",
  "dockerBinary": "$DOCKER",
  "app": {
    "name": "loop-api",
    "checkoutDir": "$CHECKOUT",
    "originRepo": "$ORIGIN",
    "branch": "$BRANCH",
    "initialCommit": "$INITIAL_COMMIT",
    "initialVersion": "$version",
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
  "auth": { "container": "loop-auth", "image": "$AUTH_IMAGE", "hostPort": $AUTH_PORT },
  "stateDir": "$OPS_STATE",
  "nginx": {
    "conf": "$NGINX_CONF",
    "upstreamFile": "$UPSTREAM_FILE",
    "testCommand": ["/usr/sbin/nginx", "-c", "$NGINX_CONF", "-t"],
    "reloadCommand": ["/usr/sbin/nginx", "-c", "$NGINX_CONF", "-s", "reload"],
    "accessLog": "$LOGS/nginx-access.log"
  },
  "frontUrl": "http://127.0.0.1:$FRONT_PORT",
  "publicHealthUrl": "http://127.0.0.1:$FRONT_PORT/health",
  "logDir": "$LOGS"
}
EOF
  say "facts: $LOCAL/config.yaml, $LOCAL/sandbox.json"
}

# ---------------------------------------------------------------- commands

cmd_up() {
  require_root
  lock
  install -d -m 755 "$ROOT" "$LOGS" "$RUN"
  install_packages
  ensure_user
  ensure_scoped_user
  ensure_dirs
  start_dockerd
  start_sshd
  ensure_repos
  ensure_base_image
  ensure_network
  ensure_auth
  start_nginx
  ensure_app
  share_dirs
  write_facts
  scoped_sudoers
  bash "$TPL/swarm.sh" up 9>&- || die "the Swarm host did not come up (scripts/sandbox/swarm.sh)"
  say "up: ready in $(elapsed); front http://127.0.0.1:$FRONT_PORT/health, ssh $SCOPED_USER@$SSH_HOST:$SSH_PORT (scoped sudo), $NAS_USER (full sudo)"
}

cmd_reset() {
  require_root
  lock
  docker_ok || die "docker is not running; run 'up' first"
  pid_of "$RUN/nginx.pid" "$NGINX_CONF" >/dev/null || die "nginx is not running; run 'up' first"
  [[ -s $STATE/initial-commit ]] || die "sandbox not initialised; run 'up' first"
  INITIAL_COMMIT=$(< "$STATE/initial-commit")
  reset_app
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

cmd_down() {
  require_root
  local purge=0
  [[ ${1:-} == --purge ]] && purge=1
  lock
  bash "$TPL/swarm.sh" down 9>&- || die "the Swarm host did not stop (scripts/sandbox/swarm.sh)"
  local pid kids p q leftovers=() extra
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
  # verify: by process name for the Docker family, by our config path for sshd and nginx
  local what
  for what in dockerd containerd containerd-shim docker-proxy; do
    p=$(live_by_name "$what" | tr '\n' ' ')
    [[ -z ${p// /} ]] || leftovers+=("$what: $p")
  done
  for what in "sshd -f $SSH_DIR/sshd_config" "nginx -c $NGINX_CONF"; do
    p=$(live_pids "$what" | tr '\n' ' ')
    [[ -z ${p// /} ]] || leftovers+=("$what: $p")
  done
  # nginx workers of ours have no conf path in their title; any nginx worker whose master is gone is ours
  for p in $(live_by_name nginx); do
    if [[ $(ps -o ppid= -p "$p" | tr -d ' ') == 1 ]]; then leftovers+=("orphan nginx: $p"); fi
  done
  if (( ${#leftovers[@]} )); then
    printf '[sandbox] still running: %s\n' "${leftovers[@]}" >&2
    die "down: some processes are still running"
  fi
  say "down: nothing left running (dockerd, containerd, shims, docker-proxy, sshd :$SSH_PORT, nginx :$FRONT_PORT)"
  if (( purge )); then
    # vfs layers may include read-only dirs; make sure everything goes
    rm -rf "$ROOT" "$LOCAL"
    rm -f /etc/sudoers.d/loop-sandbox "$SCOPED_SUDOERS"
    say "down --purge: removed $ROOT, $LOCAL, /etc/sudoers.d/loop-sandbox and $SCOPED_SUDOERS (users $NAS_USER, $SCOPED_USER kept)"
  fi
}

cmd_status() {
  local all=0 pid name state live body h
  report() { printf '%-11s %s\n' "$1" "$2"; }
  if pid=$(pid_of "$RUN/dockerd.pid" dockerd) && docker_ok; then
    report dockerd "running pid $pid (docker info ok, data $DOCKER_ROOT)"
  else report dockerd "stopped"; all=1; fi
  if pid=$(pid_of "$CONTAINERD_PIDFILE" containerd); then report containerd "running pid $pid"
  else report containerd "stopped"; all=1; fi
  if pid=$(pid_of "$RUN/sshd.pid" "$SSH_DIR/sshd_config") && port_open "$SSH_PORT"; then
    report sshd "running pid $pid $SSH_HOST:$SSH_PORT (key only), :$LEGACY_SSH_PORT (password, bench only)"
  else report sshd "stopped"; all=1; fi
  if pid=$(pid_of "$RUN/nginx.pid" "$NGINX_CONF") && port_open "$FRONT_PORT"; then
    report nginx "running pid $pid 127.0.0.1:$FRONT_PORT -> $(live_color)"
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
      report "$name" "$state ($h)"
    done
  fi
  if body=$(http_get "http://127.0.0.1:$FRONT_PORT/health" 2 2>/dev/null); then
    report front "up http://127.0.0.1:$FRONT_PORT/health $body"
  else report front "down http://127.0.0.1:$FRONT_PORT/health"; all=1; fi
  if [[ -f $STATE/app-fingerprint && $(< "$STATE/app-fingerprint") == "$(dir_fingerprint "$APP_SRC")" ]]; then
    report app-src "in sync with test/sandbox/app"
  else report app-src "stale (test/sandbox/app changed or never installed)"; all=1; fi
  if [[ -s $LOCAL/config.yaml && -s $LOCAL/sandbox.json && -s $LOCAL/id_ed25519 ]] \
     && cmp -s "$LOCAL/id_ed25519" "$SECRETS/id_ed25519" 2>/dev/null \
     && cmp -s "$LOCAL/secrets/sudo-password" "$SECRETS/sudo-password" 2>/dev/null; then
    report facts "$LOCAL"
  else report facts "missing or stale in $LOCAL"; all=1; fi
  if [[ -s $SCOPED_SUDOERS ]] && grep -q "^AllowUsers.* $SCOPED_USER" "$SSH_DIR/sshd_config" 2>/dev/null \
     && [[ -x $REPO_ROOT/node_modules/.bin/tsx && -s $LOCAL/config.yaml ]] \
     && cmp -s "$SCOPED_SUDOERS" <("$REPO_ROOT/node_modules/.bin/tsx" "$REPO_ROOT/src/cli.ts" sudoers --config "$LOCAL/config.yaml" --user "$SCOPED_USER" 2>/dev/null); then
    report scoped-sudo "$SCOPED_USER: $(grep -c "^$SCOPED_USER " "$SCOPED_SUDOERS") root commands ($SCOPED_SUDOERS)"
  else report scoped-sudo "missing or stale ($SCOPED_USER, $SCOPED_SUDOERS, AllowUsers)"; all=1; fi
  bash "$TPL/swarm.sh" status || all=1
  return "$all"
}

cmd_commit() {
  require_root
  local msg="test commit" kv file content tmp sha
  local -a sets=()
  while (( $# )); do
    case $1 in
      -m) msg=$2; shift 2 ;;
      *=*) sets+=("$1"); shift ;;
      *) die "commit: expected FILE=CONTENT or -m MSG, got '$1'" ;;
    esac
  done
  (( ${#sets[@]} )) || die "commit: nothing to change (give FILE=CONTENT)"
  tmp=$(mktemp -d)
  CLEANUP+=("rm -rf '$tmp'")
  chown "$NAS_USER:$NAS_USER" "$tmp"
  git_nas clone -q -b "$BRANCH" "$ORIGIN" "$tmp/w"
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
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
