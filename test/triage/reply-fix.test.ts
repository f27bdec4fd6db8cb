import { describe, expect, it } from 'vitest';
import { explainPacket, parseRuleset } from '../../src/analyzer/index.ts';
import { synthesizeReplyFix } from '../../src/analyzer/fix-reply.ts';
import { synthesizeFixesWithAnalyzer } from '../../src/probes/analyzer-adapters.ts';

/** reply-blocked: the request passes INPUT, the SYN-ACK dies in OUTPUT; the fix lets only that answer out. */
const rules = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  '-A OUTPUT -o lo -j ACCEPT',
  '-A OUTPUT -p tcp -m tcp --sport 23 -j DROP',
  '-A OUTPUT -p tcp -m tcp --sport 22 -j ACCEPT',
  'COMMIT',
  '',
].join('\n');
const ctx = { localAddresses: ['10.0.0.2'], interfaces: [{ name: 'eth0', addresses: ['10.0.0.2/24'] }] };
const request = { family: 'ipv4' as const, proto: 'tcp' as const, src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 23, state: 'NEW' as const };

describe('reply-blocked fix: an ACCEPT for the answer, before the OUTPUT rule that drops it', () => {
  it('inserts exactly the reply, ESTABLISHED only, and the re-simulated reply leaves', () => {
    const r = synthesizeReplyFix({ rulesetText: rules, format: 'iptables-save', packet: request, ctx, iptablesBinary: 'iptables-legacy' });
    expect(r.candidates).toHaveLength(1);
    const c = r.candidates[0]!;
    expect(c.commands).toEqual(['iptables-legacy -w -I OUTPUT 2 -s 10.0.0.2/32 -d 10.0.0.1/32 -p tcp -m tcp --sport 23 -m conntrack --ctstate ESTABLISHED -j ACCEPT']);
    expect(c.title).toMatch(/replies of 23\/tcp from 10\.0\.0\.2 to 10\.0\.0\.1 just before OUTPUT rule 2/);
    expect(c.blastRadius.summary.join(' ')).toMatch(/opens no new connection/);
    const after = parseRuleset(c.rulesetAfter, { format: 'iptables-save', family: 'ipv4' });
    expect(explainPacket(after, request, ctx).reply?.verdict).toBe('accept');
    // Another client's replies, and new outgoing connections from port 23, stay blocked.
    expect(explainPacket(after, { ...request, src: '10.0.0.9' }, ctx).reply?.verdict).toBe('drop');
  });

  it('nothing to propose when the reply already passes, or the request itself is blocked', () => {
    const open = rules.replace('-A OUTPUT -p tcp -m tcp --sport 23 -j DROP\n', '');
    expect(synthesizeReplyFix({ rulesetText: open, format: 'iptables-save', packet: request, ctx }).candidates).toEqual([]);
    const blocked = rules.replace(':INPUT ACCEPT', ':INPUT DROP');
    const r = synthesizeReplyFix({ rulesetText: blocked, format: 'iptables-save', packet: request, ctx });
    expect(r.candidates).toEqual([]);
    expect(r.notes.join(' ')).toMatch(/request itself is not accepted/);
  });

  it('reaches the report through the triage adapter', () => {
    const fixes = synthesizeFixesWithAnalyzer({
      dumps: [{ source: 'iptables-legacy', format: 'iptables-save', family: 'ipv4', text: rules }], flow: request, host: ctx,
      decidedBy: { source: 'iptables-legacy', table: 'filter', chain: 'OUTPUT', position: 2 }, targetHost: 'server', blocked: 'reply',
    });
    expect(fixes.map((f) => f.id)).toEqual(['insert-reply-accept']);
    expect(fixes[0]).toMatchObject({ host: 'server', kind: 'firewall', effect: expect.stringMatching(/reply is accepted/) });
  });
});
