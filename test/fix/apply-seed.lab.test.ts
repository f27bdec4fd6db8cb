import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeLab } from '../helpers/lab-gate.ts';
import { readAuditFile } from '../../src/fix/audit-log.ts';
import type { TriageReport } from '../../src/triage/report-types.ts';
import { requestFrom, startFixLab, type FixLab } from './fix-lab-helpers.ts';

describeLab('apply, persist and roll back the seed fix on a real host', () => {
  let fl: FixLab;
  let report: TriageReport;
  let original: string;
  let proposalId: string;
  beforeAll(async () => {
    fl = await startFixLab();
    report = await fl.triage();
    original = await fl.serverRules();
  }, 60_000);
  afterAll(async () => { await fl?.stop(); });

  it('applies the top fix atomically and the client connects', async () => {
    const fix = report.fixes.find((f) => f.kind === 'firewall')!;
    const req = requestFrom(report, fix);
    proposalId = req.proposal.id;
    const result = await fl.engine().run(req);
    expect(result.status, result.message).toBe('succeeded');
    expect(result.verification).toMatchObject({ rulesMatch: true, freshSsh: true, connect: { ok: true }, analyzer: { ok: true } });
    const connect = await fl.lab.exec('client', ['bash', '-c', `exec 3<>/dev/tcp/${report.target.address}/23 && echo connected`]);
    expect(connect.stdout).toMatch(/connected/);
    // The dead-man was disarmed: nothing will undo the fix later.
    const status = await fl.lab.exec('server', [requestHelper(), 'status', proposalId]);
    expect(status.stdout.trim()).toBe('none');
    const audit = await readAuditFile(fl.auditFile, { host: 'server' });
    expect(audit.map((a) => `${a.event}:${a.outcome}`)).toEqual(['verification:ok', 'apply:ok']);
    expect(audit[1]!.diff!.length).toBeGreaterThan(0);
    expect(audit[1]!.hashBefore).toBe(report.rulesetHash);
  }, 60_000);

  it('persists: the saved file gets the good order and survives a simulated reboot', async () => {
    const fix = report.fixes.find((f) => f.kind === 'firewall')!;
    const result = await fl.engine().run({ ...requestFrom(report, fix, 'persist', proposalId) });
    expect(result.status, result.message).toBe('succeeded');
    expect(result.savedFile).toBe('/etc/sysconfig/iptables');
    const saved = (await fl.lab.exec('server', ['cat', '/etc/sysconfig/iptables'])).stdout;
    const lines = saved.split('\n');
    const accept23 = lines.findIndex((l) => /--dport 23\b.*ACCEPT/.test(l));
    const reject = lines.findIndex((l) => /-A INPUT -j REJECT/.test(l));
    expect(accept23).toBeGreaterThan(-1);
    expect(accept23).toBeLessThan(reject);
    expect((await fl.lab.exec('server', ['cat', '/etc/sysconfig/iptables.bak'])).stdout).toMatch(/REJECT/);
    // Reboot: flush everything, then load the saved file the way the boot service does.
    await fl.lab.exec('server', ['iptables-legacy', '-F']);
    await fl.lab.exec('server', ['iptables-legacy-restore', '/etc/sysconfig/iptables']);
    const connect = await fl.lab.exec('client', ['bash', '-c', `exec 3<>/dev/tcp/${report.target.address}/23 && echo connected`]);
    expect(connect.stdout).toMatch(/connected/);
  }, 60_000);

  it('rolls back to the original rules', async () => {
    const fix = report.fixes.find((f) => f.kind === 'firewall')!;
    const result = await fl.engine().run(requestFrom(report, fix, 'rollback', proposalId));
    expect(result.status, result.message).toBe('succeeded');
    const norm = (t: string) => t.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/, '')).join('\n');
    expect(norm(await fl.serverRules())).toBe(norm(original));
  }, 60_000);
});

function requestHelper(): string {
  return new URL('../../deploy/host/why-blocked-change', import.meta.url).pathname;
}
