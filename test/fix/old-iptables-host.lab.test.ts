import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { helperPath } from './fix-lab-helpers.ts';

/**
 * A host with iptables < 1.8 (RHEL 7, the seed's older Fedora) has only `iptables-save` and
 * `iptables-restore`, and they are the legacy backend. Built here in a private mount and network
 * namespace: /usr/sbin is replaced by a view without any suffixed tool, whose plain tools are the
 * legacy ones. Nothing outside that namespace changes.
 */
const oldHostScript = `set -eu
d=$1; helper=$2; id=$3
mkdir -p "$d/real" "$d/sbin"
mount --bind /usr/sbin "$d/real"
for f in "$d"/real/*; do
  n=$(basename "$f")
  case "$n" in ip6tables*|iptables*) continue ;; esac
  ln -s "$d/real/$n" "$d/sbin/$n"
done
for n in iptables iptables-save iptables-restore; do ln -s "$d/real/xtables-legacy-multi" "$d/sbin/$n"; done
mount --bind "$d/sbin" /usr/sbin
if command -v iptables-legacy-save >/dev/null; then echo "suffixed tool still visible"; exit 9; fi
iptables -A INPUT -p tcp --dport 2323 -j ACCEPT
echo "backup: $("$helper" backup "$id" iptables-legacy | grep -c 'dport 2323')"
iptables -F INPUT
echo "flushed: $(iptables-save | grep -c 'dport 2323' || true)"
"$helper" restore "$id" iptables-legacy
echo "restored: $(iptables-save | grep -c 'dport 2323')"
`;

describeLab('the change helper on a host with only the unsuffixed (pre-1.8, legacy) iptables tools', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-old-iptables-'));
  const id = `prop-${process.pid.toString(16)}0ed`;
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(`/var/lib/why-blocked/backups/${id}.rules`, { force: true });
  });

  it('backs up and restores through iptables-save/iptables-restore when iptables-legacy-* do not exist', () => {
    const out = execFileSync('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', '-c', oldHostScript, 'old-host', join(dir, 'view'), helperPath, id], { encoding: 'utf8' });
    expect(out.split('\n').filter((l) => /^(backup|flushed|restored):/.test(l))).toEqual(['backup: 1', 'flushed: 0', 'restored: 1']);
    expect(out).toMatch(/^restored$/m);
  });
});
