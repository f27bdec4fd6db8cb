import { afterAll, beforeAll, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { readAuditStream } from '../../src/fix/audit-log.ts';
import { changesQueueName } from '../../src/queue/names.ts';
import { actionIds } from '../../src/slack/action-ids.ts';
import { describeLab } from '../helpers/lab-gate.ts';
import { buttonsOf, textOf } from '../slack/helpers/blocks.ts';
import { clickBody, commandBody, postSigned } from '../slack/helpers/signed-request.ts';
import { startE2eProduct, type E2eProduct } from './start-e2e-product.ts';

const secret = 'e2e-signing-secret-0123456789';

/**
 * The product as `why-blocked start` runs it (startServices: inventory, SSH pool, BullMQ workers
 * with the real probes and triage engine, the Bolt HTTP receiver), against the seed lab, real
 * Redis and the fake Slack Web API. Only Slack itself is fake.
 */
describeLab('Slack → BullMQ → real probes on the seed lab → verdict → Apply → the client connects', () => {
  let product: E2eProduct | undefined;
  let changes: Queue | undefined;

  beforeAll(async () => {
    product = await startE2eProduct({ secret, prefixTag: 'e2e', deadmanSeconds: 30 });
    const { fake, redis, prefix, eventsUrl, verdictsIn } = product;
    changes = new Queue(changesQueueName, { connection: redis, prefix });
    // Warm-up, as a long-running worker is: SSH connections open, modules loaded. The measured
    // request must not be answered from this one, so its "recent" entry goes.
    await postSigned(eventsUrl, secret, commandBody({ text: 'server 23 from client', user: 'UWARM', channel: 'CWARM', responseUrl: fake.responseUrl('warm') }));
    await fake.waitFor(() => verdictsIn('CWARM')[0], 'warm-up verdict', 30_000);
    const recent = await redis.keys(`${prefix}:wb:recent:*`);
    if (recent.length > 0) await redis.del(...recent);
  }, 120_000);

  afterAll(async () => {
    await changes?.close();
    await product?.stop();
  }, 60_000);

  it('diagnoses `server 23 from client` within 5 s, and one approver click enqueues exactly one apply job', async () => {
    const { fake, services, redis, lab, prefix, eventsUrl, verdictsIn } = product!;
    const ready = await fetch(`http://127.0.0.1:${services.port()}/readyz`);
    expect(ready.status, await ready.clone().text()).toBe(200);

    const ack = await postSigned(eventsUrl, secret, commandBody({ text: 'server 23 from client', user: 'UREQ', channel: 'COPS', responseUrl: fake.responseUrl('cmd') }));
    expect(ack.status).toBe(200);
    expect(((await ack.json()) as { text: string }).text).toMatch(/Checking server 23\/tcp/);

    const verdict = await fake.waitFor(() => verdictsIn('COPS')[0], 'verdict with an Apply button', Number(process.env.E2E_VERDICT_MS ?? 5000))
      .catch((err: unknown) => { throw new Error(`${String(err)}; last message: ${textOf(fake.callsTo('chat.update').at(-1) ?? fake.callsTo('chat.postMessage').at(-1))}`); });
    const text = textOf(verdict);
    expect(text).toMatch(/INPUT rule 5/);
    expect(text).toMatch(/REJECT/);
    expect(text).toMatch(/icmp-host-prohibited/);
    const apply = buttonsOf(verdict).filter((b) => b.action_id === actionIds.apply);
    expect(apply.length).toBeGreaterThan(0);
    const proposalId = apply[0]!.value;
    expect(proposalId).toMatch(/^prop-[0-9a-f]+$/);

    const messageTs = String(verdict.body.ts);
    const click = (user: string) => postSigned(eventsUrl, secret, clickBody({ actionId: actionIds.apply, value: proposalId, user, channel: 'COPS', messageTs, responseUrl: fake.responseUrl(`click-${user}`) }));
    const refused = await click('UNOTAPPROVER');
    expect(refused.status).toBe(200);
    const clicks = await Promise.all([click('UAPPROVER'), click('UAPPROVER')]);
    expect(clicks.map((r) => r.status)).toEqual([200, 200]);
    const job = await waitForJob(changes!, `apply-${proposalId}`);
    expect(job).toBeDefined();
    const jobs = await changes!.getJobs();
    expect(jobs.map((j) => j.id)).toEqual([`apply-${proposalId}`]);
    const approved = await redis.hget(`${prefix}:wb:proposal:${proposalId}`, 'status');
    expect(approved).toBe('approved');
    expect(job!.data).toMatchObject({ kind: 'apply', proposalId, host: 'server', requestedBy: 'UREQ', approvedBy: ['UAPPROVER'] });

    // The change worker applies it on the host; the message says so and offers the follow-ups.
    const inMessage = (pattern: RegExp) => () => fake.callsTo('chat.update').find((c) => c.body.ts === messageTs && pattern.test(textOf(c)));
    const applied = await fake.waitFor(inMessage(/apply (succeeded|failed)/), 'apply result in the message', 30_000);
    expect(textOf(applied)).toMatch(/apply succeeded/);
    expect(buttonsOf(applied).map((b) => b.action_id)).toEqual([actionIds.makePermanent, actionIds.rollback, actionIds.rerun]);
    const connect = await lab.exec('client', ['bash', '-c', `exec 3<>/dev/tcp/${lab.hosts.server!.addresses[0]}/23 && echo connected`]);
    expect(connect.stdout, connect.stderr).toMatch(/connected/);

    // Make permanent: the boot file gets the good order, so the next reboot keeps the flow open.
    await postSigned(eventsUrl, secret, clickBody({ actionId: actionIds.makePermanent, value: proposalId, user: 'UAPPROVER', channel: 'COPS', messageTs, responseUrl: fake.responseUrl('persist') }));
    const persisted = await fake.waitFor(inMessage(/persist (succeeded|failed)/), 'persist result in the message', 30_000);
    expect(textOf(persisted)).toMatch(/persist succeeded/);
    const saved = (await lab.exec('server', ['cat', '/etc/sysconfig/iptables'])).stdout.split('\n');
    expect(saved.findIndex((l) => /--dport 23\b.*-j ACCEPT/.test(l))).toBeLessThan(saved.findIndex((l) => /^-A INPUT -j REJECT/.test(l)));

    // One trail for the whole story: who approved, what was applied and verified, what was persisted.
    const trail = (await readAuditStream(redis, prefix, { host: 'server' })).filter((r) => r.proposalId === proposalId).map((r) => `${r.event}:${r.outcome}:${r.by}`);
    expect(trail[0]).toBe('proposal:ok:UREQ');
    const proposed = (await readAuditStream(redis, prefix, { host: 'server' })).find((r) => r.proposalId === proposalId && r.event === 'proposal')!;
    expect(proposed.hashBefore).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The top fix is the narrowest: one ACCEPT for this client, inserted before the REJECT.
    expect(proposed.diff).toEqual([expect.stringMatching(/^\+ -A INPUT -s \S+\/32 -p tcp -m tcp --dport 23 .*-j ACCEPT$/)]);
    expect(trail).toEqual(expect.arrayContaining(['refusal:refused:UNOTAPPROVER', 'approval:ok:UAPPROVER', 'verification:ok:UAPPROVER', 'apply:ok:UAPPROVER', 'persist:ok:UAPPROVER']));
  }, 90_000);
});

async function waitForJob(queue: Queue, id: string, timeoutMs = 5000): Promise<Awaited<ReturnType<Queue['getJob']>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await queue.getJob(id);
    if (job || Date.now() > deadline) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
}
