#!/usr/bin/env bash
# Collects SSH host keys for review. why-blocked never trusts a host key on first use, so someone must
# confirm each key before the bot may connect. This script does the collecting; a human does the trusting:
#   deploy/host/collect-host-keys.sh --inventory /etc/why-blocked/inventory.yml --out known_hosts.review
#   deploy/host/collect-host-keys.sh 10.20.0.10 '[10.20.0.11]:2222'
# It writes ONLY the review file and prints each key's fingerprint. Compare those fingerprints out of band
# (on the host's console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub, or your CMDB), then append the
# lines you verified to the workers' known_hosts yourself.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: collect-host-keys.sh [--inventory FILE] [--out FILE] [--types LIST] [--timeout SECONDS] [--force] [HOST[:PORT] ...]

  --inventory FILE   scan every host of this why-blocked inventory (address and ssh.port)
  HOST[:PORT]        scan these too; IPv6 with a port as [addr]:port
  --out FILE         review file to write (default: ./known_hosts.review); never a live known_hosts
  --types LIST       key types for ssh-keyscan (default: ed25519,ecdsa,rsa)
  --timeout SECONDS  per-host ssh-keyscan timeout (default: 5)
  --force            overwrite an existing review file
USAGE
}

die() { echo "collect-host-keys: $*" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
inventory='' out='./known_hosts.review' types='ed25519,ecdsa,rsa' timeout=5 force=0
targets=()

while [ $# -gt 0 ]; do
  case "$1" in
    --inventory) [ $# -ge 2 ] || die "--inventory needs a file"; inventory=$2; shift 2 ;;
    --out) [ $# -ge 2 ] || die "--out needs a file"; out=$2; shift 2 ;;
    --types) [ $# -ge 2 ] || die "--types needs a list"; types=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs seconds"; timeout=$2; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) targets+=("$1"); shift ;;
  esac
done

[[ "$types" =~ ^(ed25519|ecdsa|rsa)(,(ed25519|ecdsa|rsa))*$ ]] || die "--types must be a comma list of ed25519, ecdsa, rsa"
[[ "$timeout" =~ ^[1-9][0-9]?$ ]] || die "--timeout must be 1-99 seconds"
case "$(basename "$out")" in
  known_hosts|ssh_known_hosts) die "--out $out looks like a live known_hosts; write a review file and append verified lines yourself" ;;
esac
if [ -e "$out" ] && [ "$force" -ne 1 ]; then die "--out $out exists; review or remove it first (or pass --force)"; fi
command -v ssh-keyscan >/dev/null || die "ssh-keyscan not found: install openssh-client"

# Inventory hosts as "name address port jump" lines, through the product's own loader.
if [ -n "$inventory" ]; then
  [ -r "$inventory" ] || die "--inventory $inventory is not readable"
  json=$(node "$repo/src/cli/why-blocked.js" inventory check "$inventory" --json) || die "the inventory is invalid (see above)"
  while read -r name address port jump; do
    if [ "$jump" != - ]; then
      echo "collect-host-keys: skipping $name: it is reached through $jump, so scan it from there (ssh-keyscan -p $port $address on $jump)" >&2
      continue
    fi
    targets+=("$name=$address:$port")
  done < <(printf '%s' "$json" | node -e '
    let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => {
      for (const h of JSON.parse(s).hosts) {
        const a = h.addresses[0];
        console.log([h.name, a.includes(":") ? `[${a}]` : a, h.ssh.port, h.ssh.jump ?? "-"].join(" "));
      }
    });')
fi
[ "${#targets[@]}" -gt 0 ] || { usage >&2; die "nothing to scan: pass --inventory or HOST[:PORT]"; }

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
{
  echo "# Host keys collected by collect-host-keys.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(hostname)."
  echo "# NOT TRUSTED YET: compare every fingerprint with the host itself, out of band, before using any line."
} > "$tmp"

failed=0
for t in "${targets[@]}"; do
  label=${t%%=*}; spec=${t#*=}
  [ "$label" != "$t" ] || label=$spec
  # [v6]:port, v4:port, or a bare host/address on 22.
  if [[ "$spec" =~ ^\[([^]]+)\]:([0-9]+)$ ]]; then host=${BASH_REMATCH[1]}; port=${BASH_REMATCH[2]}
  elif [[ "$spec" =~ ^([^:]+):([0-9]+)$ ]]; then host=${BASH_REMATCH[1]}; port=${BASH_REMATCH[2]}
  else host=$spec; port=22
  fi
  [[ "$host" =~ ^[A-Za-z0-9.:_-]+$ ]] || die "\"$spec\" is not a host name or address"
  if lines=$(ssh-keyscan -T "$timeout" -p "$port" -t "$types" "$host" 2>/dev/null) && [ -n "$lines" ]; then
    { echo "# $label"; printf '%s\n' "$lines" | sort; } >> "$tmp"
  else
    echo "collect-host-keys: no host key from $label ($host port $port): is sshd reachable from here?" >&2
    failed=$((failed + 1))
  fi
done

mv "$tmp" "$out"
trap - EXIT
chmod 0644 "$out"

echo "Wrote $out. Fingerprints to verify OUT OF BAND (console, CMDB, the host owner), one per key:"
grep -v '^#' "$out" | ssh-keygen -lf - || true
cat <<EOF_NOTE
On each host, as root:  for k in /etc/ssh/ssh_host_*_key.pub; do ssh-keygen -lf "\$k"; done
Only when every fingerprint matches, append the verified lines to the workers' known_hosts:
  grep -v '^#' $out >> /etc/why-blocked/known_hosts
A mismatch means you did not reach the host you think: stop and investigate.
EOF_NOTE
[ "$failed" -eq 0 ] || { echo "collect-host-keys: $failed host(s) gave no key" >&2; exit 3; }
