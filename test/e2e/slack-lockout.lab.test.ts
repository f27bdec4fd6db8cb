import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load-config.ts';
import { readAuditStream } from '../../src/fix/audit-log.ts';
import { startLab, type Lab } from '../../src/lab/index.ts';
import { silentLogger } from '../../src/log/create-logger.ts';
import { startServices, type RunningServices } from '../../src/queue/start-services.ts';
import { actionIds } from '../../src/slack/action-ids.ts';
import { helperPath } from '../fix/fix-lab-helpers.ts';
import { describeLab } from '../helpers/lab-gate.ts';
import { FakeSlackServer } from '../fake-slack/fake-slack-server.ts';
import { buttonsOf, textOf } from '../slack/helpers/blocks.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../slack/helpers/redis-test-prefix.ts';
import { clickBody, commandBody, postSigned } from '../slack/helpers/signed-request.ts';

const secret = 'e2e-lockout-signing-secret-0123';
const deadmanSeconds = 5;

const norm = (t: string) => t.split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/\[\d+:\d+\]/g, '')).join('\n');

/** The running rules with SSH dropped outright, established sessions included: the bot is cut off. */
function lockoutRules(current: string): string {
  const filter = current.slice(current.indexOf('*filter'));
  const body = filter.slice(0, filter.indexOf('COMMIT')).split('\n').filter((l) => l.trim() !== '');
  const chains = body.filter((l) => l.startsWith('*') || l.startsWith(':'));
  const rules = body.filter((l) => l.startsWith('-A'));
  return [...chains, '-A INPUT -p tcp -m tcp --dport 22 -j DROP', ...rules, 'COMMIT', ''].join('\n').replace(/\[\d+:\d+\]/g, '[0:0]');
}

/**
 * The lock-out case as an operator lives it: an approved change cuts the bot off the host, the
 * host's dead-man switch restores the rules, and the Slack message says what happened.
 */
describeLab('Slack apply of a fix that locks the bot out: the host heals itself and the message says so', () => {
  const log = silentLogger();
  let lab: Lab | undefined;
  let fake: FakeSlackServer | undefined;
  let services: RunningServices | undefined;
  let redis: Redis | undefined;
  const auditDir = mkdtempSync(join(tmpdir(), 'wb-e2e-audit-'));
  const prefix = uniquePrefix('e2e-lo');

  beforeAll(async () => {
    lab = await startLab('seed-telnet', { log });
    fake = new FakeSlackServer();
    await fake.start();
    const config = loadConfig({
      SLACK_BOT_TOKEN: 'xoxb-e2e', SLACK_SIGNING_SECRET: secret, SLACK_API_URL: fake.apiUrl, REDIS_URL: testRedisUrl, PORT: '0',
      WHY_BLOCKED_INVENTORY: lab.inventoryFile, WHY_BLOCKED_QUEUE_PREFIX: prefix, WHY_BLOCKED_ALLOWED: '*', WHY_BLOCKED_APPROVERS: 'UAPPROVER',
      WHY_BLOCKED_CONNECT_TIMEOUT_MS: '2000', WHY_BLOCKED_CHANGE_HELPER: helperPath, WHY_BLOCKED_DEADMAN_SECONDS: String(deadmanSeconds),
      WHY_BLOCKED_AUDIT_FILE: join(auditDir, 'audit.jsonl'),
    }, 'start');
    services = await startServices({ role: 'start', config, cwd: process.cwd(), log, host: '127.0.0.1', botId: 'BBOT', botUserId: 'UBOT', webRetries: 0 });
    redis = new Redis(testRedisUrl);
  }, 120_000);

  afterAll(async () => {
    redis?.disconnect();
    await services?.stop();
    await fake?.stop();
    await deletePrefix(prefix);
    await lab?.stop();
    rmSync(auditDir, { recursive: true, force: true });
  }, 60_000);

  it('restores the rules within T + 5 s through the dead-man switch, reports it on the message, and the bot can log in again', async () => {
    const eventsUrl = `http://127.0.0.1:${services!.port()}/slack/events`;
    await postSigned(eventsUrl, secret, commandBody({ text: 'server 23 from client', user: 'UREQ', channel: 'COPS', responseUrl: fake!.responseUrl('cmd') }));
    const verdict = await fake!.waitFor(() => [...fake!.callsTo('chat.update'), ...fake!.callsTo('chat.postMessage')]
      .find((c) => c.body.channel === 'COPS' && buttonsOf(c).some((b) => b.action_id === actionIds.apply)), 'verdict', 30_000);
    const proposalId = buttonsOf(verdict).find((b) => b.action_id === actionIds.apply)!.value;
    const messageTs = String(verdict.body.ts);

    // The test's own bad fix, stored server-side like any proposal (a button only carries its id).
    const original = (await lab!.exec('server', ['iptables-legacy-save'])).stdout;
    await redis!.hset(`${prefix}:wb:proposal:${proposalId}`, {
      commands: JSON.stringify(['iptables-legacy -I INPUT 1 -p tcp --dport 22 -j DROP']), rulesetAfter: lockoutRules(original),
    });

    await postSigned(eventsUrl, secret, clickBody({ actionId: actionIds.apply, value: proposalId, user: 'UAPPROVER', channel: 'COPS', messageTs, responseUrl: fake!.responseUrl('click') }));
    const outcome = await fake!.waitFor(() => fake!.callsTo('chat.update')
      .find((c) => c.body.ts === messageTs && /apply (succeeded|failed)/.test(textOf(c))), 'apply outcome on the message', 60_000);
    const text = textOf(outcome);
    expect(text).toMatch(/apply failed/);
    expect(text).toMatch(/healed itself/);
    // A failed apply offers no Make permanent or Rollback: there is nothing applied to keep or undo.
    expect(buttonsOf(outcome).map((b) => b.action_id)).not.toContain(actionIds.makePermanent);

    expect(norm((await lab!.exec('server', ['iptables-legacy-save'])).stdout)).toBe(norm(original));
    const relogin = await lab!.exec('client', ['bash', '-c', `exec 3<>/dev/tcp/${lab!.hosts.server!.addresses[0]}/22 && head -c 4 <&3`]);
    expect(relogin.stdout).toBe('SSH-');
    const trail = (await readAuditStream(redis!, prefix, { host: 'server' })).filter((r) => r.proposalId === proposalId).map((r) => `${r.event}:${r.outcome}`);
    expect(trail).toEqual(['proposal:ok', 'approval:ok', 'verification:failed', 'deadman:ok', 'apply:failed']);
  }, 120_000);
});
