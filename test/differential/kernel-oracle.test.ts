import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { FIXTURE_RULESETS, LEGACY_UNDER_FIREWALLD } from './harness/fixture-rulesets.ts';
import { generatePackets, predictedCtState } from './harness/generate-packets.ts';
import { generateRuleset } from './harness/generate-ruleset.ts';
import { KernelOracle, type Backend } from './harness/kernel-oracle.ts';
import type { ProbePacket } from './harness/start-packet-sender.ts';
import { renderIpsetRestore } from './harness/render-ipset-restore.ts';
import { renderIptablesSave } from './harness/render-iptables-save.ts';
import { renderNft } from './harness/render-nft.ts';
import { ruleOrdinal } from './harness/rule-ordinal.ts';
import { rejectTypeOf } from './harness/reject-type-of.ts';
import { parseNftCounters } from './harness/parse-nft-counters.ts';
import { inNetns, runCommand } from './harness/run-command.ts';
import { LAB_HOST_CONTEXT } from './harness/compare-with-analyzer.ts';

// The oracle on its own: before the analyzer is compared with it, it must give the answers we
// know from first principles, and the conntrack states the generator predicts must be the kernel's.
describeLab('kernel oracle (differential harness)', () => {
  let oracle: KernelOracle;
  let backends: Backend[] = [];

  beforeAll(async () => {
    backends = await KernelOracle.availableBackends();
    oracle = await KernelOracle.start(`o${process.pid}`);
  });
  afterAll(async () => {
    await oracle?.stop();
  });

  it('has at least one iptables backend and nft', () => {
    expect(backends).toContain('nft');
    expect(backends.some((b) => b.startsWith('iptables'))).toBe(true);
  });

  const statePackets: Array<[string, ProbePacket]> = [
    ['SYN', tcp(['SYN'])], ['bare ACK', tcp(['ACK'])], ['PSH ACK', tcp(['PSH', 'ACK'])], ['SYN ACK', tcp(['SYN', 'ACK'])],
    ['FIN', tcp(['FIN'])], ['RST', tcp(['RST'])], ['FIN ACK', tcp(['FIN', 'ACK'])], ['no flags', tcp([])],
    ['xmas', tcp(['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'])],
    ['udp', { proto: 'udp', src: '198.51.100.7', dst: '10.99.0.2', sport: 5000, dport: 53, inIface: 'eth0' }],
    ...[[8, 0], [0, 0], [3, 3], [3, 13], [11, 0], [13, 0]].map(([type, code]): [string, ProbePacket] => [
      `icmp ${type}/${code}`, { proto: 'icmp', src: '198.51.100.7', dst: '10.99.0.2', icmpType: type, icmpCode: code, inIface: 'eth0' }]),
    ['gre', { proto: 47, src: '198.51.100.7', dst: '10.99.0.2', inIface: 'eth0' }],
  ];

  it.each(statePackets)('conntrack gives a first %s packet the state the generator predicts', async (_name, packet) => {
    const states = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED'];
    await oracle.load('iptables-legacy', `*filter\n:INPUT ACCEPT [0:0]\n${states.map((s) => `-A INPUT -m conntrack --ctstate ${s} -j ACCEPT`).join('\n')}\nCOMMIT\n`);
    const answer = await oracle.probe(packet);
    expect(answer.decidedBy.position).toBeDefined();
    expect(states[(answer.decidedBy.position as number) - 1]).toBe(predictedCtState(packet));
  });

  const rejectTypes = ['icmp-net-unreachable', 'icmp-host-unreachable', 'icmp-port-unreachable', 'icmp-proto-unreachable',
    'icmp-net-prohibited', 'icmp-host-prohibited', 'icmp-admin-prohibited', 'tcp-reset'];
  it.each(rejectTypes)('REJECT --reject-with %s is what the capture reads off the wire', async (type) => {
    await oracle.load('iptables-nft', `*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j REJECT --reject-with ${type}\nCOMMIT\n`);
    const answer = await oracle.probe(tcp(['SYN']));
    expect(answer.rejectWith).toBe(type);
    expect(answer.replies.map(rejectTypeOf)).toEqual([type]);
  });

  it('REJECT sends nothing about an ICMP error or a RST, and the stack answers accepted probes itself', async () => {
    await oracle.load('iptables-legacy', '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p icmp -m icmp --icmp-type 3 -j REJECT\n-A INPUT -p tcp -m tcp --tcp-flags RST RST -j REJECT --reject-with tcp-reset\nCOMMIT\n');
    const icmpError = await oracle.probe({ proto: 'icmp', src: '198.51.100.7', dst: '10.99.0.2', icmpType: 3, icmpCode: 3, inIface: 'eth0' });
    const rst = await oracle.probe(tcp(['RST']));
    const acceptedSyn = await oracle.probe(tcp(['SYN']));
    expect([icmpError.verdict, icmpError.replies]).toEqual(['reject', []]);
    expect([rst.verdict, rst.replies]).toEqual(['reject', []]);
    expect([acceptedSyn.verdict, acceptedSyn.replies.map((r) => r.tcpFlags)]).toEqual(['accept', [['RST', 'ACK']]]);
  });

  it('raw NOTRACK makes the state UNTRACKED in every backend', async () => {
    const ipt = '*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -p tcp -j CT --notrack\nCOMMIT\n*filter\n:INPUT DROP [0:0]\n-A INPUT -m state --state NEW -j DROP\n-A INPUT -m conntrack --ctstate UNTRACKED -j ACCEPT\nCOMMIT\n';
    const nft = 'table ip raw {\n\tchain PREROUTING {\n\t\ttype filter hook prerouting priority -300; policy accept;\n\t\tmeta l4proto tcp counter notrack\n\t}\n}\ntable ip filter {\n\tchain INPUT {\n\t\ttype filter hook input priority 0; policy drop;\n\t\tct state new counter drop\n\t\tct state untracked counter accept\n\t}\n}\n';
    for (const backend of backends) {
      await oracle.load(backend, backend === 'nft' ? nft : ipt);
      const answer = await oracle.probe(tcp(['SYN']));
      expect({ backend, verdict: answer.verdict, chain: answer.decidedBy.chain }).toEqual({ backend, verdict: 'accept', chain: 'INPUT' });
    }
  });

  const statePackets6: Array<[string, ProbePacket]> = [
    ['SYN', tcp6(['SYN'])], ['bare ACK', tcp6(['ACK'])], ['SYN ACK', tcp6(['SYN', 'ACK'])], ['RST', tcp6(['RST'])],
    ['udp', { proto: 'udp', src: '2001:db8:5::7', dst: '2001:db8:99::2', sport: 5000, dport: 53, inIface: 'eth0' }],
    ...[[128, 0], [129, 0], [1, 4], [1, 1], [2, 0], [3, 0], [4, 1]].map(([type, code]): [string, ProbePacket] => [
      `icmpv6 ${type}/${code}`, { proto: 'icmpv6', src: '2001:db8:5::7', dst: '2001:db8:99::2', icmpType: type, icmpCode: code, inIface: 'eth0' }]),
    ['gre', { proto: 47, src: '2001:db8:5::7', dst: '2001:db8:99::2', inIface: 'eth0' }],
  ];

  it.each(statePackets6)('conntrack gives a first IPv6 %s packet the state the generator predicts', async (_name, packet) => {
    const states = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED'];
    await oracle.load('iptables-legacy', `*filter\n:INPUT ACCEPT [0:0]\n${states.map((s) => `-A INPUT -m conntrack --ctstate ${s} -j ACCEPT`).join('\n')}\nCOMMIT\n`, 'ipv6');
    const answer = await oracle.probe(packet);
    expect(answer.decidedBy.position).toBeDefined();
    expect(states[(answer.decidedBy.position as number) - 1]).toBe(predictedCtState(packet));
  });

  const rejectTypes6 = ['icmp6-no-route', 'icmp6-adm-prohibited', 'icmp6-addr-unreachable', 'icmp6-port-unreachable',
    'icmp6-policy-fail', 'icmp6-reject-route', 'tcp-reset'];
  it.each(rejectTypes6)('ip6tables REJECT --reject-with %s is what the capture reads off the wire', async (type) => {
    await oracle.load('iptables-nft', `*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -j REJECT --reject-with ${type}\nCOMMIT\n`, 'ipv6');
    const answer = await oracle.probe(tcp6(['SYN']));
    expect(answer.rejectWith).toBe(type);
    expect(answer.replies.map(rejectTypeOf)).toEqual([type]);
  });

  it('the IPv6 lab is silent: nothing but our probes reaches the firewall (no ND, MLD or router solicitation)', async () => {
    const nft = 'table inet watch {\n\tchain pre {\n\t\ttype filter hook prerouting priority -500; policy accept;\n\t\tcounter comment "diff-entry"\n\t}\n}\n';
    await oracle.load('nft', nft);
    await oracle.probe(tcp6(['SYN']));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const { stdout } = await runCommand(inNetns(oracle.lab.fw, ['nft', '-j', 'list', 'ruleset']));
    const entry = parseNftCounters(stdout).chains.find((c) => c.table === 'watch')?.rules[0];
    expect(entry?.packets).toBe(1);
  });

  // REJECT in OUTPUT answers the firewall's own SYN-ACK with an error addressed to the firewall. Without
  // the harness's guard that error crosses OUTPUT, POSTROUTING, then PREROUTING and INPUT via lo (FINDINGS.md).
  const outputRejects: Array<[string, 'ipv4' | 'ipv6']> = [
    ...['icmp-port-unreachable', 'icmp-admin-prohibited', 'icmp-net-unreachable', 'tcp-reset'].map((t): [string, 'ipv4'] => [t, 'ipv4']),
    ...['icmp6-port-unreachable', 'icmp6-adm-prohibited', 'icmp6-no-route', 'tcp-reset'].map((t): [string, 'ipv6'] => [t, 'ipv6']),
  ];
  it.each(outputRejects)('REJECT --reject-with %s in OUTPUT (%s): the guard catches its error before any tested chain', async (type, family) => {
    const probe = { ...(family === 'ipv6' ? tcp6(['SYN']) : tcp(['SYN'])), dport: 80, sport: 41000 + outputRejects.findIndex(([t, f]) => t === type && f === family) };
    const text = [
      '*raw', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', '-A PREROUTING -i lo', `-A OUTPUT -d ${probe.dst}`, 'COMMIT',
      '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', '-A INPUT -i lo',
      `-A OUTPUT -p tcp -m tcp --sport 80 -j REJECT --reject-with ${type}`, 'COMMIT', '',
    ].join('\n');
    await oracle.load('iptables-legacy', text, family);
    const answer = await oracle.probe(probe);
    expect({ reply: answer.reply?.verdict, position: answer.reply?.decidedBy.position, error: answer.replyError }).toEqual({ reply: 'reject', position: 1, error: type });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { stdout } = await runCommand(inNetns(oracle.lab.fw, [family === 'ipv6' ? 'ip6tables-legacy-save' : 'iptables-legacy-save', '-c']));
    // The rules that would count the error on its way to and back through lo stayed at zero.
    expect(stdout.split('\n').filter((l) => /^\[\d+:\d+\] -A (PREROUTING -i lo|INPUT -i lo|OUTPUT -d )/.test(l)).map((l) => l.replace(/:\d+\]/, ']')).sort()).toEqual([
      '[0] -A INPUT -i lo', `[0] -A OUTPUT -d ${probe.dst}/${family === 'ipv6' ? 128 : 32}`, '[0] -A PREROUTING -i lo',
    ]);
  });

  it("the analyzer's lab host context is the lab's own `ip -j addr` (in its order) and default routes", async () => {
    const addr = JSON.parse((await runCommand(inNetns(oracle.lab.fw, ['ip', '-j', 'addr']))).stdout) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
    const interfaces = addr.filter((i) => LAB_HOST_CONTEXT.interfaces.some((c) => c.name === i.ifname))
      .map((i) => ({ name: i.ifname, addresses: i.addr_info.map((a) => `${a.local}/${a.prefixlen}`) }));
    expect(interfaces).toEqual(LAB_HOST_CONTEXT.interfaces);
    const routes: Array<{ dst: string; iface: string }> = [];
    for (const [flag, all] of [['-4', '0.0.0.0/0'], ['-6', '::/0']] as const) {
      const listed = JSON.parse((await runCommand(inNetns(oracle.lab.fw, ['ip', flag, '-j', 'route']))).stdout) as Array<{ dst: string; dev: string }>;
      // Besides the default route, the kernel lists only ::1 and the /128 prefix routes, which the interfaces give.
      routes.push(...listed.filter((r) => r.dst === 'default').map((r) => ({ dst: all, iface: r.dev })));
    }
    expect(routes).toEqual(LAB_HOST_CONTEXT.routes);
  });

  for (const fixture of FIXTURE_RULESETS) {
    it(`${fixture.name}: the kernel decides as expected in every backend`, async () => {
      for (const backend of fixture.backends.filter((b) => backends.includes(b))) {
        const loaded = await oracle.load(backend, fixture.text);
        for (const probe of fixture.probes) {
          expect(predictedCtState(probe.packet)).toBe(probe.state);
          const answer = await oracle.probe(probe.packet);
          const { rejectWith, ...where } = probe.expect;
          const got = { backend, packet: probe.packet, verdict: answer.verdict, chain: answer.decidedBy.chain, nth: ruleOrdinal(loaded, answer), policy: answer.decidedBy.policy };
          expect(got).toEqual({ backend, packet: probe.packet, nth: undefined, policy: undefined, ...where });
          if (rejectWith !== undefined) expect(answer.rejectWith).toBe(rejectWith);
        }
      }
    });
  }

  it(`${LEGACY_UNDER_FIREWALLD.name}: a packet must pass both, in priority order`, async () => {
    // A namespace of its own: legacy tables, once registered, stay (empty) after a reset, and a nat
    // table left by an earlier fixture would add its INPUT chain as the last one to accept.
    const fresh = await KernelOracle.start(`m${process.pid}`);
    try {
      await fresh.loadMany(LEGACY_UNDER_FIREWALLD.parts);
      for (const probe of LEGACY_UNDER_FIREWALLD.probes) {
        const answer = await fresh.probe(probe.packet);
        const source = answer.decidedBy.family.startsWith('iptables') ? answer.decidedBy.family : 'nft';
        expect({ packet: probe.packet, verdict: answer.verdict, source, chain: answer.decidedBy.chain }).toEqual({ packet: probe.packet, ...probe.expect });
      }
    } finally {
      await fresh.stop();
    }
  });

  it('ipsets live in the firewall namespace: ipset save there reads back every restored set, the root namespace has none of them', async () => {
    const model = Array.from({ length: 20 }, (_, i) => generateRuleset(9200 + i, 'iptables')).find((m) => m.ipsets !== undefined);
    if (model === undefined) throw new Error('no generated ruleset with ipsets in seeds 9200-9219');
    const [loaded] = await oracle.loadMany([{ backend: 'iptables-legacy', text: renderIptablesSave(model), ipsets: renderIpsetRestore(model) as string }]);
    const names = (model.ipsets ?? []).map((s) => s.name);
    for (const name of names) expect(loaded?.ipsetSave).toMatch(new RegExp(`^create ${name} `, 'm'));
    const root = (await runCommand(['ipset', 'list', '-n'])).stdout.split('\n');
    expect(names.filter((n) => root.includes(n))).toEqual([]);
  });

  // The lab's egress out0 has no address; DNAT + MASQUERADE must still forward (FINDINGS.md, "Source NAT").
  it('MASQUERADE out of an address-less interface borrows another interface\'s address and forwards', async () => {
    const script = [
      'table ip t {',
      '\tchain natpre { type nat hook prerouting priority -100; policy accept; ip saddr 198.51.100.4 counter dnat to 192.0.2.50; }',
      '\tchain filterfwd { type filter hook forward priority 0; policy accept; counter comment "diff-entry"; counter comment "diff-exit"; }',
      '\tchain natpost { type nat hook postrouting priority 100; policy accept; counter masquerade; }',
      '\tchain late { type filter hook postrouting priority 200; policy drop; ip saddr 10.99.0.2 counter accept; }',
      '}',
    ].join('\n');
    await oracle.load('nft', `${script}\n`);
    const answer = await oracle.probe({ proto: 'udp', src: '198.51.100.4', dst: '10.99.0.2', sport: 1000, dport: 53, inIface: 'eth0' });
    expect([answer.verdict, answer.route, answer.path.map((p) => `${p.chain} ${p.verdict}`)]).toEqual(['accept', 'forward', ['natpre accept', 'filterfwd accept', 'natpost accept', 'late accept']]);
  });

  it('generates canonical iptables-save text: iptables-nft reads every generated ruleset back unchanged', async () => {
    for (let seed = 9100; seed < 9115; seed++) {
      const model = generateRuleset(seed, 'iptables');
      const text = renderIptablesSave(model);
      // `-m set` rules need their sets to exist before the rules load.
      const ipsets = renderIpsetRestore(model);
      const [loaded] = await oracle.loadMany([{ backend: 'iptables-nft', text, ...(ipsets === undefined ? {} : { ipsets }) }]);
      if (loaded === undefined) throw new Error('nothing loaded');
      expect({ seed, text: comparableSave(loaded.readback) }).toEqual({ seed, text: comparableSave(text) });
    }
  }, 120_000);

  it('loads generated rulesets in every backend and reaches a decision for each packet', async () => {
    for (let seed = 9000; seed < 9006; seed++) {
      const iptModel = generateRuleset(seed, 'iptables');
      const ipt = renderIptablesSave(iptModel);
      const ipsets = renderIpsetRestore(iptModel);
      const nft = renderNft(generateRuleset(seed, 'nft'), seed % 2 === 0 ? 'ip' : 'inet');
      for (const backend of backends) {
        const text = backend === 'nft' ? nft : ipt;
        if (text === undefined) continue;
        await oracle.loadMany([{ backend, text, ...(backend === 'nft' || ipsets === undefined ? {} : { ipsets }) }]);
        for (const { packet } of generatePackets(generateRuleset(seed, backend === 'nft' ? 'nft' : 'iptables'), 3, seed)) {
          const answer = await oracle.probe(packet);
          expect(['accept', 'drop', 'reject']).toContain(answer.verdict);
        }
      }
    }
  }, 180_000);
});

function tcp6(tcpFlags: string[]): ProbePacket {
  return { proto: 'tcp', src: '2001:db8:5::7', dst: '2001:db8:99::2', sport: 40001, dport: 22, tcpFlags, inIface: 'eth0' };
}

function tcp(tcpFlags: string[]): ProbePacket {
  return { proto: 'tcp', src: '198.51.100.7', dst: '10.99.0.2', sport: 40001, dport: 22, tcpFlags, inIface: 'eth0' };
}

/** iptables-save text without comments and counters, tables sorted by name (the backends order them differently). */
function comparableSave(text: string): string {
  const tables = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      current = [];
      tables.set(line, current);
      continue;
    }
    current.push(line.replace(/^\[\d+:\d+\] /, '').replace(/ \[\d+:\d+\]$/, ''));
  }
  return [...tables.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, lines]) => [name, ...lines].join('\n')).join('\n');
}
