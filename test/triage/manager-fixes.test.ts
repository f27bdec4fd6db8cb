import { describe, expect, it } from 'vitest';
import { explainFlowWithAnalyzer, synthesizeFixesWithAnalyzer } from '../../src/probes/analyzer-adapters.ts';
import { assembleReport } from '../../src/triage/assemble-report.ts';
import type { FirewallBackendInfo, FirewallData, FlowVerdict, RulesetDump } from '../../src/triage/evidence-types.ts';
import type { EvidenceItem, RuleRef } from '../../src/triage/report-types.ts';

const nowMs = Date.parse('2026-11-25T00:00:00Z');
const rules = [
  '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
  '-A INPUT -i lo -j ACCEPT', '-A INPUT -j REJECT --reject-with icmp-host-prohibited', 'COMMIT', '',
].join('\n');
const decider: RuleRef = { source: 'iptables-legacy', table: 'filter', chain: 'INPUT', position: 2, rule: '-A INPUT -j REJECT --reject-with icmp-host-prohibited' };

function report(manager: Partial<FirewallBackendInfo>, options: { client?: string; decidedBy?: RuleRef; reply?: boolean } = {}) {
  const client = options.client ?? '10.0.0.1';
  const v6 = client.includes(':');
  const blocked: FlowVerdict = { verdict: 'reject', rejectWith: 'icmp-host-prohibited', decidedBy: options.decidedBy ?? decider, shadowedAccepts: [], unknowns: [], warnings: [], trace: [] };
  const accept: FlowVerdict = { verdict: 'accept', shadowedAccepts: [], unknowns: [], warnings: [], trace: [] };
  const dumps: RulesetDump[] = [{ source: 'iptables-legacy', format: 'iptables-save', text: rules }];
  const data: FirewallData = {
    backend: { legacyTablesLoaded: true, legacy6TablesLoaded: false, nftPresent: false, firewalldActive: false, ufwActive: false, ...manager },
    dumps, localAddresses: [v6 ? '2001:db8::2' : '10.0.0.2'], interfaces: [], rpFilter: {}, missing: [],
    forwardFlow: { family: v6 ? 'ipv6' : 'ipv4', proto: 'tcp', src: client, dst: v6 ? '2001:db8::2' : '10.0.0.2', sport: 40000, dport: 23, state: 'NEW' },
    forward: options.reply ? accept : blocked, reply: options.reply ? { ...blocked, decidedBy: { ...decider, chain: 'OUTPUT' } } : accept,
  };
  const evidence: EvidenceItem[] = [{ probe: 'firewall', ok: false, summary: 'rejected', raw: [], durationMs: 1, data }];
  return assembleReport({ host: 'web1', port: 23, protocol: 'tcp' }, evidence, [], { nowMs, synthesizeFixes: synthesizeFixesWithAnalyzer });
}

describe('triage fixes on hosts whose rules firewalld or ufw owns', () => {
  it('without a manager the fixes stay raw rulesets', () => {
    const r = report({});
    expect(r.fixes.length).toBeGreaterThan(0);
    for (const f of r.fixes) {
      expect(f.manager).toBeUndefined();
      expect(f.rulesetAfter).toMatch(/^\*filter/m);
    }
  });

  it('firewalld: a timed rich rule for this client first, then the permanent rule and a reload; the zone from the chain', () => {
    const r = report({ firewalldActive: true }, { decidedBy: { ...decider, chain: 'IN_public_deny' } });
    expect(r.fixes.map((f) => f.manager)).toEqual([
      { kind: 'firewalld', port: 23, source: '10.0.0.1/32', zone: 'public' },
      { kind: 'firewalld', port: 23, zone: 'public' },
    ]);
    const [narrow] = r.fixes;
    expect(narrow!.rulesetAfter).toBe('');
    expect(narrow!.commands).toEqual([
      `firewall-cmd --zone=public --add-rich-rule='rule family="ipv4" source address="10.0.0.1/32" port port="23" protocol="tcp" accept' --timeout=60s`,
      `firewall-cmd --permanent --zone=public --add-rich-rule='rule family="ipv4" source address="10.0.0.1/32" port port="23" protocol="tcp" accept'`,
      'firewall-cmd --reload',
    ]);
    expect(narrow!.effect).toMatch(/zone public accepts TCP 23 from 10\.0\.0\.1 only/);
    expect(narrow!.blastRadius.join(' ')).toMatch(/--reload .* drops any other runtime-only/);
    expect(r.fixes.every((f) => !f.commands.some((c) => /iptables|nft/.test(c)))).toBe(true);
  });

  it('firewalld without a zone in the rules: the default zone, said in the blast radius', () => {
    const r = report({ firewalldActive: true });
    expect(r.fixes[0]!.manager).toEqual({ kind: 'firewalld', port: 23, source: '10.0.0.1/32' });
    expect(r.fixes[0]!.blastRadius.join(' ')).toMatch(/default zone/);
  });

  it('firewalld and an IPv6 client: only the /128 (a sourceless rich rule would be IPv4 only)', () => {
    const r = report({ firewalldActive: true }, { client: '2001:db8::1' });
    expect(r.fixes.map((f) => f.manager?.source)).toEqual(['2001:db8::1/128']);
    expect(r.fixes[0]!.commands[0]).toContain('rule family="ipv6" source address="2001:db8::1/128"');
  });

  it('ufw: inserted as rule 1, saved by ufw itself, no zone', () => {
    const r = report({ ufwActive: true });
    expect(r.fixes.map((f) => f.commands)).toEqual([
      ['ufw insert 1 allow proto tcp from 10.0.0.1/32 to any port 23'],
      ['ufw insert 1 allow proto tcp from any to any port 23'],
    ]);
    expect(r.fixes.map((f) => f.manager)).toEqual([{ kind: 'ufw', port: 23, source: '10.0.0.1/32' }, { kind: 'ufw', port: 23 }]);
    expect(r.fixes[0]!.blastRadius.join(' ')).toMatch(/ufw has no timer/);
  });

  it('a blocked reply on a managed host gets no raw fix, and the summary says why', () => {
    const r = report({ ufwActive: true }, { reply: true });
    expect(r.cause).toBe('reply-blocked');
    expect(r.fixes).toEqual([]);
    expect(r.summary).toMatch(/ufw owns the rules/);
  });

  it('the analyzer adapter is what the report used (sanity: the flow really is rejected)', () => {
    const v = explainFlowWithAnalyzer({
      dumps: [{ source: 'iptables-legacy', format: 'iptables-save', text: rules }],
      flow: { family: 'ipv4', proto: 'tcp', src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 23, state: 'NEW' },
      host: { localAddresses: ['10.0.0.2'], interfaces: [] },
    });
    expect(v.verdict).toBe('reject');
  });
});
