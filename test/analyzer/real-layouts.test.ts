import { describe, expect, it } from 'vitest';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';
import { explainPacket, mergeRulesets, parseRuleset, type PacketInput } from '../../src/analyzer/index.ts';
import { fixture } from './fixture-path.ts';

const tcp = (dport: number, extra: Partial<PacketInput> = {}): PacketInput =>
  ({ proto: 'tcp', src: '10.0.0.5', dst: '10.0.0.1', sport: 40000, dport, inIface: 'eth0', ...extra });

describe('ufw chains', () => {
  const rs = parseRuleset(fixture('ufw.rules'));

  it('accepts `ufw allow 22/tcp` in ufw-user-input', () => {
    const r = explainPacket(rs, tcp(22));
    expect(r.verdict).toBe('accept');
    expect(r.chainVerdicts[0]).toMatchObject({ chain: 'ufw-user-input', position: 1 });
  });

  it('`ufw reject 80/tcp` answers with a TCP reset', () => {
    const r = explainPacket(rs, tcp(80));
    expect(r).toMatchObject({ verdict: 'reject', rejectWith: 'tcp-reset', decidedBy: { chain: 'ufw-user-input', position: 2 } });
  });

  it('anything else falls to the INPUT DROP policy through the ufw chain ladder', () => {
    const r = explainPacket(rs, tcp(25));
    expect(r.verdict).toBe('drop');
    expect(r.decidedBy).toMatchObject({ chain: 'INPUT', policy: 'drop' });
    expect(r.trace.some((t) => t.chain === 'ufw-not-local' && t.effect === 'RETURN')).toBe(true);
    // The rate-limited LOG cannot change the verdict.
    expect(r.unknowns.every((u) => !u.changesVerdict)).toBe(true);
  });

  it('`ufw limit` depends on the recent list: unknown, with both outcomes', () => {
    const r = explainPacket(rs, tcp(2222));
    expect(r.verdict).toBe('unknown');
    const u = r.unknowns.find((x) => x.changesVerdict);
    expect(u).toMatchObject({ chain: 'ufw-user-input', position: 4, ifMatches: { verdict: 'reject' }, ifNotMatches: { verdict: 'accept' } });
  });

  it('drops packets not addressed to the host (ufw-not-local)', () => {
    const r = explainPacket(rs, tcp(22, { dst: '10.0.0.99' }), { localAddresses: ['10.0.0.1'] });
    expect(r.path).toBe('forward');
  });
});

describe('Docker chains', () => {
  const rs = parseRuleset(fixture('docker.rules'));
  const ctx = { interfaces: [{ name: 'eth0', addresses: ['10.0.0.1/24'] }, { name: 'docker0', addresses: ['172.17.0.1/16'] }] };

  it('a published port is DNATed to the container and decided in FORWARD, bypassing INPUT', () => {
    const r = explainPacket(rs, tcp(8080), ctx);
    expect(r.verdict).toBe('accept');
    expect(r.path).toBe('forward');
    expect(r.translated).toMatchObject({ dst: '172.17.0.2', dport: 80, outIface: 'docker0' });
    expect(r.chainVerdicts.map((c) => `${c.table}/${c.chain}`)).toEqual(['nat/DOCKER', 'filter/DOCKER', 'nat/POSTROUTING']);
    // The INPUT DROP for 8080 never sees the packet.
    expect(r.trace.some((t) => t.chain === 'INPUT')).toBe(false);
    expect(r.warnings.join('\n')).toContain('FORWARD');
  });

  it('an unpublished port stays local and hits INPUT', () => {
    const r = explainPacket(rs, tcp(8081), ctx);
    expect(r.path).toBe('local');
    expect(r.verdict).toBe('accept');
  });
});

describe('firewalld nft JSON (inet firewalld)', () => {
  const rs = parseRuleset(fixture('firewalld.json'));

  const cases: [string, PacketInput, string, string | undefined, number][] = [
    ['ssh allowed in the public zone', tcp(22), 'accept', undefined, 49],
    ['telnet rejected with icmpx admin-prohibited', tcp(23), 'reject', 'icmp-admin-prohibited', 47],
    ['IPv6 reject maps to icmp6-adm-prohibited', tcp(23, { src: '2001:db8::5', dst: '2001:db8::1' }), 'unknown', undefined, 19],
    ['source in the deny chain', tcp(22, { src: '203.0.113.7' }), 'drop', undefined, 48],
    ['named interval set', tcp(5432, { src: '10.9.3.3' }), 'accept', undefined, 53],
    ['concatenated set', tcp(8443, { dst: '10.1.1.1' }), 'accept', undefined, 54],
    ['anonymous set with a range', tcp(8005), 'accept', undefined, 52],
    ['vmap drop', { proto: 'udp', src: '10.0.0.3', dst: '10.0.0.1', sport: 5, dport: 53, inIface: 'eth0' }, 'drop', undefined, 58],
    ['vmap accept', { proto: 'udp', src: '10.0.0.2', dst: '10.0.0.1', sport: 5, dport: 53, inIface: 'eth0' }, 'accept', undefined, 58],
    ['tcp flags binop (SYN)', tcp(9000), 'accept', undefined, 55],
    ['tcp flags binop (ACK) falls through', tcp(9000, { tcpFlags: ['ACK'] }), 'reject', 'icmp-admin-prohibited', 47],
    ['meta mark', tcp(9100, { mark: 7 }), 'accept', undefined, 56],
    ['iifname wildcard dummy*', tcp(9100, { inIface: 'dummy3' }), 'accept', undefined, 39],
    ['icmp accepted by l4proto set', { proto: 'icmp', src: '10.0.0.2', dst: '10.0.0.1', inIface: 'eth0' }, 'accept', undefined, 46],
  ];
  it.each(cases)('%s', (_n, p, verdict, rejectWith, handle) => {
    const r = explainPacket(rs, p);
    expect(r.verdict).toBe(verdict);
    expect(r.rejectWith).toBe(rejectWith);
    if (verdict === 'accept') expect(r.chainVerdicts.find((c) => c.hook === 'input')?.handle).toBe(handle);
    else expect(r.decidedBy.handle).toBe(handle);
  });

  it('fib is unknown: the IPv6 rpfilter rule names both outcomes', () => {
    const r = explainPacket(rs, tcp(23, { src: '2001:db8::5', dst: '2001:db8::1' }));
    expect(r.unknowns[0]).toMatchObject({ handle: 19, changesVerdict: true, ifMatches: { verdict: 'drop' },
      ifNotMatches: { verdict: 'reject', rejectWith: 'icmp6-adm-prohibited' } });
    expect(r.unknowns[0]?.reasons[0]).toContain('fib');
  });

  it('prints nft-style rule text and the handle as position', () => {
    const r = explainPacket(rs, tcp(23));
    expect(r.decidedBy).toMatchObject({ source: 'nft', table: 'firewalld', chain: 'filter_IN_public', position: 47,
      rule: 'reject with icmpx admin-prohibited' });
  });

  it('flags tables with xt statements instead of guessing', () => {
    const xt = parseRuleset(fixture('iptables-nft-xt.json'));
    expect(xt.tables).toEqual([]);
    expect(xt.warnings[0]).toContain('read it from iptables-nft-save');
  });

  it('combines with iptables-nft-save output of the same host', () => {
    const nftSave = parseRuleset(fixture('iptables-nft-with-legacy-warning.rules'));
    const legacy = parseRuleset(fixture('legacy-telnet-accept.rules'));
    const r = explainPacket(mergeRulesets(parseRuleset(fixture('iptables-nft-xt.json')), nftSave, legacy, rs), tcp(23, { src: '10.0.0.5' }));
    // legacy accepts 23, iptables-nft drops 10/8 at the same priority, firewalld would reject later.
    expect(r.verdict).toBe('drop');
    expect(r.decidedBy).toMatchObject({ source: 'iptables-nft', chain: 'INPUT', position: 2 });
  });

  it('rejects malformed JSON as a ruleset parse error', () => {
    for (const text of ['{"nftables": [', '{"foo": 1}', '{"nftables": [1]}']) {
      let caught: unknown;
      try { parseRuleset(text); } catch (e) { caught = e; }
      expect(caught).toBeInstanceOf(WhyBlockedError);
      expect((caught as WhyBlockedError).code).toBe(ErrorCode.RulesetParse);
    }
  });
});
