#!/usr/bin/env bash
# Onboards one target host for why-blocked. Run it ON the target host, as root:
#   sudo ./onboard-host.sh --pubkey why-blocked.pub --from 10.20.0.5/32,10.20.0.6/32
# It (1) creates the probe user (no password, key login only), (2) authorizes the bot's public key
# with from="<worker addresses>",restrict so the key is useless from anywhere else and gets no pty,
# forwarding or agent, and (3) installs the sudoers file (after `visudo -cf`) and, when present next
# to this script, the root-owned helpers the sudoers file names: why-blocked-change (apply) and
# why-blocked-probe (read-only checks). Running it again converges to the same state.
set -euo pipefail
umask 022

usage() {
  cat <<'USAGE'
Usage: onboard-host.sh --pubkey FILE --from CIDR[,CIDR...] [options]

  --pubkey FILE          the workers' SSH public key (one line: ssh-ed25519 AAAA... [comment])
  --from CIDRS           comma-separated addresses/CIDRs the workers connect from (e.g. 10.20.0.5/32)
  --user NAME            probe user to create (default: whyblocked; must match the inventory ssh.user)
  --sudoers FILE         sudoers file to install (default: why-blocked.sudoers next to this script)
  --change-helper FILE   root-owned apply helper (default: why-blocked-change next to this script, if present)
  --probe-helper FILE    root-owned probe helper (default: why-blocked-probe next to this script, if present)
  --root DIR             operate on DIR as if it were / (user database, home, sudoers.d): for tests and images
  -h, --help             this text
USAGE
}

die() { echo "onboard-host: $*" >&2; exit 2; }
say() { echo "onboard-host: $*"; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pubkey_file='' from='' user='whyblocked' root='' sudoers="$here/why-blocked.sudoers" helper='' probe_helper=''
[ -e "$here/why-blocked-change" ] && helper="$here/why-blocked-change"
[ -e "$here/why-blocked-probe" ] && probe_helper="$here/why-blocked-probe"

while [ $# -gt 0 ]; do
  case "$1" in
    --pubkey) [ $# -ge 2 ] || die "--pubkey needs a file"; pubkey_file=$2; shift 2 ;;
    --from) [ $# -ge 2 ] || die "--from needs a CIDR list"; from=$2; shift 2 ;;
    --user) [ $# -ge 2 ] || die "--user needs a name"; user=$2; shift 2 ;;
    --sudoers) [ $# -ge 2 ] || die "--sudoers needs a file"; sudoers=$2; shift 2 ;;
    --change-helper) [ $# -ge 2 ] || die "--change-helper needs a file"; helper=$2; shift 2 ;;
    --probe-helper) [ $# -ge 2 ] || die "--probe-helper needs a file"; probe_helper=$2; shift 2 ;;
    --root) [ $# -ge 2 ] || die "--root needs a directory"; root=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

# --- validate everything before changing anything ---
[ "$(id -u)" -eq 0 ] || die "run as root (it creates a user and writes /etc/sudoers.d)"
[ -n "$pubkey_file" ] || die "--pubkey is required: the public half of the key in the workers' inventory ssh.privateKey"
[ -n "$from" ] || die "--from is required: the addresses the workers connect from, e.g. 10.20.0.5/32"
[[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user \"$user\" is not a valid login name (lowercase letters, digits, _ and -)"
[ "$user" != root ] || die "--user must not be root: the probe user gets only the sudoers commands"
[ -r "$pubkey_file" ] || die "--pubkey $pubkey_file is not a readable file"
if [ -n "$root" ]; then
  [ -d "$root" ] || die "--root $root is not a directory"
  root=$(cd "$root" && pwd)
  [ "$root" != / ] || root=''
fi

[ "$(grep -c '' "$pubkey_file")" -eq 1 ] || die "--pubkey $pubkey_file must hold exactly one key line"
read -r key_type key_blob _comment < "$pubkey_file" || true
case "$key_type" in
  ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa|sk-ssh-ed25519@openssh.com) ;;
  *) die "--pubkey $pubkey_file does not start with a public key type (ssh-ed25519, ecdsa-…, ssh-rsa); options are added by this script" ;;
esac
[[ "$key_blob" =~ ^[A-Za-z0-9+/]{40,}={0,2}$ ]] || die "--pubkey $pubkey_file has no valid base64 key after the type"
ssh-keygen -lf "$pubkey_file" >/dev/null 2>&1 || die "--pubkey $pubkey_file is not a valid SSH public key (ssh-keygen -lf refused it)"

ipv4_cidr='^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}(/([0-9]|[12][0-9]|3[0-2]))?$'
ipv6_cidr='^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(/([0-9]|[1-9][0-9]|1[01][0-9]|12[0-8]))?$'
IFS=',' read -r -a cidrs <<< "$from"
[ "${#cidrs[@]}" -gt 0 ] || die "--from is empty"
for c in "${cidrs[@]}"; do
  [[ "$c" =~ $ipv4_cidr || "$c" =~ $ipv6_cidr ]] || die "--from entry \"$c\" is not an IPv4/IPv6 address or CIDR"
  case "$c" in 0.0.0.0/0|::/0) die "--from $c would allow the key from anywhere; list the workers' addresses" ;; esac
done

[ -r "$sudoers" ] || die "--sudoers $sudoers is not a readable file"
if [ -n "$helper" ]; then [ -r "$helper" ] || die "--change-helper $helper is not a readable file"; fi
if [ -n "$probe_helper" ]; then [ -r "$probe_helper" ] || die "--probe-helper $probe_helper is not a readable file"; fi

# The sudoers file names the probe user; stage it for --user and validate it now.
staged=$(mktemp)
trap 'rm -f "$staged"' EXIT
if [ "$user" = whyblocked ]; then
  cat "$sudoers" > "$staged"
else
  sed -E "s/^Defaults:whyblocked\b/Defaults:$user/; s/^whyblocked\b/$user/" "$sudoers" > "$staged"
fi
visudo -cf "$staged" >/dev/null || die "$sudoers does not pass visudo -cf; nothing was installed"

# --- 1. the probe user: key login only, no password (usermod -p '*' unlocks without one) ---
prefix_args=()
[ -z "$root" ] || prefix_args=(--prefix "$root")
passwd_file="$root/etc/passwd"
if grep -q "^$user:" "$passwd_file"; then
  say "user $user exists"
else
  useradd "${prefix_args[@]}" --system --user-group --create-home --home-dir "/home/$user" --shell /bin/sh \
    --comment "why-blocked probes" "$user"
  say "created user $user"
fi
# A locked account ("!") is refused by sshd without PAM; "*" means no password can ever match.
usermod "${prefix_args[@]}" -p '*' "$user"
uid=$(awk -F: -v u="$user" '$1 == u { print $3 }' "$passwd_file")
gid=$(awk -F: -v u="$user" '$1 == u { print $4 }' "$passwd_file")
home=$(awk -F: -v u="$user" '$1 == u { print $6 }' "$passwd_file")
[ -n "$uid" ] && [ -n "$home" ] || die "could not read $user from $passwd_file"

# --- 2. authorized_keys: one line for this key, options rewritten on every run ---
ssh_dir="$root$home/.ssh"
keys="$ssh_dir/authorized_keys"
install -d -m 0700 -o "$uid" -g "$gid" "$ssh_dir"
line="from=\"$from\",restrict $key_type $key_blob why-blocked"
tmp=$(mktemp "$ssh_dir/.authorized_keys.XXXXXX")
trap 'rm -f "$tmp" "$staged"' EXIT
if [ -f "$keys" ]; then
  # Drop any earlier line for the same key (with whatever options it had), keep everything else.
  awk -v blob="$key_blob" '{ for (i = 1; i <= NF; i++) if ($i == blob) next; print }' "$keys" > "$tmp"
fi
echo "$line" >> "$tmp"
chown "$uid:$gid" "$tmp"
chmod 0600 "$tmp"
if [ -f "$keys" ] && cmp -s "$tmp" "$keys"; then
  rm -f "$tmp"
  say "authorized_keys unchanged"
else
  mv -f "$tmp" "$keys"
  say "authorized the key from $from in $home/.ssh/authorized_keys"
fi
trap 'rm -f "$staged"' EXIT

# --- 3. sudoers (validated before anything changed; a broken file in sudoers.d breaks sudo for everyone) ---
install -d -m 0750 "$root/etc/sudoers.d"
target="$root/etc/sudoers.d/why-blocked"
if [ -f "$target" ] && cmp -s "$staged" "$target"; then
  say "sudoers unchanged"
else
  install -m 0440 -o root -g root "$staged" "$target"
  say "installed $target"
fi
rm -f "$staged"
trap - EXIT

# Root-owned and not writable by the probe user: sudo runs them as root with checked arguments.
for pair in "why-blocked-change:$helper" "why-blocked-probe:$probe_helper"; do
  name=${pair%%:*} src=${pair#*:}
  [ -n "$src" ] || continue
  install -d -m 0755 -o root -g root "$root/usr/local/libexec/why-blocked"
  install -m 0755 -o root -g root "$src" "$root/usr/local/libexec/why-blocked/$name"
  say "installed $name in /usr/local/libexec/why-blocked/"
done

say "done. Next: run deploy/host/collect-host-keys.sh for this host from the bot side and compare fingerprints."
