import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.ts';
import { explainCommand } from '../../src/cli/explain-command.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import type { CliIo } from '../../src/cli/cli-command.ts';

const fixtures = new URL('../fixtures/rulesets/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'wb-explain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: { write: (s: string) => { out += s; } }, stderr: { write: (s: string) => { err += s; } },
    env: {}, cwd: fixtures, log: silentLogger(), signal: new AbortController().signal };
  const code = await runCli(['explain', ...args], io, [explainCommand]);
  return { code, out, err };
}

const seed = ['--ruleset', 'seed-fedora-telnet.rules'];

describe('why-blocked explain', () => {
  it('prints the decider first, then the symptom, then the trace', async () => {
    const r = await cli([...seed, '--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcp', '--dport', '23', '--sport', '49507']);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    expect(lines[1]).toBe('VERDICT: REJECT (icmp-host-prohibited)');
    expect(lines[2]).toBe('Decided by: iptables-legacy filter INPUT rule 5: -A INPUT -j REJECT --reject-with icmp-host-prohibited');
    expect(lines[3]).toContain('Shadowed: iptables-legacy filter INPUT rule 6');
    expect(r.out).toContain('ICMP host 192.168.30.2 unreachable - admin prohibited');
    expect(r.out.indexOf('Trace:')).toBeGreaterThan(r.out.indexOf('Decided by'));
  });

  it('--json prints the ExplainResult', async () => {
    const r = await cli([...seed, '--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcp', '--dport', '22', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { verdict: string; decidedBy: { position: number } };
    expect(j.verdict).toBe('accept');
    expect(j.decidedBy.position).toBe(4);
  });

  it('merges several --ruleset files (legacy ACCEPT + nft drop)', async () => {
    const nft = join(dir, 'drop23.json');
    writeFileSync(nft, JSON.stringify({ nftables: [
      { table: { family: 'inet', name: 'f', handle: 1 } },
      { chain: { family: 'inet', table: 'f', name: 'in', handle: 1, type: 'filter', hook: 'input', prio: 10, policy: 'accept' } },
      { rule: { family: 'inet', table: 'f', chain: 'in', handle: 2, expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 23 } }, { drop: null }] } },
    ] }));
    const r = await cli(['--ruleset', 'legacy-telnet-accept.rules', '--ruleset', nft, '--src', '10.0.0.2', '--dst', '10.0.0.1', '--proto', 'tcp', '--dport', '23', '--json']);
    expect(JSON.parse(r.out)).toMatchObject({ verdict: 'drop', decidedBy: { source: 'nft', chain: 'in' } });
  });

  it('--interface lets routing follow a Docker DNAT into FORWARD', async () => {
    const r = await cli(['--ruleset', 'docker.rules', '--src', '10.0.0.5', '--dst', '10.0.0.1', '--proto', 'tcp', '--dport', '8080', '--in-iface', 'eth0',
      '--interface', 'eth0=10.0.0.1/24', '--interface', 'docker0=172.17.0.1/16', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ verdict: 'accept', path: 'forward', translated: { dst: '172.17.0.2', dport: 80, outIface: 'docker0' } });
    const bad = await cli(['--ruleset', 'docker.rules', '--src', '10.0.0.5', '--dst', '10.0.0.1', '--proto', 'tcp', '--interface', 'eth0']);
    expect(bad.code).toBe(2);
  });

  it('--route decides which interface the answer leaves by, which `-o` in OUTPUT sees', async () => {
    const rules = join(dir, 'out-eth1.rules');
    writeFileSync(rules, '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -o eth1 -j REJECT --reject-with icmp-admin-prohibited\nCOMMIT\n');
    const args = ['--ruleset', rules, '--src', '198.51.100.7', '--dst', '10.0.0.1', '--proto', 'tcp', '--dport', '22', '--in-iface', 'eth0', '--interface', 'eth0=10.0.0.1/24'];
    // Without a route to the client the answer is assumed to go back the way the request came.
    const symmetric = JSON.parse((await cli([...args, '--json'])).out) as { reply: { verdict: string; packet: { outIface: string } } };
    expect(symmetric.reply).toMatchObject({ verdict: 'accept', packet: { outIface: 'eth0' } });
    const routed = await cli([...args, '--route', '0.0.0.0/0=eth1', '--route', '198.51.100.0/25=eth0', '--json']);
    expect(JSON.parse(routed.out)).toMatchObject({ reply: { verdict: 'accept', packet: { outIface: 'eth0' } } });
    const viaDefault = await cli([...args, '--src', '198.51.100.200', '--route', '0.0.0.0/0=eth1', '--route', '198.51.100.0/25=eth0']);
    expect(viaDefault.code).toBe(0);
    expect(viaDefault.out).toContain('Reply (leaves by eth1): REJECT (icmp-admin-prohibited) by iptables filter OUTPUT rule 1');
  });

  it('batch mode answers one JSON line per input line, in order', async () => {
    const file = join(dir, 'packets.jsonl');
    writeFileSync(file, [
      { proto: 'tcp', src: '192.168.30.1', dst: '192.168.30.2', sport: 1, dport: 23 },
      { proto: 'tcp', src: '192.168.30.1', dst: '192.168.30.2', sport: 1, dport: 22, state: 'NEW' },
      { proto: 'icmp', src: '192.168.30.1', dst: '192.168.30.2' },
    ].map((p) => JSON.stringify(p)).join('\n'));
    const r = await cli([...seed, '--packets', file]);
    expect(r.code).toBe(0);
    const out = r.out.trim().split('\n').map((l) => JSON.parse(l) as { verdict: string });
    expect(out.map((o) => o.verdict)).toEqual(['reject', 'accept', 'accept']);
  });

  it('batch mode marks an invalid packet line and exits 2', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"proto":"tcp","src":"1.2.3.400","dst":"1.2.3.4","dport":1}\n{"proto":"tcp","src":"1.2.3.5","dst":"1.2.3.4","dport":1}\n');
    const r = await cli([...seed, '--packets', file]);
    expect(r.code).toBe(2);
    const out = r.out.trim().split('\n').map((l) => JSON.parse(l) as { error?: string; verdict?: string });
    expect(out[0]?.error).toContain('1.2.3.400');
    expect(out[1]?.verdict).toBe('reject');
  });

  const usageCases: [string, string[], string][] = [
    ['bad source IP', [...seed, '--src', '192.168.30.300', '--dst', '192.168.30.2', '--proto', 'tcp'], '192.168.30.300'],
    ['bad destination', [...seed, '--src', '192.168.30.1', '--dst', 'host', '--proto', 'tcp'], 'host'],
    ['port out of range', [...seed, '--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcp', '--dport', '70000'], '--dport'],
    ['port not a number', [...seed, '--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcp', '--dport', 'ssh'], '--dport'],
    ['unknown protocol', [...seed, '--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcpp'], 'tcpp'],
    ['mixed IP versions', [...seed, '--src', '::1', '--dst', '192.168.30.2', '--proto', 'tcp'], 'different IP versions'],
    ['bad state', [...seed, '--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcp', '--state', 'OPEN'], '--state'],
    ['missing --src', [...seed, '--dst', '192.168.30.2', '--proto', 'tcp'], '--src'],
    ['no ruleset', ['--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcp'], '--ruleset'],
    ['missing ruleset file', ['--ruleset', 'nope.rules', '--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcp'], 'nope.rules'],
    ['unknown flag', [...seed, '--bogus'], 'bogus'],
    ['bad format', [...seed, '--format', 'xml', '--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcp'], '--format'],
    ...([
      ['route without interface', '10.0.0.0/8'], ['route without prefix length', '10.0.0.0=eth0'], ['route prefix too long', '10.0.0.0/33=eth0'],
      ['route not an address', 'default=eth0'], ['route with empty interface', '::/0='], ['route interface with a slash', '::/0=a/b'],
      ['route interface too long', '0.0.0.0/0=abcdefghijklmnop'],
    ] as const).map(([name, spec]): [string, string[], string] => [name, [...seed, '--src', '192.168.30.1', '--dst', '192.168.30.2', '--proto', 'tcp', '--route', spec], '--route']),
  ];
  it.each(usageCases)('%s is a usage error (exit 2)', async (_n, args, mention) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.err).toContain(mention);
  });

  describe('--ipset FILE', () => {
    const rulesFile = join(dir, 'set.rules');
    const setsFile = join(dir, 'sets.save');
    writeFileSync(rulesFile, '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m set --match-set ban src -j DROP\nCOMMIT\n');
    writeFileSync(setsFile, 'create ban hash:ip family inet hashsize 1024 maxelem 65536\nadd ban 203.0.113.7\n');
    const pkt = ['--src', '203.0.113.7', '--dst', '192.0.2.1', '--proto', 'tcp', '--dport', '22'];

    it('judges -m set from the given contents', async () => {
      const r = await cli(['--ruleset', rulesFile, '--ipset', setsFile, ...pkt, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ verdict: 'drop', decidedBy: { position: 1 } });
    });

    it('without it, says how to provide the contents', async () => {
      const r = await cli(['--ruleset', rulesFile, ...pkt]);
      expect(r.code).toBe(0);
      expect(r.out).toContain('VERDICT: UNKNOWN');
      expect(r.out).toContain('--ipset FILE');
    });

    const bad: [string, string, string[]][] = [
      ['a missing file', join(dir, 'nope.save'), ['nope.save']],
      ['a malformed line', 'bad.save', ['bad.save', 'ipset line 2', '"10.0.0.300"']],
    ];
    it.each(bad)('%s is a usage error (exit 2) naming the problem', async (_n, file, mentions) => {
      writeFileSync(join(dir, 'bad.save'), 'create ban hash:ip\nadd ban 10.0.0.300\n');
      const r = await cli(['--ruleset', rulesFile, '--ipset', file === 'bad.save' ? join(dir, file) : file, ...pkt]);
      expect(r.code).toBe(2);
      for (const m of mentions) expect(r.err).toContain(m);
    });
  });

  it('a malformed ruleset names the file, line and token', async () => {
    const bad = join(dir, 'bad.rules');
    writeFileSync(bad, '*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp --dport 99999 -j DROP\nCOMMIT\n');
    const r = await cli(['--ruleset', bad, '--src', '10.0.0.1', '--dst', '10.0.0.2', '--proto', 'tcp']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('line 3');
    expect(r.err).toContain('99999');
    expect(r.err).toContain('bad.rules');
  });
});
