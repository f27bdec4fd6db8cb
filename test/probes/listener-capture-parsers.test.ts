import { describe, expect, it } from 'vitest';
import { parseListenerOutput, parseSsAddress } from '../../src/probes/listener-probe.ts';
import { classifyCapture, captureEvidence } from '../../src/probes/capture-probe.ts';
import { parseTcpdumpLine } from '../../src/probes/tcpdump-lines.ts';
import { diffCounters } from '../../src/probes/iptables-counters.ts';
import { lines } from '../../src/probes/command-output.ts';
import type { CaptureData, ListenerData } from '../../src/triage/evidence-types.ts';
import { fixture } from './fixture.ts';

describe('parseSsAddress', () => {
  it.each([
    ['0.0.0.0:22', { address: '0.0.0.0', port: 22, family: 'ipv4' }],
    ['*:22', { address: '*', port: 22, family: 'dual' }],
    ['[::]:22', { address: '::', port: 22, family: 'ipv6' }],
    ['127.0.0.1:23', { address: '127.0.0.1', port: 23, family: 'ipv4' }],
    ['127.0.0.53%lo:53', { address: '127.0.0.53', port: 53, iface: 'lo', family: 'ipv4' }],
    ['[fe80::1]%eth0:22', { address: 'fe80::1', port: 22, iface: 'eth0', family: 'ipv6' }],
    ['[::ffff:127.0.0.1]:8080', { address: '::ffff:127.0.0.1', port: 8080, family: 'ipv6' }],
    [':::22', { address: '::', port: 22, family: 'ipv6' }],
  ])('%s', (text, expected) => {
    expect(parseSsAddress(text)).toEqual(expected);
  });
  it.each(['0.0.0.0:*', 'garbage', 'example.com:22'])('rejects %s', (text) => {
    expect(parseSsAddress(text)).toBeUndefined();
  });
});

describe('parseListenerOutput (real ss -Hltnp output)', () => {
  const out = { code: 0, stdout: fixture('ss-Hltnp.debian.txt'), stderr: '' };
  const parse = (port: number, targetAddress = '192.168.30.2') => parseListenerOutput(out, { port, targetAddress, withProcesses: true });

  it('port 23 on 127.0.0.1 only: loopback-only, does not accept the target address', () => {
    const ev = parse(23);
    const d = ev.data as ListenerData;
    expect(d).toMatchObject({ status: 'loopback-only', acceptsTarget: false });
    expect(d.processes[0]?.name).toBe('nc');
    expect(ev.ok).toBe(false);
    expect(ev.summary).toContain('loopback only');
  });
  it('port 22 on 0.0.0.0 and * : open to all', () => {
    expect(parse(22).data as ListenerData).toMatchObject({ status: 'all', acceptsTarget: true });
    expect((parse(22, 'fd00:30::2').data as ListenerData).acceptsTarget).toBe(true);
  });
  it('port 25 bound to one address: accepted there, not elsewhere', () => {
    expect(parse(25).data as ListenerData).toMatchObject({ status: 'specific', acceptsTarget: true });
    expect((parse(25, '10.9.9.9').data as ListenerData).acceptsTarget).toBe(false);
  });
  it('nothing on port 24', () => {
    const ev = parse(24);
    expect((ev.data as ListenerData).status).toBe('none');
    expect(ev.summary).toBe('nothing listens on TCP port 24');
  });
  it('ss without -p (no sudo) still finds the socket', () => {
    const ev = parseListenerOutput({ code: 0, stdout: fixture('ss-Hltn.debian.txt'), stderr: '' }, { port: 23, targetAddress: '192.168.30.2', withProcesses: false });
    expect(ev.data as ListenerData).toMatchObject({ status: 'loopback-only', processes: [], processInfo: false });
  });
  it('Fedora/old-ss variants: `*` for IPv4 any, [::], %lo binding', () => {
    const fedora = [
      'LISTEN     0      128          *:22                       *:*                   users:(("sshd",pid=1031,fd=3))',
      'LISTEN     0      128       [::]:22                    [::]:*                   users:(("sshd",pid=1031,fd=4))',
      'LISTEN     0      4096   127.0.0.53%lo:53               0.0.0.0:*              users:(("systemd-resolve",pid=650,fd=14))',
    ].join('\n');
    const ev = parseListenerOutput({ code: 0, stdout: fedora, stderr: '' }, { port: 22, targetAddress: '10.0.0.5', withProcesses: true });
    expect(ev.data as ListenerData).toMatchObject({ status: 'all', acceptsTarget: true, processes: [{ name: 'sshd', pid: 1031 }] });
    const dns = parseListenerOutput({ code: 0, stdout: fedora, stderr: '' }, { port: 53, targetAddress: '127.0.0.53', withProcesses: true });
    expect((dns.data as ListenerData).acceptsTarget).toBe(false);
  });
  it('a failing ss is failed evidence', () => {
    expect(parseListenerOutput({ code: 1, stdout: '', stderr: 'ss: permission denied' }, { port: 22, withProcesses: true })).toMatchObject({ ok: false, error: { code: 'permission' } });
  });
});

describe('tcpdump lines and capture classification (real tcpdump 4.99 output)', () => {
  const ctx = { clientAddresses: ['192.168.30.1'], port: 23 };
  const classify = (file: string, c = ctx) => classifyCapture(lines(fixture(file)), c);

  it.each([
    ['tcpdump-host-prohibited.txt', 'icmp-unreachable', 'host-prohibited', 10],
    ['tcpdump-admin-prohibited.txt', 'icmp-unreachable', 'admin-prohibited', 13],
    ['tcpdump-net-prohibited.txt', 'icmp-unreachable', 'net-prohibited', 9],
    ['tcpdump-port-unreachable.txt', 'icmp-unreachable', 'port-unreachable', 3],
  ])('%s → %s %s', (file, cls, name, code) => {
    const c = classify(file);
    expect(c.classification).toBe(cls);
    expect(c.icmp).toMatchObject({ family: 'ipv4', type: 3, code, name, from: '192.168.30.2' });
    expect(c.supporting).toHaveLength(2);
  });
  it('REJECT tcp-reset → rst', () => expect(classify('tcpdump-tcp-reset.txt').classification).toBe('rst'));
  it('no listener → rst', () => expect(classify('tcpdump-no-listener.txt', { ...ctx, port: 24 }).classification).toBe('rst'));
  it('DROP → syn-unanswered with retransmissions', () => {
    const c = classify('tcpdump-drop.txt');
    expect(c.classification).toBe('syn-unanswered');
    expect(c.synCount).toBeGreaterThan(1);
  });
  it('accepted → handshake completed, client closed first', () => {
    expect(classify('tcpdump-accept.txt')).toMatchObject({ classification: 'syn-ack-completed', serverClosedAfterHandshake: false });
  });
  it('server closes at once → the wrappers signature', () => {
    expect(classify('tcpdump-server-closes.txt', { ...ctx, port: 26 })).toMatchObject({ classification: 'syn-ack-completed', serverClosedAfterHandshake: true });
  });
  it('IPv6 icmp6-adm-prohibited', () => {
    const c = classify('tcpdump-v6-adm-prohibited.txt', { clientAddresses: ['fd00:30::1'], port: 23 });
    expect(c.icmp).toMatchObject({ family: 'ipv6', type: 1, code: 1, name: 'adm-prohibited' });
  });
  it('a capture from another client address sees no SYN', () => {
    expect(classify('tcpdump-host-prohibited.txt', { clientAddresses: ['10.1.1.1'], port: 23 }).classification).toBe('no-syn');
  });
  it('the seed memo line (-n off: port name "telnet" is not a number, ICMP still parsed)', () => {
    const p = parseTcpdumpLine('11:00:00.000000 IP 192.168.30.2 > 192.168.30.1: ICMP host 192.168.30.2 unreachable - admin prohibited, length 60');
    expect(p?.icmp).toEqual({ family: 'ipv4', type: 3, code: 10, name: 'host-prohibited' });
  });
  it('-i any lines carry the interface and direction', () => {
    const p = parseTcpdumpLine('20:53:55.642829 eth0  In  IP 192.168.30.1.40442 > 192.168.30.2.23: Flags [S], seq 1, win 64240, length 0');
    expect(p).toMatchObject({ src: '192.168.30.1', sport: 40442, dst: '192.168.30.2', dport: 23, flags: 'S' });
  });
});

describe('diffCounters (real iptables-legacy-save -c before/after a rejected connect)', () => {
  it('names the REJECT at INPUT 5 as the rule whose counter rose', () => {
    const d = diffCounters(fixture('iptables-legacy-save-c.before.txt'), fixture('iptables-legacy-save-c.after.txt'), 'iptables-legacy');
    expect(d.rulesChanged).toBe(false);
    const input = d.hits.filter((h) => h.chain === 'INPUT');
    expect(input).toEqual([expect.objectContaining({ table: 'filter', chain: 'INPUT', position: 5, rule: '-A INPUT -j REJECT --reject-with icmp-host-prohibited' })]);
    expect(input[0]!.packets).toBeGreaterThan(0);
  });
  it('flags a change in the rules themselves', () => {
    const before = fixture('iptables-legacy-save-c.before.txt');
    const after = before.replace('--dport 22 -j ACCEPT', '--dport 2222 -j ACCEPT');
    expect(diffCounters(before, after, 'x')).toEqual({ hits: [], rulesChanged: true });
  });
});

describe('captureEvidence', () => {
  it('a tcpdump that never got ready is failed evidence', () => {
    const ev = captureEvidence({ tcpdump: { code: 1, stdout: '', stderr: 'tcpdump: eth9: No such device exists' }, ctx: { clientAddresses: ['10.0.0.1'], port: 23 } });
    expect(ev).toMatchObject({ ok: false, probe: 'capture' });
    expect(ev.raw[0]).toContain('No such device');
  });
  it('combines the capture and the counters', () => {
    const ev = captureEvidence({
      tcpdump: { code: 0, stdout: fixture('tcpdump-host-prohibited.txt'), stderr: fixture('tcpdump-host-prohibited.stderr.txt') },
      ctx: { clientAddresses: ['192.168.30.1'], port: 23 },
      counters: [{ source: 'iptables-legacy', before: { code: 0, stdout: fixture('iptables-legacy-save-c.before.txt'), stderr: '' }, after: { code: 0, stdout: fixture('iptables-legacy-save-c.after.txt'), stderr: '' } }],
    });
    const d = ev.data as CaptureData;
    expect(d.classification).toBe('icmp-unreachable');
    expect(ev.summary).toContain('counters rose on filter/INPUT rule 5');
  });
});
