import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';
import { actionIds } from '../../src/slack/action-ids.ts';
import { seedSummary } from '../fake-slack/fake-triage-ports.ts';
import { startHarness, type Harness } from './helpers/bot-harness.ts';
import { buttonsOf, textOf } from './helpers/blocks.ts';

describe('a /why-blocked request end to end (Bolt + Redis + BullMQ workers + fake Slack)', () => {
  let h: Harness | undefined;
  afterEach(async () => { await h?.stop(); h = undefined; });

  it('posts a progress message, updates it per probe, then replaces it with the verdict and an Apply button', async () => {
    h = await startHarness();
    const { fake } = h;
    const ack = await h.command('web01 23', { user: 'UREQ', channel: 'COPS' });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ response_type: 'ephemeral' });
    expect(String(ack.body?.text)).toMatch(/Checking web01 23\/tcp/);

    const post = await fake.waitFor(() => fake.callsTo('chat.postMessage')[0], 'progress message');
    expect(post.body.channel).toBe('COPS');
    expect(textOf(post)).toMatch(/Checking why \*web01\* 23\/tcp/);
    const ts = '1700000000.000001';

    const verdict = await fake.waitFor(() => fake.callsTo('chat.update').find((c) => textOf(c).includes(seedSummary.replace(/'/g, "'"))), 'verdict update');
    expect(verdict.body).toMatchObject({ channel: 'COPS', ts });
    const updates = fake.callsTo('chat.update');
    const progressUpdates = updates.slice(0, updates.indexOf(verdict));
    expect(progressUpdates.length).toBeGreaterThan(0);
    expect(progressUpdates.some((u) => /✅ \*listener\* \(12 ms\)/.test(textOf(u)))).toBe(true);

    const text = textOf(verdict);
    expect(text).toContain('Deciding rule');
    expect(text).toContain('-A INPUT -j REJECT --reject-with icmp-host-prohibited');
    expect(text).toContain('this breaks again after a reboot');
    expect(text).toContain('Blast radius');
    expect(text).toContain('ICMP host 10.0.0.5 unreachable');
    expect(text).toMatch(/Apply buttons expire on <!date\^\d+\^/);
    const buttons = buttonsOf(verdict);
    const apply = buttons.filter((b) => b.action_id === actionIds.apply);
    expect(apply).toHaveLength(1);
    expect(apply[0]?.text.text).toBe('Apply: Move the ACCEPT for 23/tcp above rule 5');
    expect(apply[0]?.value).toMatch(/^prop-[0-9a-f]{24}$/);
    expect(apply[0]?.confirm?.text.text).toContain('*web01*');
    expect(apply[0]?.confirm?.text.text).toContain('iptables -w -I INPUT 5');
    expect(buttons.map((b) => b.action_id)).toEqual([actionIds.apply, actionIds.dismiss, actionIds.rerun]);

    const thread = await fake.waitFor(() => fake.callsTo('chat.postMessage').find((c) => c.body.thread_ts === ts), 'raw output thread reply');
    expect(textOf(thread)).toContain('Flags [S]');
  });

  it('says so in the message when the triage fails', async () => {
    h = await startHarness({ workerOptions: { assembleReport: () => { throw new Error('analyzer exploded'); } } });
    await h.command('web01 23');
    const { fake } = h;
    const failed = await fake.waitFor(() => fake.callsTo('chat.update').find((c) => /no verdict/.test(textOf(c))), 'failure update', 20_000);
    expect(textOf(failed)).toMatch(/The check of \*web01\* 23\/tcp failed/);
    expect(textOf(failed)).toContain('analyzer exploded');
    expect(buttonsOf(failed).map((b) => b.action_id)).toEqual([actionIds.rerun]);
  });

  it('says so when no verdict arrives before the deadline (no probe worker for the site)', async () => {
    const gaveUp: { cause: string; durationMs: number; outcome: string }[] = [];
    h = await startHarness({ bot: { triageTimeoutMs: 1500, observeTriage: (o) => gaveUp.push(o) }, workerOptions: { sites: [] } });
    await h.command('web01 23');
    const { fake } = h;
    const timedOut = await fake.waitFor(() => fake.callsTo('chat.update').find((c) => /timed out/.test(textOf(c))), 'timeout update');
    expect(textOf(timedOut)).toMatch(/timed out after \d/);
    // Counted once, as timed out, for /metrics (the count may land just after the message update).
    await fake.waitFor(() => gaveUp[0], 'timed-out count');
    expect(gaveUp).toEqual([{ cause: 'none', durationMs: expect.any(Number), outcome: 'timed_out' }]);
    expect(gaveUp[0]!.durationMs).toBeGreaterThanOrEqual(1500);
    expect(textOf(timedOut)).toMatch(/Unfinished: connect, listener, firewall, capture/);
    // A failed check is not reused: asking again starts a new one.
    await h.command('web01 23');
    await fake.waitFor(() => fake.callsTo('chat.postMessage').filter((c) => !c.body.thread_ts).length === 2, 'a fresh triage');
  });

  it('reports probes that failed permanently as evidence, without retrying them', async () => {
    let calls = 0;
    h = await startHarness({
      workerOptions: {
        runProbe: async (name) => {
          if (name === 'firewall') { calls += 1; throw new WhyBlockedError(ErrorCode.SshAuthFailed, 'probe@web01: publickey rejected'); }
          return { probe: name, ok: true, summary: 'fine', raw: [], durationMs: 1 };
        },
      },
    });
    await h.command('web01 23');
    const { fake } = h;
    const verdict = await fake.waitFor(() => fake.callsTo('chat.update').find((c) => textOf(c).includes('probes failed: firewall')), 'verdict');
    expect(textOf(verdict)).toContain(seedSummary);
    expect(calls).toBe(1);
  });

  it('starts one triage per Slack trigger_id, however often it is delivered', async () => {
    h = await startHarness({ workers: false });
    const same = { triggerId: 'trigger-dup-1' };
    const results = await Promise.all([h.command('web01 23', same), h.command('web01 23', same), h.command('web01 23', same)]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    await h.fake.waitFor(() => h?.fake.callsTo('chat.postMessage').length, 'progress message');
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.callsTo('chat.postMessage')).toHaveLength(1);
    expect(await h.totalJobs()).toBe(5); // one parent + four probes
  });

  it('answers an identical request made while the first is running with that triage', async () => {
    h = await startHarness({ workers: false });
    await h.command('web01 23', { user: 'UFIRST' });
    await h.fake.waitFor(() => h?.fake.callsTo('chat.postMessage').length, 'first message');
    const before = h.fake.responses.length;
    await h.command('web 23/tcp', { user: 'USECOND' }); // alias of web01: same request
    const reply = await h.fake.waitFor(() => h?.fake.responses.slice(before).find((r) => /already running/.test(String(r.body.text))), 'reuse reply');
    expect(reply.body.response_type).toBe('ephemeral');
    expect(h.fake.callsTo('chat.postMessage')).toHaveLength(1);
    expect(await h.totalJobs()).toBe(5);
  });

  it('answers an identical request made just after the first finished with its verdict, and a different one starts anew', async () => {
    h = await startHarness();
    const { fake } = h;
    await h.command('web01 23');
    await fake.waitFor(() => fake.callsTo('chat.update').find((c) => textOf(c).includes(seedSummary)), 'verdict');
    const before = fake.responses.length;
    await h.command('web01 23', { user: 'UOTHER' });
    const reply = await fake.waitFor(() => fake.responses.slice(before).find((r) => Array.isArray(r.body.blocks)), 'reused verdict');
    const text = JSON.stringify(reply.body.blocks);
    expect(text).toContain('Same check as one started');
    expect(text).toContain('firewall');
    expect(text).not.toContain(actionIds.apply); // copies carry no buttons
    expect(fake.callsTo('chat.postMessage').filter((c) => !c.body.thread_ts)).toHaveLength(1);

    await h.command('web01 24');
    await fake.waitFor(() => fake.callsTo('chat.postMessage').filter((c) => !c.body.thread_ts).length === 2, 'second triage');
  });

  it('tells the user to invite the bot when it cannot post in the channel, and enqueues nothing', async () => {
    h = await startHarness();
    h.fake.failNext('chat.postMessage', 'not_in_channel');
    const before = h.fake.responses.length;
    await h.command('web01 23', { channel: 'CPRIVATE' });
    const reply = await h.fake.waitFor(() => h?.fake.responses.slice(before).find((r) => /invite/i.test(String(r.body.text))), 'invite hint');
    expect(String(reply.body.text)).toContain('/invite @why-blocked');
    expect(await h.totalJobs()).toBe(0);
    // The failed attempt does not block the same request from being retried right away.
    await h.command('web01 23', { channel: 'CPRIVATE' });
    // Count live messages only: the triage's thread reply can follow within one poll interval.
    await h.fake.waitFor(() => h?.fake.callsTo('chat.postMessage').filter((c) => !c.body.thread_ts).length === 2, 'second attempt');
  });
});
