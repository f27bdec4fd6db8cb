import { describe, expect, it } from 'vitest';
import type { Inventory } from '../../src/config/inventory-types.ts';
import type { AuditRecord, AuditSink } from '../../src/fix/audit-log.ts';
import { memoryBackupStore } from '../../src/fix/backup-store.ts';
import { changeCommands } from '../../src/fix/change-commands.ts';
import { ChangeEngine, type ChangeRequest } from '../../src/fix/change-engine.ts';
import { memoryHostLock } from '../../src/fix/host-lock.ts';
import { firewalldPlan, ufwPlan } from '../../src/fix/manager-fix.ts';
import { readHostRules } from '../../src/fix/read-host-state.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { ErrorCode } from '../../src/errors.ts';
import type { ManagedFix } from '../../src/triage/report-types.ts';
import { FakeManagedHost } from './fake-managed-host.ts';

const web1 = { name: 'web1', addresses: ['10.0.0.2'], aliases: [], site: 'lab', ssh: { user: 'whyblocked', port: 22, sudo: true, readyTimeoutMs: 1000 } };
const inventory = { file: 'inventory.yaml', hosts: new Map([['web1', web1]]) } as unknown as Inventory;
const flow: ChangeRequest['flow'] = { targetAddress: '10.0.0.2', port: 23, clientAddress: '10.0.0.1', noVantage: true };

function setup(manager: 'firewalld' | 'ufw', options: { effective?: boolean; deadmanSeconds?: number } = {}) {
  const host = new FakeManagedHost({ manager, ...(options.effective === false ? { effective: false } : {}) });
  const audit: AuditRecord[] = [];
  const sink: AuditSink = { record: async (e) => { const r = { ...e, at: '', atMs: 0 }; audit.push(r); return r; } };
  const engine = new ChangeEngine({
    inventory, pool: host.pool(), log: silentLogger(), audit: sink, lock: memoryHostLock(), backups: memoryBackupStore(),
    commands: changeCommands(), deadmanSeconds: options.deadmanSeconds ?? 60, connectTimeoutMs: 1000,
  });
  const request = async (fix: ManagedFix, kind: ChangeRequest['kind'] = 'apply', rulesetHash?: string): Promise<ChangeRequest> => ({
    kind, by: 'U1', approvedBy: ['U2'], flow,
    proposal: { id: 'prop-abc', host: 'web1', commands: [], rulesetAfter: '', manager: fix, rulesetHash: rulesetHash ?? (await readHostRules(async (c) => host.run(c))).hash! },
  });
  return { host, audit, engine, request };
}

const wish = (kind: 'firewalld' | 'ufw'): ManagedFix => ({ kind, port: 23, source: '10.0.0.1/32', ...(kind === 'firewalld' ? { zone: 'public' } : {}) });
const events = (audit: AuditRecord[]) => audit.map((a) => `${a.event}:${a.outcome}`);

describe('change engine: fixes in firewalld terms', () => {
  it('applies the timed rich rule, verifies, then adds it --permanent and reloads; audits with hashes', async () => {
    const { host, audit, engine, request } = setup('firewalld');
    const req = await request(wish('firewalld'));
    const result = await engine.run(req);
    expect(result.status).toBe('succeeded');
    expect(result.message).toMatch(/--permanent and firewalld was reloaded/);
    const plan = firewalldPlan({ port: 23, source: '10.0.0.1/32', zone: 'public' }, 60);
    expect(host.managerCommands()).toEqual([...plan.apply, ...plan.confirm].map((c) => c.argv));
    expect(result.verification).toMatchObject({ rulesMatch: true, freshSsh: true, analyzer: { ok: true } });
    expect(host.rulesText()).toContain('-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 23 -j ACCEPT');
    expect(events(audit)).toEqual(['verification:ok', 'apply:ok']);
    expect(audit[1]).toMatchObject({ hashBefore: req.proposal.rulesetHash, hashAfter: result.hashAfter });
    expect(audit[1]!.diff).toContain('+ -A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 23 -j ACCEPT');
    expect(result.hashAfter).not.toBe(result.hashBefore);

    const persisted = await engine.run({ ...req, kind: 'persist' });
    expect(persisted).toMatchObject({ status: 'succeeded', message: expect.stringMatching(/already|--permanent/) as unknown });
    expect(host.managerCommands()).toHaveLength(3);

    const rolledBack = await engine.run({ ...req, kind: 'rollback' });
    expect(rolledBack.status).toBe('succeeded');
    expect(host.managerCommands().slice(3)).toEqual(plan.undo.map((c) => c.argv));
    expect(rolledBack.hashAfter).toBe(req.proposal.rulesetHash);
    expect(events(audit)).toEqual(['verification:ok', 'apply:ok', 'persist:ok', 'rollback:ok']);
  });

  it('on a failed verification nothing is made permanent: the timed rule expires by itself', async () => {
    const { host, audit, engine, request } = setup('firewalld', { effective: false, deadmanSeconds: 2 });
    const req = await request(wish('firewalld'));
    const result = await engine.run(req);
    expect(result).toMatchObject({ status: 'failed', restored: 'by-deadman', verification: { analyzer: { ok: false } } });
    expect(result.message).toMatch(/expired by itself/);
    expect(host.managerCommands().flat().filter((a) => a === '--permanent' || a === '--reload')).toEqual([]);
    expect(events(audit)).toEqual(['verification:failed', 'deadman:ok', 'apply:failed']);
    expect((await readHostRules(async (c) => host.run(c))).hash).toBe(req.proposal.rulesetHash);
  });

  it('refuses when the rules changed since diagnosis, and runs no manager command', async () => {
    const { host, audit, engine, request } = setup('firewalld');
    const result = await engine.run(await request(wish('firewalld'), 'apply', 'sha256:stale'));
    expect(result).toMatchObject({ status: 'refused', code: ErrorCode.RulesChanged, offerRerun: true });
    expect(host.managerCommands()).toEqual([]);
    expect(events(audit)).toEqual(['refusal:refused']);
  });

  it('a rollback is compare-and-swapped against the rules it left', async () => {
    const { host, engine, request } = setup('firewalld');
    const req = await request(wish('firewalld'));
    expect((await engine.run(req)).status).toBe('succeeded');
    host.run({ argv: ['ufw', 'insert', '1', 'allow', 'proto', 'tcp', 'from', '10.9.9.9', 'to', 'any', 'port', '80'], timeoutMs: 1, maxOutputBytes: 1 });
    const before = host.managerCommands().length;
    const result = await engine.run({ ...req, kind: 'rollback' });
    expect(result).toMatchObject({ status: 'refused', code: ErrorCode.RulesChanged });
    expect(host.managerCommands()).toHaveLength(before);
  });
});

describe('change engine: fixes in ufw terms', () => {
  it('inserts the rule first, verifies, confirms nothing (ufw saves itself)', async () => {
    const { host, audit, engine, request } = setup('ufw');
    const req = await request(wish('ufw'));
    const result = await engine.run(req);
    expect(result.status).toBe('succeeded');
    expect(result.message).toMatch(/ufw saved it/);
    expect(host.managerCommands()).toEqual(ufwPlan({ port: 23, source: '10.0.0.1/32' }).apply.map((c) => c.argv));
    expect(events(audit)).toEqual(['verification:ok', 'apply:ok']);
    const persisted = await engine.run({ ...req, kind: 'persist' });
    expect(persisted.message).toMatch(/ufw saved the rule itself/);
    const rolledBack = await engine.run({ ...req, kind: 'rollback' });
    expect(rolledBack.status).toBe('succeeded');
    expect(host.managerCommands().at(-1)).toEqual(ufwPlan({ port: 23, source: '10.0.0.1/32' }).undo[0]!.argv);
  });

  it('no timer: a failed verification deletes the rule at once, and says so', async () => {
    const { host, audit, engine, request } = setup('ufw', { effective: false });
    const req = await request(wish('ufw'));
    const result = await engine.run(req);
    expect(result).toMatchObject({ status: 'failed', restored: 'immediately' });
    expect(result.message).toMatch(/deleted from ufw at once/);
    expect(host.managerCommands().map((a) => a[1])).toEqual(['insert', 'delete']);
    expect(events(audit)).toEqual(['verification:failed', 'rollback:ok', 'apply:failed']);
    expect((await readHostRules(async (c) => host.run(c))).hash).toBe(req.proposal.rulesetHash);
  });

  it('a rule ufw refuses is reported, and nothing else runs', async () => {
    const { host, engine, request } = setup('ufw');
    host.failOn = /^ufw insert/;
    const result = await engine.run(await request(wish('ufw')));
    expect(result).toMatchObject({ status: 'failed', code: ErrorCode.ApplyFailed });
    expect(result.message).toMatch(/INVALID_RULE/);
    expect(host.managerCommands()).toHaveLength(1);
  });
});

describe('change engine: a bad stored wish is refused before anything runs', () => {
  it.each<[string, ManagedFix]>([
    ['port 0', { kind: 'firewalld', port: 0 }],
    ['port 70000', { kind: 'ufw', port: 70000 }],
    ['a hostname source', { kind: 'ufw', port: 23, source: 'evil.example' }],
    ['a source with shell syntax', { kind: 'firewalld', port: 23, source: '1.2.3.4"; reboot; "' }],
    ['a /33 prefix', { kind: 'firewalld', port: 23, source: '10.0.0.0/33' }],
    ['a zone with quotes', { kind: 'firewalld', port: 23, zone: 'pub"lic' }],
    ['a zone on ufw', { kind: 'ufw', port: 23, zone: 'public' }],
    ['an unknown manager', { kind: 'nftables' as 'ufw', port: 23 }],
  ])('%s', async (_what, fix) => {
    const { host, audit, engine } = setup('firewalld');
    const result = await engine.run({ kind: 'apply', by: 'U1', flow, proposal: { id: 'prop-abc', host: 'web1', commands: [], rulesetAfter: '', rulesetHash: 'sha256:x', manager: fix } });
    expect(result).toMatchObject({ status: 'refused', code: ErrorCode.UnsafeArgument });
    expect(host.ran).toEqual([]);
    expect(events(audit)).toEqual(['refusal:refused']);
  });
});
