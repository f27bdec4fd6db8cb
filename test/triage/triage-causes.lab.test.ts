import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { describeLab } from '../helpers/lab-gate.ts';
import { loadInventory } from '../../src/config/load-inventory.ts';
import { resolveHost } from '../../src/config/resolve-host.ts';
import { startLab, type Lab } from '../../src/lab/index.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { triageHost } from '../../src/probes/triage-host.ts';
import { SshPool } from '../../src/remote/ssh-pool.ts';
import type { Cause, TriageReport } from '../../src/triage/report-types.ts';

/**
 * One lab per cause, triaged exactly as an operator would: inventory written by the lab, pinned
 * host keys, the SSH pool, real probes on real hosts. The expected cause is the whole point.
 */
const cases: Array<{ scenario: string; target?: string; from?: string; cause: Cause; check?: (r: TriageReport) => void }> = [
  {
    scenario: 'seed-telnet', cause: 'firewall-shadowed-accept',
    check: (r) => {
      expect(r.decidedBy).toMatchObject({ table: 'filter', chain: 'INPUT', position: 5 });
      expect(r.observedSymptom).toMatch(/EHOSTUNREACH/);
      expect(r.symptomAgrees).toBe(true);
      expect(r.fixes.map((f) => f.id)).toContain('insert-narrow-accept');
      expect(r.evidence.find((e) => e.probe === 'capture')?.raw.join('\n')).toMatch(/unreachable - admin prohibited/);
    },
  },
  { scenario: 'reject-tcp-reset', cause: 'firewall-reject', check: (r) => expect(r.observedSymptom).toMatch(/ECONNREFUSED/) },
  { scenario: 'drop-rule', cause: 'firewall-drop' },
  { scenario: 'drop-policy', cause: 'firewall-policy-drop' },
  { scenario: 'not-listening', cause: 'not-listening', check: (r) => expect(r.fixes.every((f) => f.kind === 'service-hint')).toBe(true) },
  { scenario: 'bound-loopback', cause: 'bound-elsewhere' },
  {
    scenario: 'reply-blocked', cause: 'reply-blocked',
    check: (r) => {
      expect(r.decidedBy).toMatchObject({ chain: 'OUTPUT', position: 1 });
      expect(r.fixes.map((f) => f.id)).toEqual(['insert-reply-accept']);
      expect(r.fixes[0]!.commands.join('\n')).toMatch(/-I OUTPUT 1 -s 10\.\d+\.\d+\.2\/32 -d 10\.\d+\.\d+\.1\/32 -p tcp -m tcp --sport 23 -m conntrack --ctstate ESTABLISHED -j ACCEPT/);
    },
  },
  {
    scenario: 'tcp-wrappers', cause: 'tcp-wrappers',
    check: (r) => {
      const w = r.evidence.find((e) => e.probe === 'tcp-wrappers');
      expect(w?.data).toMatchObject({ daemon: 'cat', decision: 'deny', honoured: 'yes', decidedBy: { file: '/etc/hosts.deny', line: 1 } });
      expect(r.fixes.map((f) => f.id)).toEqual(['allow-in-hosts-allow']);
    },
  },
  { scenario: 'reachable', cause: 'reachable' },
  { scenario: 'blocked-upstream', cause: 'blocked-upstream' },
  {
    scenario: 'persistence-drift', cause: 'reachable',
    check: (r) => expect(r.warnings.map((w) => w.code)).toContain('persistence-drift'),
  },
  { scenario: 'nft-native', cause: 'firewall-shadowed-accept', check: (r) => expect(r.decidedBy?.source).toBe('nft') },
  {
    scenario: 'ipset-blocklist', cause: 'firewall-shadowed-accept',
    check: (r) => {
      // Judged from the host's own `ipset save`: without it the REJECT would be an unknown.
      expect(r.decidedBy).toMatchObject({ chain: 'INPUT', position: 1 });
      expect(r.warnings.map((w) => w.code)).not.toContain('unknown-match');
      expect(r.observedSymptom).toMatch(/EHOSTUNREACH/);
    },
  },
  { scenario: 'seed-ipv6', target: 'v6', cause: 'firewall-shadowed-accept', check: (r) => expect(r.observedSymptom).toMatch(/EACCES/) },
];

describeLab('triage finds the cause on real hosts (one lab per cause)', () => {
  const log = silentLogger();
  for (const c of cases) {
    describeLab(c.scenario, () => {
      let lab: Lab;
      let pool: SshPool;
      let report: TriageReport;
      beforeAll(async () => {
        lab = await startLab(c.scenario, { log });
        const inventory = loadInventory(lab.inventoryFile);
        pool = new SshPool({ logger: log, resolveJump: (n) => resolveHost(inventory, n) });
        const server = lab.hosts.server!;
        const target = c.target === 'v6' ? server.addresses.find((a) => a.includes(':'))! : 'server';
        // No warm-up even for a brand-new IPv6 namespace: should the capture miss the first SYN while
        // neighbour discovery settles, the deciding rule's counter still proves the SYN arrived.
        report = await triageHost({ target, port: 23, from: c.from ?? 'client' }, { inventory, pool, log, budgetMs: 10_000, connectTimeoutMs: 2000 });
        if (process.env.WHY_BLOCKED_TEST_REPORTS) writeFileSync(`${process.env.WHY_BLOCKED_TEST_REPORTS}/${c.scenario}.json`, JSON.stringify(report, null, 2));
      }, 60_000);
      afterAll(async () => {
        await pool?.close();
        await lab?.stop();
      });
      it(`is diagnosed as ${c.cause}`, () => {
        expect(report.cause, report.summary).toBe(c.cause);
        c.check?.(report);
      });
    });
  }
});
