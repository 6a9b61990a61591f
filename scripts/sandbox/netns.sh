# Network namespaces as extra sandbox "hosts" on this machine (sourced by scripts/sandbox.sh; generic:
# every name and address is a parameter, so other sandbox hosts can use the same helpers).
#
#   netns_ensure NS HOST_IF HOST_CIDR NS_IF NS_CIDR   create NS and a veth pair HOST_IF <-> NS_IF (idempotent)
#   netns_exec NS CMD...                              run CMD in NS's network (CMD itself when NS is empty)
#   netns_pids NS                                     pids of the processes living in NS
#   netns_remove NS HOST_IF                           delete the veth pair and NS (fails if a process is left)
#
# netns_exec enters only the network namespace (nsenter --net): the process keeps this machine's
# filesystem and mounts, so a daemon started in NS sees the same files as the rest of the sandbox.
# `ip netns exec` would also unshare the mount namespace, and mounts a daemon makes there (dockerd's
# netns bind mounts) would be invisible outside it.

netns_exists() { [[ -n $1 && -e /run/netns/$1 ]]; }

netns_ensure() {
  local ns=$1 host_if=$2 host_cidr=$3 ns_if=$4 ns_cidr=$5
  netns_exists "$ns" || ip netns add "$ns"
  if ! ip link show "$host_if" >/dev/null 2>&1; then
    # A half-made pair (the ns end left behind by an interrupted run) would block `add`.
    ip -n "$ns" link del "$ns_if" 2>/dev/null || true
    ip link add "$host_if" type veth peer name "$ns_if" netns "$ns"
  fi
  ip -n "$ns" link show "$ns_if" >/dev/null 2>&1 \
    || { echo "netns_ensure: $host_if exists but its peer $ns_if is not in $ns" >&2; return 1; }
  ip addr show dev "$host_if" | grep -qF " ${host_cidr} " || ip addr replace "$host_cidr" dev "$host_if"
  ip -n "$ns" addr show dev "$ns_if" | grep -qF " ${ns_cidr} " || ip -n "$ns" addr replace "$ns_cidr" dev "$ns_if"
  ip link set "$host_if" up
  ip -n "$ns" link set "$ns_if" up
  ip -n "$ns" link set lo up
}

netns_exec() {
  local ns=$1; shift
  if [[ -z $ns ]]; then "$@"; else nsenter --net="/run/netns/$ns" -- "$@"; fi
}

netns_pids() { if netns_exists "$1"; then ip netns pids "$1" 2>/dev/null || true; fi; }

netns_remove() {
  local ns=$1 host_if=$2 left
  if ip link show "$host_if" >/dev/null 2>&1; then ip link del "$host_if"; fi
  netns_exists "$ns" || return 0
  left=$(netns_pids "$ns" | tr '\n' ' ')
  if [[ -n ${left// /} ]]; then
    echo "netns_remove: processes still in $ns: $left" >&2
    return 1
  fi
  ip netns del "$ns"
}
