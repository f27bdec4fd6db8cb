import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { backendOfFix, changeCommands, savedFileFor, sha256Hex, stageChunkChars, type ChangeBackend } from '../../src/fix/change-commands.ts';
import { renderRemoteCommand } from '../../src/remote/remote-command.ts';

const helper = fileURLToPath(new URL('../../deploy/host/why-blocked-change', import.meta.url));
const sudoers = readFileSync(fileURLToPath(new URL('../../deploy/host/why-blocked.sudoers', import.meta.url)), 'utf8');
const installed = '/usr/local/libexec/why-blocked/why-blocked-change';
/** The anchored argument regexes sudoers allows for the helper. */
const allowed = [...sudoers.replace(/\\\n/g, ' ').matchAll(/why-blocked-change (\^.*?\$)(?=,|\s*$)/gm)].map((m) => new RegExp(m[1]!));
const id = 'prop-0123456789abcdef';

describe('change commands: fixed templates for the root-owned helper', () => {
  const cmds = changeCommands({ helperPath: installed });
  const rules = `*filter\n:INPUT ACCEPT [0:0]\n${'-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT\n'.repeat(200)}COMMIT\n`;
  const backends: ChangeBackend[] = ['iptables-legacy', 'iptables-nft', 'ip6tables-legacy', 'ip6tables-nft', 'nft'];
  const every = [
    ...cmds.stage(id, rules), cmds.apply(id, 'iptables-legacy', rules), cmds.apply(id, 'nft', '{"nftables":[]}'),
    ...backends.flatMap((b) => [cmds.backup(id, b), cmds.restore(id, b), cmds.arm(id, 60, b, 'auto'), cmds.arm(id, 5, b, 'setsid')]),
    cmds.disarm(id), cmds.status(id),
    cmds.persist('iptables-legacy', '/etc/sysconfig/iptables'), cmds.persist('iptables-nft', '/etc/iptables/rules.v4'),
    cmds.persist('ip6tables-legacy', '/etc/iptables/rules.v6'), cmds.persist('nft', '/etc/nftables.conf'),
  ];

  it('every command the engine runs is allowed by the sudoers file, as root, and renders under the SSH limits', () => {
    expect(allowed.length).toBeGreaterThanOrEqual(6);
    for (const c of every) {
      expect(c.sudo).toBe(true);
      expect(c.argv[0]).toBe(installed);
      const args = c.argv.slice(1).join(' ');
      expect(allowed.some((re) => re.test(args)), args.slice(0, 80)).toBe(true);
      expect(() => renderRemoteCommand(c, { sudo: true })).not.toThrow();
    }
  });

  it('stages large rule text in chunks whose concatenation is the text, checked by sha256 at apply', () => {
    const chunks = cmds.stage(id, rules);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.every((c) => c.argv[4]!.length <= stageChunkChars)).toBe(true);
    expect(Buffer.from(chunks.map((c) => c.argv[4]).join(''), 'base64').toString('utf8')).toBe(rules);
    expect(chunks.map((c) => c.argv[3])).toEqual(chunks.map((_, i) => String(i)));
    expect(cmds.apply(id, 'iptables-legacy', rules).argv[4]).toBe(sha256Hex(rules));
  });

  it.each([
    ['a bad proposal id', () => cmds.backup('prop-XYZ; rm -rf /', 'nft')],
    ['an id without prefix', () => cmds.status('0123')],
    ['a dead-man of 0 s', () => cmds.arm(id, 0, 'nft')],
    ['a fractional dead-man', () => cmds.arm(id, 1.5, 'nft')],
    ['a dead-man over an hour', () => cmds.arm(id, 3601, 'nft')],
    ['an empty ruleset', () => cmds.stage(id, '  \n')],
    ['persisting to an arbitrary file', () => cmds.persist('iptables-legacy', '/etc/shadow')],
    ['persisting v4 rules into the v6 file', () => cmds.persist('iptables-legacy', '/etc/iptables/rules.v6')],
    ['a relative helper path', () => changeCommands({ helperPath: 'why-blocked-change' })],
    ['a helper path with ..', () => changeCommands({ helperPath: '/usr/local/../bin/sh' })],
  ])('refuses %s', (_what, build) => {
    expect(build).toThrow(/./);
  });

  it('picks the backend from the fix: nft batches, suffixed tools, or the host variant for a bare iptables', () => {
    expect(backendOfFix({ commands: [], rulesetAfter: ' {"nftables": []}' })).toBe('nft');
    expect(backendOfFix({ commands: ['iptables-legacy -w -I INPUT 5 -j ACCEPT'], rulesetAfter: '*filter' })).toBe('iptables-legacy');
    expect(backendOfFix({ commands: ['ip6tables-nft -I INPUT 1 -j ACCEPT'], rulesetAfter: '*filter' })).toBe('ip6tables-nft');
    expect(backendOfFix({ commands: ['iptables -I INPUT 1 -j ACCEPT'], rulesetAfter: '*filter' }, 'nf_tables')).toBe('iptables-nft');
    expect(backendOfFix({ commands: ['iptables -I INPUT 1 -j ACCEPT'], rulesetAfter: '*filter' })).toBe('iptables-legacy');
    expect(() => backendOfFix({ commands: ['rm -rf /'], rulesetAfter: '*filter' })).toThrow(/backend is unknown/);
  });

  it('writes the boot file the host already uses, else the distro convention', () => {
    expect(savedFileFor('iptables-legacy', ['/etc/iptables/rules.v4'], 'rhel')).toBe('/etc/iptables/rules.v4');
    expect(savedFileFor('iptables-legacy', [], 'rhel')).toBe('/etc/sysconfig/iptables');
    expect(savedFileFor('iptables-nft', [], 'debian')).toBe('/etc/iptables/rules.v4');
    expect(savedFileFor('ip6tables-legacy', [], 'debian')).toBe('/etc/iptables/rules.v6');
    expect(savedFileFor('nft', [], 'debian')).toBe('/etc/nftables.conf');
    expect(savedFileFor('nft', ['/etc/sysconfig/nftables.conf'], 'unknown')).toBe('/etc/sysconfig/nftables.conf');
  });
});

describe('deploy/host/why-blocked-change refuses bad arguments itself', () => {
  it('is valid POSIX sh', () => {
    expect(() => execFileSync('sh', ['-n', helper])).not.toThrow();
  });

  it.each([
    [['stage', 'prop-zz', '0', 'AAAA']],
    [['stage', id, 'x', 'AAAA']],
    [['stage', id, '0', 'AA AA']],
    [['stage', id, '0', 'A'.repeat(4001)].map((a) => a.slice(0, 4001))],
    [['apply', id, 'iptables-legacy', 'abc']],
    [['apply', id, 'iptables', 'a'.repeat(64)]],
    [['arm', id, '10', 'nft', 'cron']],
    [['arm', id, '-1', 'nft', 'setsid']],
    [['persist', 'iptables-legacy', '/etc/passwd']],
    [['persist', 'nft', '/etc/iptables/rules.v4']],
    [['restore', '../../etc', 'nft']],
    [['sh', '-c', 'id']],
    [[]],
  ])('exits 2 for a bad argument list (#%#) without touching anything', (args) => {
    const r = spawnSync(helper, args, { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/why-blocked-change:/);
  });
});
