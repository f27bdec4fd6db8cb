import { describe, expect, it } from 'vitest';
import { explainPacket, parseRuleset } from '../../src/analyzer/index.ts';
import { fixture } from './fixture-path.ts';

describe('seed incident: Fedora default INPUT with telnet ACCEPT appended after the REJECT', () => {
  const rs = parseRuleset(fixture('seed-fedora-telnet.rules'));
  const telnet = { proto: 'tcp', src: '192.168.30.1', dst: '192.168.30.2', sport: 49507, dport: 23 };

  it('rejects with icmp-host-prohibited, decided by filter INPUT rule 5', () => {
    const r = explainPacket(rs, telnet);
    expect(r.verdict).toBe('reject');
    expect(r.rejectWith).toBe('icmp-host-prohibited');
    expect(r.decidedBy).toMatchObject({ source: 'iptables-legacy', table: 'filter', chain: 'INPUT', position: 5,
      rule: '-A INPUT -j REJECT --reject-with icmp-host-prohibited' });
  });

  it('names the appended telnet ACCEPT (position 6) as shadowed', () => {
    const r = explainPacket(rs, telnet);
    expect(r.shadowed.map((s) => s.position)).toEqual([6]);
    expect(r.shadowed[0]?.rule).toBe('-A INPUT -p tcp -m tcp --dport 23 -j ACCEPT');
  });

  it('describes the client symptom and the capture from the seed memo', () => {
    const r = explainPacket(rs, telnet);
    expect(r.symptom.errno).toBe('EHOSTUNREACH');
    expect(r.symptom.message).toBe('No route to host');
    expect(r.symptom.tcpdump).toContain('ICMP host 192.168.30.2 unreachable - admin prohibited');
  });

  it('traces every rule before the decider with the failing field in words', () => {
    const r = explainPacket(rs, telnet);
    const input = r.trace.filter((t) => t.chain === 'INPUT');
    expect(input.map((t) => t.position)).toEqual([1, 2, 3, 4, 5]);
    expect(input[0]?.reason).toContain('--state RELATED,ESTABLISHED does not include');
    expect(input[1]?.reason).toBe('-p icmp does not match protocol tcp');
    expect(input[2]?.reason).toContain('-i lo does not match');
    expect(input[3]?.reason).toBe('--dport 22 does not match destination port 23');
    expect(input[4]?.matched).toBe(true);
  });

  it('accepts ssh (rule 4) and checks the SYN-ACK reply through OUTPUT', () => {
    const r = explainPacket(rs, { ...telnet, dport: 22 });
    expect(r.verdict).toBe('accept');
    expect(r.decidedBy.position).toBe(4);
    expect(r.shadowed).toEqual([]);
    expect(r.reply?.verdict).toBe('accept');
    expect(r.reply?.decidedBy).toMatchObject({ table: 'filter', chain: 'OUTPUT', policy: 'accept' });
  });

  it('accepts telnet from the server itself (arrives on lo)', () => {
    const r = explainPacket(rs, { ...telnet, src: '192.168.30.2' });
    expect(r.verdict).toBe('accept');
    expect(r.decidedBy.position).toBe(3);
  });
});
