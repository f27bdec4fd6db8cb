import { afterAll, beforeAll, expect, it } from 'vitest';
import { readAuditStream } from '../../src/fix/audit-log.ts';
import { actionIds } from '../../src/slack/action-ids.ts';
import { lockoutRules, normRules } from '../fix/fix-lab-helpers.ts';
import { describeLab } from '../helpers/lab-gate.ts';
import { buttonsOf, textOf } from '../slack/helpers/blocks.ts';
import { clickBody, commandBody, postSigned } from '../slack/helpers/signed-request.ts';
import { startE2eProduct, type E2eProduct } from './start-e2e-product.ts';

const secret = 'e2e-lockout-signing-secret-0123';
const deadmanSeconds = 5;

/**
 * The lock-out case as an operator lives it: an approved change cuts the bot off the host, the
 * host's dead-man switch restores the rules, and the Slack message says what happened.
 */
describeLab('Slack apply of a fix that locks the bot out: the host heals itself and the message says so', () => {
  let product: E2eProduct | undefined;

  beforeAll(async () => {
    product = await startE2eProduct({ secret, prefixTag: 'e2e-lo', deadmanSeconds });
  }, 120_000);

  afterAll(async () => { await product?.stop(); }, 60_000);

  it('restores the rules within T + 5 s through the dead-man switch, reports it on the message, and the bot can log in again', async () => {
    const { fake, redis, lab, prefix, eventsUrl, verdictsIn } = product!;
    await postSigned(eventsUrl, secret, commandBody({ text: 'server 23 from client', user: 'UREQ', channel: 'COPS', responseUrl: fake.responseUrl('cmd') }));
    const verdict = await fake.waitFor(() => verdictsIn('COPS')[0], 'verdict', 30_000);
    const proposalId = buttonsOf(verdict).find((b) => b.action_id === actionIds.apply)!.value;
    const messageTs = String(verdict.body.ts);

    // The test's own bad fix, stored server-side like any proposal (a button only carries its id).
    const original = (await lab.exec('server', ['iptables-legacy-save'])).stdout;
    await redis.hset(`${prefix}:wb:proposal:${proposalId}`, {
      commands: JSON.stringify(['iptables-legacy -I INPUT 1 -p tcp --dport 22 -j DROP']), rulesetAfter: lockoutRules(original),
    });

    await postSigned(eventsUrl, secret, clickBody({ actionId: actionIds.apply, value: proposalId, user: 'UAPPROVER', channel: 'COPS', messageTs, responseUrl: fake.responseUrl('click') }));
    const outcome = await fake.waitFor(() => fake.callsTo('chat.update')
      .find((c) => c.body.ts === messageTs && /apply (succeeded|failed)/.test(textOf(c))), 'apply outcome on the message', 60_000);
    const text = textOf(outcome);
    expect(text).toMatch(/apply failed/);
    expect(text).toMatch(/healed itself/);
    // A failed apply offers no Make permanent or Rollback: there is nothing applied to keep or undo.
    expect(buttonsOf(outcome).map((b) => b.action_id)).not.toContain(actionIds.makePermanent);

    expect(normRules((await lab.exec('server', ['iptables-legacy-save'])).stdout)).toBe(normRules(original));
    const relogin = await lab.exec('client', ['bash', '-c', `exec 3<>/dev/tcp/${lab.hosts.server!.addresses[0]}/22 && head -c 4 <&3`]);
    expect(relogin.stdout).toBe('SSH-');
    const trail = (await readAuditStream(redis, prefix, { host: 'server' })).filter((r) => r.proposalId === proposalId).map((r) => `${r.event}:${r.outcome}`);
    expect(trail).toEqual(['proposal:ok', 'approval:ok', 'verification:failed', 'deadman:ok', 'apply:failed']);
  }, 120_000);
});
