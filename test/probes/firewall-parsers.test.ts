import { describe, expect, it } from 'vitest';
import { analyzeFirewall, parseFirewallOutputs, parseRouteGet } from '../../src/probes/firewall-probe.ts';
import { explainFlowWithAnalyzer } from '../../src/probes/analyzer-adapters.ts';
import { parsePersistenceOutputs } from '../../src/probes/persistence-probe.ts';
import { diffLines, hashRulesets, normalizeIptablesSave } from '../../src/probes/ruleset-text.ts';
import type { FirewallData, PersistenceData } from '../../src/triage/evidence-types.ts';
import { fixture } from './fixture.ts';

const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });
const missing = { code: 127, stdout: '', stderr: 'command not found' };

function seedCollected() {
  return parseFirewallOutputs({
    'iptables-version': ok(fixture('iptables-V-nft.txt')),
    'tables-names': ok('/proc/net/ip_tables_names:filter\n'),
    'iptables-legacy-save': ok(fixture('iptables-legacy-save.seed.txt')),
    'iptables-nft-save': ok(''),
    'ip6tables-legacy-save': ok(''),
    'ip6tables-nft-save': ok(''),
    nft: ok(''),
    services: { code: 3, stdout: 'inactive\ninactive\n', stderr: '' },
    addresses: ok(fixture('ip-j-addr.json')),
    'rp-filter': ok(fixture('sysctl-rp_filter.txt')),
  });
}

describe('parseFirewallOutputs (real outputs)', () => {
  it('detects the backend, collects dumps, addresses and rp_filter', () => {
    const c = seedCollected();
    expect(c.backend).toEqual({ iptablesVariant: 'nf_tables', legacyTablesLoaded: true, legacy6TablesLoaded: false, nftPresent: true, firewalldActive: false, ufwActive: false });
    expect(c.dumps.map((d) => d.source)).toEqual(['iptables-legacy']);
    expect(c.localAddresses).toContain('192.168.30.2');
    expect(c.interfaces.find((i) => i.name === 'eth0')?.addresses).toContain('192.168.30.2/24');
    expect(c.rpFilter.all).toBe(0);
    expect(c.rulesetHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
  it('falls back to unsuffixed tools (RHEL 7) and records refusals', () => {
    const c = parseFirewallOutputs({
      'iptables-version': ok('iptables v1.4.21\n'),
      'iptables-legacy-save': missing, 'iptables-nft-save': missing,
      'iptables-save': ok(fixture('iptables-legacy-save.seed.txt')),
      nft: { code: 1, stdout: '', stderr: 'Operation not permitted (you must be root)' },
    });
    expect(c.dumps.map((d) => d.source)).toEqual(['iptables-legacy']);
    expect(c.missing.join()).toMatch(/nft: nft needs root/);
  });
  it('reads the route to the client', () => {
    expect(parseRouteGet(ok(fixture('ip-j-route-get.json')))).toEqual({ dev: 'eth0', prefsrc: '192.168.30.2' });
    expect(parseRouteGet({ code: 2, stdout: '', stderr: 'RTNETLINK answers: Network is unreachable' }).unreachable).toContain('unreachable');
  });
  it('the hash ignores counters', () => {
    const a = fixture('iptables-legacy-save-c.before.txt');
    const b = fixture('iptables-legacy-save-c.after.txt');
    expect(hashRulesets([{ source: 's', format: 'iptables-save', text: a }])).toBe(hashRulesets([{ source: 's', format: 'iptables-save', text: b }]));
  });
});

describe('analyzeFirewall on the seed ruleset (real analyzer)', () => {
  it('REJECT at INPUT 5 decides; the ACCEPT for 23 at INPUT 6 is shadowed', () => {
    const ev = analyzeFirewall(seedCollected(), { client: '192.168.30.1', target: '192.168.30.2', port: 23, inIface: 'eth0' }, explainFlowWithAnalyzer);
    const d = ev.data as FirewallData;
    expect(ev.ok).toBe(false);
    expect(d.forward).toMatchObject({ verdict: 'reject', rejectWith: 'icmp-host-prohibited', decidedBy: { table: 'filter', chain: 'INPUT', position: 5 } });
    expect(d.forward?.shadowedAccepts.map((r) => r.position)).toContain(6);
    expect(d.forward?.symptom).toContain('EHOSTUNREACH');
    expect(ev.summary).toContain('filter/INPUT rule 5');
    expect(ev.raw[0]).toBe('-A INPUT -j REJECT --reject-with icmp-host-prohibited');
  });
  it('without the analyzer the dumps are still evidence', () => {
    const ev = analyzeFirewall(seedCollected(), { client: '192.168.30.1', target: '192.168.30.2', port: 23 }, undefined);
    expect(ev).toMatchObject({ ok: false, probe: 'firewall' });
    expect((ev.data as FirewallData).analysisError).toContain('not available');
  });
  it('an analyzer that throws is evidence, not a crash', () => {
    const ev = analyzeFirewall(seedCollected(), { client: '192.168.30.1', target: '192.168.30.2', port: 23 }, () => { throw new Error('boom'); });
    expect(ev.summary).toContain('boom');
  });
});

describe('persistence', () => {
  it('normalises counters and comments away; a moved rule is drift', () => {
    const saved = fixture('iptables-legacy-save.seed.txt');
    const fixedLines = normalizeIptablesSave(saved);
    expect(fixedLines.some((l) => l.startsWith('#'))).toBe(false);
    expect(normalizeIptablesSave(fixture('iptables-legacy-save-c.after.txt'))).toEqual(fixedLines);
    const moved = [...fixedLines];
    const [rej] = moved.splice(8, 1);
    moved.splice(9, 0, rej!);
    const diff = diffLines(moved, fixedLines);
    expect(diff.onlyA.length + diff.onlyB.length).toBe(2);
  });
  it('runtime fixed, saved still bad: after a reboot the flow is rejected again', () => {
    const seed = fixture('iptables-legacy-save.seed.txt');
    const fixedText = seed.replace('-A INPUT -j REJECT --reject-with icmp-host-prohibited\n', '')
      .replace('--dport 23 -j ACCEPT\n', '--dport 23 -j ACCEPT\n-A INPUT -j REJECT --reject-with icmp-host-prohibited\n');
    const collected = parseFirewallOutputs({ 'iptables-version': ok('iptables v1.8.9 (legacy)'), 'iptables-legacy-save': ok(fixedText), addresses: ok(fixture('ip-j-addr.json')) });
    const fw = analyzeFirewall(collected, { client: '192.168.30.1', target: '192.168.30.2', port: 23 }, explainFlowWithAnalyzer);
    const runtime = fw.data as FirewallData;
    expect(runtime.forward?.verdict).toBe('accept');
    const grep = seed.split('\n').filter((l) => l !== '').map((l) => `/etc/sysconfig/iptables:${l}`).join('\n');
    const ev = parsePersistenceOutputs({ 'saved-files': ok(grep), 'nftables-conf': { code: 3, stdout: '', stderr: '' } }, { runtime, explain: explainFlowWithAnalyzer });
    const d = ev.data as PersistenceData;
    expect(d.compared).toBe('/etc/sysconfig/iptables');
    expect(d.saved?.verdict).toBe('reject');
    expect(d.drift.onlyRuntime.length + d.drift.onlySaved.length).toBeGreaterThan(0);
    expect(ev.summary).toContain('after a reboot this flow will be rejected');
    expect(ev.ok).toBe(false);
  });
});
