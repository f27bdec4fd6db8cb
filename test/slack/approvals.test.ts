import { afterEach, describe, expect, it } from 'vitest';
import { readAuditStream } from '../../src/fix/audit-log.ts';
import { publishChangeProgress } from '../../src/queue/publish-change-progress.ts';
import { actionIds } from '../../src/slack/action-ids.ts';
import type { ProposalPolicy } from '../../src/queue/proposal-store.ts';
import { seedSummary } from '../fake-slack/fake-triage-ports.ts';
import { startHarness, type Harness } from './helpers/bot-harness.ts';
import { buttonsOf, textOf } from './helpers/blocks.ts';

const approvers = ['UAPPROVER1', 'UAPPROVER2', 'SAPPROVERS'];

async function verdictFor(proposalPolicy: ProposalPolicy = {}, requester = 'UREQ', enforcedBy: 'worker' | 'bot' = 'worker'): Promise<{ h: Harness; proposalId: string; triageId: string }> {
  const h = await startHarness(enforcedBy === 'worker' ? { approvers, proposalPolicy } : { approvers, bot: { proposalPolicy } });
  h.fake.usergroups.set('SAPPROVERS', ['UGROUP1', 'UGROUP2']);
  await h.command('web01 23', { user: requester });
  const verdict = await h.fake.waitFor(() => h.fake.callsTo('chat.update').find((c) => textOf(c).includes(seedSummary)), 'verdict');
  const apply = buttonsOf(verdict).find((b) => b.action_id === actionIds.apply);
  const rerun = buttonsOf(verdict).find((b) => b.action_id === actionIds.rerun);
  return { h, proposalId: apply?.value ?? '', triageId: rerun?.value ?? '' };
}

/** The audit trail's decisions, as `event:outcome:user` (the change worker adds the changes). */
async function decisions(h: Harness): Promise<string[]> {
  return (await readAuditStream(h.redis, h.prefix)).filter((r) => r.event !== 'proposal').map((r) => `${r.event}:${r.outcome}:${r.by}`);
}

/** Slack traffic settles: the updater has had time to act on anything it was going to do. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 600));

describe('approving a fix from Slack', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.stop(); h = undefined; });

  it('turns 20 concurrent signed Apply clicks into exactly one apply job, then replaces the buttons', async () => {
    const v = await verdictFor();
    h = v.h;
    const users = Array.from({ length: 20 }, (_, i) => ['UAPPROVER1', 'UAPPROVER2', 'UGROUP1', 'UGROUP2'][i % 4] ?? 'UAPPROVER1');
    const statuses = await Promise.all(users.map((u) => h?.click(actionIds.apply, v.proposalId, u)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    await settle();
    expect(await h.changeJobIds()).toEqual([`apply-${v.proposalId}`]);
    const decided = await h.fake.waitFor(() => h?.fake.callsTo('chat.update').find((c) => /Approved\* by[\s\S]*apply queued/.test(textOf(c))), 'decision update');
    expect(buttonsOf(decided).map((b) => b.action_id)).toEqual([actionIds.rerun]);
    // The 19 losers were told why nothing more happened.
    expect(h.fake.callsTo('chat.postEphemeral').length).toBe(19);
    // Group membership was looked up once for all the group members' clicks (cached).
    expect(h.fake.callsTo('usergroups.users.list')).toHaveLength(1);
    const audit = await readAuditStream(h.redis, h.prefix);
    expect(audit.filter((r) => r.event === 'approval')).toHaveLength(1);
    expect(audit.filter((r) => r.event === 'refusal')).toHaveLength(19);
    expect(audit.find((r) => r.event === 'approval')).toMatchObject({ outcome: 'ok', host: 'web01', proposalId: v.proposalId, triageId: v.triageId });
    // The worker recorded the proposal itself when the verdict was made, before anyone clicked.
    expect(audit[0]).toMatchObject({ event: 'proposal', outcome: 'ok', by: 'UREQ', host: 'web01', proposalId: v.proposalId });
  });

  const refusals: [string, ProposalPolicy, 'worker' | 'bot', string, string, RegExp][] = [
    ['a non-approver', {}, 'worker', 'UREQ', 'UINTRUDER', /Only configured approvers/],
    ['a click after the proposal expired', { ttlMs: 1 }, 'worker', 'UREQ', 'UAPPROVER1', /expired/],
    ['a click after the bot\'s own (shorter) expiry', { ttlMs: 1 }, 'bot', 'UREQ', 'UAPPROVER1', /expired/],
    ['the requester approving their own fix (self-approval forbidden)', { forbidSelfApproval: true }, 'worker', 'UAPPROVER1', 'UAPPROVER1', /someone else has to approve/],
    ['self-approval forbidden by the bot\'s policy only', { forbidSelfApproval: true }, 'bot', 'UAPPROVER1', 'UAPPROVER1', /someone else has to approve/],
  ];
  it.each(refusals)('refuses %s with an ephemeral message, enqueues nothing and leaves the message alone', async (_name, policy, enforcedBy, requester, clicker, message) => {
    const v = await verdictFor(policy, requester, enforcedBy);
    h = v.h;
    await settle();
    const updatesBefore = h.fake.callsTo('chat.update').length;
    expect(await h.click(actionIds.apply, v.proposalId, clicker)).toBe(200);
    const ephemeral = await h.fake.waitFor(() => h?.fake.callsTo('chat.postEphemeral')[0], 'refusal');
    expect(ephemeral.body.user).toBe(clicker);
    expect(String(ephemeral.body.text)).toMatch(message);
    await settle();
    expect(await h.changeJobIds()).toEqual([]);
    expect(h.fake.callsTo('chat.update')).toHaveLength(updatesBefore);
    expect(await decisions(h)).toEqual([`refusal:refused:${clicker}`]);
  });

  it.each(['worker', 'bot'] as const)('needs two different approvers when configured (policy set on the %s), and shows the first approval meanwhile', async (enforcedBy) => {
    const v = await verdictFor({ requiredApprovals: 2 }, 'UREQ', enforcedBy);
    h = v.h;
    await h.click(actionIds.apply, v.proposalId, 'UAPPROVER1');
    const partial = await h.fake.waitFor(() => h?.fake.callsTo('chat.update').find((c) => /Approved so far by <@UAPPROVER1> \(1 of 2\)/.test(textOf(c))), 'partial approval');
    expect(buttonsOf(partial).some((b) => b.action_id === actionIds.apply)).toBe(true);
    await h.click(actionIds.apply, v.proposalId, 'UAPPROVER1');
    await settle();
    expect(await h.changeJobIds()).toEqual([]);
    await h.click(actionIds.apply, v.proposalId, 'UGROUP1');
    const decided = await h.fake.waitFor(() => h?.fake.callsTo('chat.update').find((c) => /Approved\* by <@UAPPROVER1> and <@UGROUP1>/.test(textOf(c))), 'decision');
    expect(decided).toBeDefined();
    expect(await h.changeJobIds()).toEqual([`apply-${v.proposalId}`]);
  });

  it('Dismiss replaces the buttons with who dismissed, and a later Apply is refused', async () => {
    const v = await verdictFor();
    h = v.h;
    await h.click(actionIds.dismiss, v.triageId, 'UREQ');
    const dismissed = await h.fake.waitFor(() => h?.fake.callsTo('chat.update').find((c) => /Dismissed\* by <@UREQ>/.test(textOf(c))), 'dismissed');
    expect(buttonsOf(dismissed).map((b) => b.action_id)).toEqual([actionIds.rerun]);
    await h.click(actionIds.apply, v.proposalId, 'UAPPROVER1');
    const refusal = await h.fake.waitFor(() => h?.fake.callsTo('chat.postEphemeral')[0], 'refusal');
    expect(String(refusal.body.text)).toMatch(/already decided/);
    expect(await h.changeJobIds()).toEqual([]);
    expect(await decisions(h)).toEqual(['dismissal:ok:UREQ', 'refusal:refused:UAPPROVER1']);
  });

  it('shows apply progress from the change worker, then offers Make permanent and Rollback (approvers only)', async () => {
    const v = await verdictFor();
    h = v.h;
    await h.click(actionIds.apply, v.proposalId, 'UAPPROVER1');
    await h.fake.waitFor(() => h?.fake.callsTo('chat.update').find((c) => /Approved\* by/.test(textOf(c))), 'decision');
    // What the apply worker (another module) reports through the message-update path:
    await publishChangeProgress(h.redis, h.prefix, v.triageId, { proposalId: v.proposalId, kind: 'apply', status: 'succeeded', by: 'UAPPROVER1', message: 'client connects; dead-man disarmed', atMs: Date.now() });
    const applied = await h.fake.waitFor(() => h?.fake.callsTo('chat.update').find((c) => /apply succeeded: client connects/.test(textOf(c))), 'applied');
    expect(buttonsOf(applied).map((b) => b.action_id)).toEqual([actionIds.makePermanent, actionIds.rollback, actionIds.rerun]);

    await h.click(actionIds.rollback, v.proposalId, 'UINTRUDER');
    const refusal = await h.fake.waitFor(() => h?.fake.callsTo('chat.postEphemeral')[0], 'refusal');
    expect(String(refusal.body.text)).toMatch(/Only configured approvers/);

    await Promise.all([1, 2, 3].map(() => h?.click(actionIds.makePermanent, v.proposalId, 'UAPPROVER2')));
    await settle();
    expect((await h.changeJobIds()).sort()).toEqual([`apply-${v.proposalId}`, `persist-${v.proposalId}`]);
    const trail = await decisions(h);
    expect(trail.slice(0, 2)).toEqual(['approval:ok:UAPPROVER1', 'refusal:refused:UINTRUDER']);
    // The three concurrent clicks finish in any order: one request, two refusals.
    expect(trail.slice(2).sort()).toEqual(['approval:ok:UAPPROVER2', 'refusal:refused:UAPPROVER2', 'refusal:refused:UAPPROVER2']);
  });

  it('Re-run starts a fresh triage as a new message', async () => {
    const v = await verdictFor();
    h = v.h;
    await h.click(actionIds.rerun, v.triageId, 'UREQ');
    await h.fake.waitFor(() => h?.fake.callsTo('chat.postMessage').filter((c) => !c.body.thread_ts).length === 2, 'second progress message');
  });
});
