import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Inventory, InventoryHost } from '../config/inventory-types.ts';
import { resolveHost } from '../config/resolve-host.ts';
import { asWhyBlockedError, ErrorCode, WhyBlockedError } from '../errors.ts';
import type { Logger } from '../log/create-logger.ts';
import { buildConnectCommand, parseConnectOutput } from '../probes/connect-probe.ts';
import type { ExecResult } from '../remote/executor.ts';
import { localExec } from '../remote/local-exec.ts';
import type { RemoteCommand } from '../remote/remote-command.ts';
import type { SshPool } from '../remote/ssh-pool.ts';
import type { ManagedFix } from '../triage/report-types.ts';
import type { AuditEvent, AuditSink } from './audit-log.ts';
import type { BackupStore, ChangeRecord } from './backup-store.ts';
import { backendOfFix, savedFileFor, type ChangeBackend, type ChangeCommands, type DeadmanMode } from './change-commands.ts';
import type { HostLock } from './host-lock.ts';
import { compareIntended, rulesDiff } from './intended-rules.ts';
import { managerPlan, renderOperatorCommand, type ManagerPlan } from './manager-fix.ts';
import { readHostRules, readSavedRules, type FlowUnderChange, type HostRulesState, type Run } from './read-host-state.ts';

export type ChangeKind = 'apply' | 'persist' | 'rollback';
export type ChangeStep = 'lock' | 'compare' | 'backup' | 'arm' | 'apply' | 'verify' | 'restore' | 'disarm' | 'persist' | 'simulate' | 'rollback';

export interface ChangeEngineDeps {
  inventory: Inventory;
  /** Only these two calls are used, so tests can stand in a fake host. */
  pool: Pick<SshPool, 'exec' | 'connectFresh'>;
  log: Logger;
  audit: AuditSink;
  lock: HostLock;
  backups: BackupStore;
  commands: ChangeCommands;
  /** The dead-man delay T. */
  deadmanSeconds: number;
  /** `setsid` inside network-namespace labs: their PID 1 is another namespace's systemd. @defaultValue 'auto' */
  deadmanMode?: DeadmanMode;
  connectTimeoutMs: number;
  onStep?: (step: ChangeStep, message: string) => void;
  signal?: AbortSignal;
}

export interface ChangeRequest {
  kind: ChangeKind;
  proposal: {
    id: string; host: string; commands: string[]; rulesetAfter: string; rulesetHash?: string; triageId?: string;
    /** firewalld/ufw owns the rules: the fix is applied in its terms, never as a raw restore. */
    manager?: ManagedFix;
  };
  flow: FlowUnderChange & {
    /** Inventory host the client connection is re-tested from; absent = from this worker. */
    fromHost?: string;
    /** Skip the client-side connect test (the vantage is a bare address nobody can log in to). */
    noVantage?: boolean;
  };
  by: string;
  approvedBy?: string[];
}

export interface VerificationResult {
  rulesMatch?: boolean;
  differences?: string[];
  freshSsh?: boolean;
  connect?: { ok: boolean; summary: string };
  analyzer?: { ok: boolean; summary: string };
}

export interface ChangeResult {
  kind: ChangeKind;
  status: 'succeeded' | 'failed' | 'refused';
  code?: ErrorCode;
  message: string;
  hashBefore?: string;
  hashAfter?: string;
  verification?: VerificationResult;
  /** How the backup came back after a failed verification. */
  restored?: 'immediately' | 'by-deadman' | 'not-restored';
  /** The rules changed since diagnosis: the user should re-run the triage. */
  offerRerun?: boolean;
  /** Persist: the flow simulated against the saved file. */
  savedFileOk?: boolean;
  savedFile?: string;
}

class Refusal extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly offerRerun = false) { super(message); }
}

const restoreAttemptMs = 5000;
const healGraceMs = 5000;

/** Races a promise against a timer; the loser's late result is cleaned up by `onLate`. */
async function within<T>(p: Promise<T>, ms: number, onLate: (v: T) => void): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => { timedOut = true; resolve(undefined); }, ms); });
  p.then((v) => { if (timedOut) onLate(v); }, () => undefined);
  try { return await Promise.race([p, timeout]); } finally { clearTimeout(timer); }
}

/**
 * Applies, persists or rolls back one stored fix on one host, safely: compare-and-swap on the
 * ruleset hash, a backup, a dead-man restore that survives us, one atomic load, verification from
 * outside, and a restore the moment anything looks wrong.
 */
export class ChangeEngine {
  constructor(private readonly deps: ChangeEngineDeps) {
    // Every concurrent probe command listens on the one job signal.
    if (deps.signal) setMaxListeners(64, deps.signal);
  }

  async run(req: ChangeRequest): Promise<ChangeResult> {
    const host = resolveHost(this.deps.inventory, req.proposal.host);
    const log = this.deps.log.child({ host: host.name, proposalId: req.proposal.id, kind: req.kind });
    this.step('lock', `waiting for other changes to ${host.name}`);
    const release = await this.deps.lock.acquire(host.name, this.deps.signal ? { signal: this.deps.signal } : {});
    try {
      if (req.proposal.manager) return await this.managed(req, req.proposal.manager, host);
      if (req.kind === 'apply') return await this.apply(req, host, log);
      if (req.kind === 'persist') return await this.persist(req, host);
      return await this.rollback(req, host);
    } catch (err) {
      if (err instanceof Refusal) {
        await this.audit(req, host, 'refusal', 'refused', err.message, {});
        return { kind: req.kind, status: 'refused', code: err.code, message: err.message, ...(err.offerRerun ? { offerRerun: true } : {}) };
      }
      const e = asWhyBlockedError(err);
      await this.audit(req, host, req.kind, 'failed', e.message, {});
      return { kind: req.kind, status: 'failed', code: e.code, message: e.message };
    } finally {
      await release();
    }
  }

  private step(step: ChangeStep, message: string): void {
    this.deps.onStep?.(step, message);
  }

  private runner(host: InventoryHost): Run {
    return (cmd) => this.deps.pool.exec(host, cmd, this.deps.signal ? { signal: this.deps.signal } : {});
  }

  private async helper(host: InventoryHost, cmd: RemoteCommand, what: string): Promise<ExecResult> {
    const r = await this.runner(host)(cmd);
    if (r.code !== 0) {
      throw new WhyBlockedError(ErrorCode.ApplyFailed, `${what} failed on ${host.name}: ${(r.stderr || r.stdout).trim() || `exit ${String(r.code)}`}`);
    }
    return r;
  }

  private async audit(req: ChangeRequest, host: InventoryHost, event: AuditEvent, outcome: 'ok' | 'failed' | 'refused', message: string,
    extra: { hashBefore?: string; hashAfter?: string; diff?: string[] }): Promise<void> {
    await this.deps.audit.record({
      event, outcome, by: req.by, host: host.name, proposalId: req.proposal.id, message,
      ...(req.approvedBy ? { approvedBy: req.approvedBy } : {}), ...(req.proposal.triageId ? { triageId: req.proposal.triageId } : {}), ...extra,
    });
  }

  private async compareAndSwap(host: InventoryHost, expected: string | undefined, flow?: FlowUnderChange): Promise<HostRulesState> {
    this.step('compare', 'checking the rules are still the ones diagnosed');
    const state = await readHostRules(this.runner(host), flow);
    if (expected === undefined) throw new Refusal(ErrorCode.RulesChanged, 'The proposal carries no ruleset hash, so a change since diagnosis cannot be ruled out; Re-run the triage.', true);
    if (state.hash !== expected) {
      throw new Refusal(ErrorCode.RulesChanged, `The rules on ${host.name} changed since diagnosis (${expected.slice(0, 19)}… → ${(state.hash ?? 'unreadable').slice(0, 19)}…); nothing was changed. Re-run the triage to get a fix for the current rules.`, true);
    }
    return state;
  }

  private dumpText(state: HostRulesState, backend: ChangeBackend): string {
    return state.collected.dumps.find((d) => d.source === backend)?.text ?? '';
  }

  private async apply(req: ChangeRequest, host: InventoryHost, log: Logger): Promise<ChangeResult> {
    const { commands } = this.deps;
    const id = req.proposal.id;
    const before = await this.compareAndSwap(host, req.proposal.rulesetHash);
    const backend = backendOfFix(req.proposal, before.collected.backend.iptablesVariant);
    const hashBefore = before.hash!;

    this.step('backup', `saving the current ${backend} rules`);
    const backup = await this.helper(host, commands.backup(id, backend), 'backup');
    const record: ChangeRecord = { proposalId: id, host: host.name, backend, backupText: backup.stdout, hashBefore };
    await this.deps.backups.save(record);

    this.step('arm', `arming the dead-man switch: the backup comes back in ${this.deps.deadmanSeconds} s unless verified`);
    const armedAtMs = Date.now();
    await this.helper(host, commands.arm(id, this.deps.deadmanSeconds, backend, this.deps.deadmanMode ?? 'auto'), 'arming the dead-man switch');

    this.step('apply', `loading the new ruleset atomically (${backend === 'nft' ? 'nft -f' : `${backend}-restore`})`);
    try {
      for (const c of commands.stage(id, req.proposal.rulesetAfter)) await this.helper(host, c, 'staging the ruleset');
      await this.helper(host, commands.apply(id, backend, req.proposal.rulesetAfter), 'the atomic load');
    } catch (err) {
      const restored = await this.restoreNow(host, id, backend, armedAtMs, hashBefore, log);
      const message = `${asWhyBlockedError(err).message}; ${restoredText(restored)}`;
      await this.audit(req, host, 'apply', 'failed', message, { hashBefore });
      return { kind: 'apply', status: 'failed', code: ErrorCode.ApplyFailed, message, hashBefore, restored };
    }

    this.step('verify', 're-reading the rules, logging in afresh, re-testing the client connection');
    const verification = await this.verify(req, host, (state) => this.matchesIntended(req, state, backend), armedAtMs + this.deps.deadmanSeconds * 1000);
    const ok = verification.rulesMatch === true && verification.freshSsh === true
      && verification.connect?.ok !== false && verification.analyzer?.ok !== false;
    if (!ok) {
      const failures = describeFailures(verification);
      const restored = await this.restoreNow(host, id, backend, armedAtMs, hashBefore, log);
      const message = `Verification failed (${failures}); ${restoredText(restored)}`;
      await this.audit(req, host, 'verification', 'failed', message, { hashBefore });
      // How the host got its old rules back is its own fact in the trail, as is the failed apply.
      await this.audit(req, host, restored === 'by-deadman' ? 'deadman' : 'rollback', restored === 'not-restored' ? 'failed' : 'ok', restoredText(restored), { hashBefore });
      await this.audit(req, host, 'apply', 'failed', message, { hashBefore });
      return { kind: 'apply', status: 'failed', code: ErrorCode.ApplyFailed, message, hashBefore, verification, restored };
    }

    this.step('disarm', 'verified: disarming the dead-man switch');
    const disarm = await this.runner(host)(commands.disarm(id));
    if (disarm.code !== 0) {
      const message = `The dead-man switch fired before verification finished (${disarm.stdout.trim() || disarm.stderr.trim()}); the previous rules are back. Raise WHY_BLOCKED_DEADMAN_SECONDS and apply again.`;
      await this.audit(req, host, 'apply', 'failed', message, { hashBefore });
      return { kind: 'apply', status: 'failed', code: ErrorCode.ApplyFailed, message, hashBefore, verification, restored: 'by-deadman' };
    }
    const after = await readHostRules(this.runner(host));
    record.hashAfter = after.hash!;
    await this.deps.backups.save(record);
    const diff = rulesDiff(record.backupText, this.dumpText(after, backend));
    const message = `Applied and verified on ${host.name}: ${verification.connect?.summary ?? verification.analyzer?.summary ?? 'rules match'}`;
    await this.audit(req, host, 'verification', 'ok', describeChecks(verification), { hashBefore, hashAfter: record.hashAfter });
    await this.audit(req, host, 'apply', 'ok', message, { hashBefore, hashAfter: record.hashAfter, diff });
    return { kind: 'apply', status: 'succeeded', message, hashBefore, hashAfter: record.hashAfter, verification };
  }

  private matchesIntended(req: ChangeRequest, state: HostRulesState, backend: ChangeBackend): { matches: boolean; differences?: string[] } {
    // nft batches are not comparable line by line with `nft list`; the simulation decides.
    if (backend === 'nft') return { matches: state.hash !== undefined };
    const cmp = compareIntended(req.proposal.rulesetAfter, this.dumpText(state, backend));
    return cmp.matches ? { matches: true } : { matches: false, differences: cmp.differences.slice(0, 20) };
  }

  /** `deadlineMs`: when the dead-man undoes the change (absent: nothing will). */
  private async verify(req: ChangeRequest, host: InventoryHost, rulesCheck: (state: HostRulesState) => { matches: boolean; differences?: string[] }, deadlineMs?: number): Promise<VerificationResult> {
    const v: VerificationResult = {};
    // A NEW login first, and well before the dead-man fires: if the change cut the bot off, every
    // command on the pooled connection would hang until the switch has already undone the change.
    const budgetMs = Math.min(Math.max(this.deps.connectTimeoutMs, 3000) + 2000, (deadlineMs ?? Infinity) - Date.now() - 1000);
    v.freshSsh = budgetMs > 0 && await this.freshLoginWorks(host, budgetMs);
    if (!v.freshSsh) return v;
    try {
      const state = await readHostRules(this.runner(host), req.flow);
      const cmp = rulesCheck(state);
      v.rulesMatch = cmp.matches;
      if (cmp.differences) v.differences = cmp.differences;
      if (state.analysis) v.analyzer = { ok: state.analysis.ok, summary: state.analysis.summary };
    } catch (err) {
      v.rulesMatch = false;
      v.differences = [`could not re-read the rules: ${asWhyBlockedError(err).message}`];
    }
    if (!req.flow.noVantage) {
      const cmd = buildConnectCommand({ address: req.flow.targetAddress, port: req.flow.port, connectTimeoutMs: this.deps.connectTimeoutMs });
      try {
        const vantage = req.flow.fromHost ? resolveHost(this.deps.inventory, req.flow.fromHost) : undefined;
        const out = vantage ? await this.deps.pool.exec(vantage, cmd) : await localExec(cmd);
        const ev = parseConnectOutput(out, {
          target: req.flow.targetAddress, port: req.flow.port,
          vantage: vantage ? { kind: 'inventory-host', name: vantage.name } : { kind: 'worker' },
        });
        v.connect = { ok: ev.ok, summary: ev.summary };
      } catch (err) {
        v.connect = { ok: false, summary: `the connect test could not run: ${asWhyBlockedError(err).message}` };
      }
    }
    return v;
  }

  /** A NEW connection (not the pooled one, which an ESTABLISHED rule would keep alive) and a sudo command on it. */
  private async freshLoginWorks(host: InventoryHost, budgetMs: number): Promise<boolean> {
    const attempt = (async () => {
      const conn = await this.deps.pool.connectFresh(host);
      try {
        const r = await conn.exec(this.deps.commands.status('prop-0'));
        return r.code === 0;
      } finally {
        await conn.close();
      }
    })().catch(() => false);
    return (await within(attempt, budgetMs, () => undefined)) === true;
  }

  /**
   * Puts the backup back now. If the dead-man already did it (we were cut off, or verification
   * outlasted T), say so; if we cannot reach the host, wait for the switch and confirm the heal
   * over a NEW connection.
   */
  private async restoreNow(host: InventoryHost, id: string, backend: ChangeBackend, armedAtMs: number, hashBefore: string, log: Logger): Promise<ChangeResult['restored']> {
    this.step('restore', 'restoring the backup');
    const { commands } = this.deps;
    try {
      const signal = AbortSignal.timeout(restoreAttemptMs);
      const status = await this.deps.pool.exec(host, commands.status(id), { signal });
      if (status.stdout.trim() === 'fired') {
        if (await this.confirmHealed(host, id, hashBefore)) return 'by-deadman';
      } else {
        const r = await this.deps.pool.exec(host, commands.restore(id, backend), { signal: AbortSignal.timeout(restoreAttemptMs) });
        if (r.code === 0) {
          await this.deps.pool.exec(host, commands.disarm(id)).catch(() => undefined);
          return 'immediately';
        }
        log.warn({ stderr: r.stderr }, 'immediate restore failed; relying on the dead-man switch');
      }
    } catch (err) {
      log.warn({ err }, 'immediate restore impossible (locked out?); waiting for the dead-man switch');
    }
    const firesAtMs = armedAtMs + this.deps.deadmanSeconds * 1000;
    this.step('restore', `waiting for the dead-man switch (fires in ${Math.max(0, Math.round((firesAtMs - Date.now()) / 1000))} s)`);
    await sleep(Math.max(0, firesAtMs - Date.now()));
    while (Date.now() < firesAtMs + healGraceMs) {
      if (await this.confirmHealed(host, id, hashBefore)) return 'by-deadman';
      await sleep(500);
    }
    return 'not-restored';
  }

  /** Over a NEW connection: the switch fired and the rules hash back to the pre-change one. */
  private async confirmHealed(host: InventoryHost, id: string, hashBefore: string): Promise<boolean> {
    const check = (async () => {
      const conn = await this.deps.pool.connectFresh(host);
      try {
        const runFresh: Run = (cmd) => conn.exec(cmd);
        const status = await runFresh(this.deps.commands.status(id));
        const state = await readHostRules(runFresh);
        return status.stdout.trim() === 'fired' && state.hash === hashBefore;
      } finally { await conn.close(); }
    })().catch(() => false);
    return (await within(check, 4000, () => undefined)) === true;
  }

  /**
   * A fix for a host whose rules firewalld or ufw owns, in the manager's own terms. The commands
   * come only from manager-fix.ts's validated builders; a bad stored wish is refused before any.
   */
  private async managed(req: ChangeRequest, fix: ManagedFix, host: InventoryHost): Promise<ChangeResult> {
    let plan: ManagerPlan;
    try {
      plan = managerPlan(fix, this.deps.deadmanSeconds);
    } catch (err) {
      throw new Refusal(ErrorCode.UnsafeArgument, `The stored ${String(fix.kind)} fix is not safe to run (${asWhyBlockedError(err).message}); nothing was changed. Re-run the triage.`);
    }
    if (req.kind === 'apply') return this.applyManaged(req, fix, plan, host);
    if (req.kind === 'persist') return this.persistManaged(req, fix, host);
    return this.rollbackManaged(req, plan, host);
  }

  private async applyManaged(req: ChangeRequest, fix: ManagedFix, plan: ManagerPlan, host: InventoryHost): Promise<ChangeResult> {
    const before = await this.compareAndSwap(host, req.proposal.rulesetHash);
    const hashBefore = before.hash!;
    const record: ChangeRecord = {
      proposalId: req.proposal.id, host: host.name, backend: before.collected.backend.iptablesVariant === 'nf_tables' ? 'iptables-nft' : 'iptables-legacy',
      backupText: allDumpsText(before), hashBefore, manager: fix,
    };
    await this.deps.backups.save(record);
    const timed = fix.kind === 'firewalld';
    this.step('apply', timed
      ? `adding the rule to firewalld for ${this.deps.deadmanSeconds} s (--timeout: it removes itself unless verified)`
      : 'inserting the rule into ufw (ufw has no timer: the bot deletes it again if verification fails)');
    const appliedAtMs = Date.now();
    try {
      for (const c of plan.apply) await this.helper(host, c, `\`${renderOperatorCommand(c.argv)}\``);
    } catch (err) {
      const message = `${asWhyBlockedError(err).message}; ${fix.kind} refused the rule, so it did not add it. Re-run the triage to see the current rules.`;
      await this.audit(req, host, 'apply', 'failed', message, { hashBefore });
      return { kind: 'apply', status: 'failed', code: ErrorCode.ApplyFailed, message, hashBefore };
    }

    this.step('verify', 're-reading the rules, logging in afresh, re-testing the client connection');
    const deadlineMs = timed ? appliedAtMs + this.deps.deadmanSeconds * 1000 : undefined;
    const changed = (state: HostRulesState) => state.hash !== undefined && state.hash !== hashBefore
      ? { matches: true } : { matches: false, differences: [`${fix.kind} reported success but the running rules did not change`] };
    const verification = await this.verify(req, host, changed, deadlineMs);
    const ok = verification.rulesMatch === true && verification.freshSsh === true
      && verification.connect?.ok !== false && verification.analyzer?.ok !== false;
    if (!ok || (deadlineMs !== undefined && Date.now() >= deadlineMs)) {
      const why = ok ? `the timed rule expired before verification finished; raise WHY_BLOCKED_DEADMAN_SECONDS and apply again` : `Verification failed (${describeFailures(verification)})`;
      const restored = await this.undoManaged(host, fix, plan, appliedAtMs, hashBefore);
      const message = `${why}; ${managedRestoredText(fix.kind, restored, plan)}`;
      await this.audit(req, host, 'verification', 'failed', message, { hashBefore });
      await this.audit(req, host, restored === 'by-deadman' ? 'deadman' : 'rollback', restored === 'not-restored' ? 'failed' : 'ok', managedRestoredText(fix.kind, restored, plan), { hashBefore });
      await this.audit(req, host, 'apply', 'failed', message, { hashBefore });
      return { kind: 'apply', status: 'failed', code: ErrorCode.ApplyFailed, message, hashBefore, verification, restored };
    }

    if (plan.confirm.length > 0) {
      this.step('persist', 'verified: adding the same rule --permanent and reloading firewalld');
      try {
        for (const c of plan.confirm) await this.helper(host, c, `\`${renderOperatorCommand(c.argv)}\``);
      } catch (err) {
        // The timed runtime rule still expires by itself; take back any half-made permanent copy.
        for (const c of plan.undo) await this.runner(host)(c).catch(() => undefined);
        const message = `Verified, but making it permanent failed (${asWhyBlockedError(err).message}); the permanent copy was removed and the timed rule expires by itself.`;
        await this.audit(req, host, 'apply', 'failed', message, { hashBefore });
        return { kind: 'apply', status: 'failed', code: ErrorCode.ApplyFailed, message, hashBefore, verification, restored: 'by-deadman' };
      }
    }
    const after = await readHostRules(this.runner(host), req.flow);
    record.hashAfter = after.hash!;
    await this.deps.backups.save(record);
    const diff = rulesDiff(record.backupText, allDumpsText(after));
    const kept = timed ? 'It is --permanent and firewalld was reloaded.' : 'ufw saved it (no separate persist step).';
    const message = `Applied and verified on ${host.name} in ${fix.kind}: ${verification.connect?.summary ?? verification.analyzer?.summary ?? 'the rules changed'}. ${kept}`;
    await this.audit(req, host, 'verification', 'ok', describeChecks(verification).replace('rules match the intended ruleset', `${fix.kind} changed the rules`), { hashBefore, hashAfter: record.hashAfter });
    await this.audit(req, host, 'apply', 'ok', message, { hashBefore, hashAfter: record.hashAfter, diff });
    return { kind: 'apply', status: 'succeeded', message, hashBefore, hashAfter: record.hashAfter, verification };
  }

  /**
   * firewalld: the timed rule IS the dead-man; `--reload` would also drop others' runtime changes,
   * so wait for it to expire and confirm over a NEW login. ufw has no timer: delete the rule now.
   */
  private async undoManaged(host: InventoryHost, fix: ManagedFix, plan: ManagerPlan, appliedAtMs: number, hashBefore: string): Promise<ChangeResult['restored']> {
    if (fix.kind === 'firewalld') {
      const expiresAtMs = appliedAtMs + this.deps.deadmanSeconds * 1000;
      this.step('restore', `waiting for the timed firewalld rule to expire (in ${Math.max(0, Math.round((expiresAtMs - Date.now()) / 1000))} s)`);
      await sleep(Math.max(0, expiresAtMs - Date.now()));
      while (Date.now() < expiresAtMs + healGraceMs) {
        if (await this.rulesAreBack(host, hashBefore)) return 'by-deadman';
        await sleep(500);
      }
      return 'not-restored';
    }
    this.step('restore', 'deleting the rule from ufw');
    for (const via of ['pool', 'fresh'] as const) {
      try {
        const ran = via === 'pool'
          ? await Promise.all(plan.undo.map((c) => this.deps.pool.exec(host, c, { signal: AbortSignal.timeout(restoreAttemptMs) })))
          : await this.onFreshConnection(host, async (run) => Promise.all(plan.undo.map((c) => run(c))));
        if (ran?.every((r) => r.code === 0) && await this.rulesAreBack(host, hashBefore)) return 'immediately';
      } catch { /* cut off on the pooled connection: try a new one */ }
    }
    return 'not-restored';
  }

  private async onFreshConnection<T>(host: InventoryHost, f: (run: Run) => Promise<T>): Promise<T | undefined> {
    const attempt = (async () => {
      const conn = await this.deps.pool.connectFresh(host);
      try { return await f((cmd) => conn.exec(cmd)); } finally { await conn.close(); }
    })();
    return within(attempt, restoreAttemptMs, () => undefined);
  }

  private async rulesAreBack(host: InventoryHost, hashBefore: string): Promise<boolean> {
    const back = await this.onFreshConnection(host, async (run) => (await readHostRules(run)).hash === hashBefore).catch(() => false);
    return back === true;
  }

  private async persistManaged(req: ChangeRequest, fix: ManagedFix, host: InventoryHost): Promise<ChangeResult> {
    const record = await this.deps.backups.get(req.proposal.id);
    if (!record?.hashAfter) throw new Refusal(ErrorCode.ApplyFailed, 'This fix was not applied and verified, so there is nothing to make permanent.');
    const message = fix.kind === 'firewalld'
      ? `Nothing to do on ${host.name}: the rule was added --permanent (and firewalld reloaded) when it was verified, so it survives a reboot.`
      : `Nothing to do on ${host.name}: ufw saved the rule itself when it was added, so it survives a reboot.`;
    await this.audit(req, host, 'persist', 'ok', message, { hashBefore: record.hashAfter, hashAfter: record.hashAfter });
    return { kind: 'persist', status: 'succeeded', message, hashBefore: record.hashAfter, hashAfter: record.hashAfter };
  }

  private async rollbackManaged(req: ChangeRequest, plan: ManagerPlan, host: InventoryHost): Promise<ChangeResult> {
    const record = await this.deps.backups.get(req.proposal.id);
    if (!record?.hashAfter) throw new Refusal(ErrorCode.ApplyFailed, 'This fix was not applied, so there is nothing to roll back.');
    const state = await this.compareAndSwap(host, record.hashAfter);
    this.step('rollback', `removing the rule from ${plan.manager}`);
    for (const c of plan.undo) await this.helper(host, c, `\`${renderOperatorCommand(c.argv)}\``);
    const after = await readHostRules(this.runner(host));
    const ok = after.hash === record.hashBefore;
    const diff = rulesDiff(allDumpsText(state), allDumpsText(after));
    const message = ok
      ? `Rolled back on ${host.name}: ${plan.manager} no longer has the rule and the rules are as they were before the fix.`
      : `Rolled back on ${host.name}: ${plan.manager} removed the rule, but the rules differ from before the fix (something else changed them too); inspect them now.`;
    await this.audit(req, host, 'rollback', ok ? 'ok' : 'failed', message, { hashBefore: record.hashAfter, ...(after.hash ? { hashAfter: after.hash } : {}), diff });
    return { kind: 'rollback', status: ok ? 'succeeded' : 'failed', message, hashBefore: record.hashAfter, ...(after.hash ? { hashAfter: after.hash } : {}) };
  }

  private async persist(req: ChangeRequest, host: InventoryHost): Promise<ChangeResult> {
    const record = await this.deps.backups.get(req.proposal.id);
    if (!record?.hashAfter) throw new Refusal(ErrorCode.ApplyFailed, 'This fix was not applied and verified, so there is nothing to make permanent.');
    const state = await this.compareAndSwap(host, record.hashAfter, req.flow);
    const saved = await readSavedRules(this.runner(host), state);
    const osRelease = await this.runner(host)({ argv: ['cat', '/etc/os-release'], timeoutMs: 3000, maxOutputBytes: 64 * 1024 });
    const distro = /^ID(_LIKE)?=.*\b(rhel|fedora|centos)\b/m.test(osRelease.stdout) ? 'rhel' : /^ID(_LIKE)?=.*\b(debian|ubuntu)\b/m.test(osRelease.stdout) ? 'debian' : 'unknown';
    const file = savedFileFor(record.backend, saved.files, distro);
    this.step('persist', `writing ${file} (temp file, restore --test, fsync, rename; the old file stays as ${file}.bak)`);
    await this.helper(host, this.deps.commands.persist(record.backend, file), 'persisting');
    this.step('simulate', 'simulating a reboot against the saved file');
    const after = await readSavedRules(this.runner(host), state);
    const data = after.evidence.data as { saved?: { verdict: string }; compared?: string } | undefined;
    const savedFileOk = after.evidence.ok && (req.flow.clientAddress === undefined || data?.saved?.verdict === 'accept');
    const message = savedFileOk
      ? `${file} now holds the running rules; after a reboot the flow stays accepted (${after.evidence.summary})`
      : `${file} was written but does not match the running rules: ${after.evidence.summary}`;
    await this.audit(req, host, 'persist', savedFileOk ? 'ok' : 'failed', message, { hashBefore: record.hashAfter, hashAfter: record.hashAfter });
    return { kind: 'persist', status: savedFileOk ? 'succeeded' : 'failed', message, savedFileOk, savedFile: file, hashBefore: record.hashAfter, hashAfter: record.hashAfter };
  }

  private async rollback(req: ChangeRequest, host: InventoryHost): Promise<ChangeResult> {
    const record = await this.deps.backups.get(req.proposal.id);
    if (!record?.hashAfter) throw new Refusal(ErrorCode.ApplyFailed, 'This fix was not applied, so there is nothing to roll back.');
    const state = await this.compareAndSwap(host, record.hashAfter);
    this.step('rollback', 'restoring the backup taken before the apply');
    const r = await this.runner(host)(this.deps.commands.restore(req.proposal.id, record.backend));
    if (r.code !== 0) {
      // The host lost its copy: load the one kept in Redis the same atomic way.
      for (const c of this.deps.commands.stage(req.proposal.id, record.backupText)) await this.helper(host, c, 'staging the backup');
      await this.helper(host, this.deps.commands.apply(req.proposal.id, record.backend, record.backupText), 'restoring the backup');
    }
    const after = await readHostRules(this.runner(host));
    const ok = after.hash === record.hashBefore;
    const diff = rulesDiff(this.dumpText(state, record.backend), this.dumpText(after, record.backend));
    const message = ok ? `Rolled back on ${host.name}: the rules are as they were before the fix.` : `Rollback on ${host.name} left rules that differ from the backup; inspect them now.`;
    await this.audit(req, host, 'rollback', ok ? 'ok' : 'failed', message, { hashBefore: record.hashAfter, ...(after.hash ? { hashAfter: after.hash } : {}), diff });
    return { kind: 'rollback', status: ok ? 'succeeded' : 'failed', message, hashBefore: record.hashAfter, ...(after.hash ? { hashAfter: after.hash } : {}) };
  }
}

function restoredText(r: ChangeResult['restored']): string {
  if (r === 'immediately') return 'the backup was restored at once.';
  if (r === 'by-deadman') return 'the bot was cut off, and the dead-man switch restored the backup: the host healed itself.';
  return 'the backup could NOT be confirmed restored: check the host from its console now.';
}

function managedRestoredText(manager: 'firewalld' | 'ufw', r: ChangeResult['restored'], plan: ManagerPlan): string {
  if (r === 'by-deadman') return 'the timed firewalld rule expired by itself (--timeout) and the rules are as before: nothing was made permanent.';
  if (r === 'immediately') return 'the rule was deleted from ufw at once and the rules are as before.';
  if (manager === 'firewalld') return 'the timed rule should have expired, but the previous rules could NOT be confirmed: check the host from its console now.';
  return `ufw has no timer and the rule could NOT be confirmed deleted: run \`${plan.undo.map((c) => renderOperatorCommand(c.argv)).join('; ')}\` from the console now.`;
}

function allDumpsText(state: HostRulesState): string {
  return state.collected.dumps.map((d) => `# ${d.source}\n${d.text}`).join('\n');
}

function describeFailures(v: VerificationResult): string {
  const out: string[] = [];
  if (v.rulesMatch !== true) out.push(`the running rules differ from the intended ones${v.differences?.length ? `: ${v.differences.slice(0, 3).join('; ')}` : ''}`);
  if (v.freshSsh !== true) out.push('a new SSH login failed (the change would lock the bot out)');
  if (v.connect && !v.connect.ok) out.push(`the client still cannot connect: ${v.connect.summary}`);
  if (v.analyzer && !v.analyzer.ok) out.push(`the analyzer still blocks the flow: ${v.analyzer.summary}`);
  return out.join('; ');
}

function describeChecks(v: VerificationResult): string {
  return [
    'rules match the intended ruleset', 'a new SSH login works',
    ...(v.connect ? [`client: ${v.connect.summary}`] : []), ...(v.analyzer ? [`analyzer: ${v.analyzer.summary}`] : []),
  ].join('; ');
}
