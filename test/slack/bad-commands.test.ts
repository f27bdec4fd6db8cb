import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/bot-harness.ts';

describe('/why-blocked refuses bad input and enqueues nothing', () => {
  let h: Harness;
  // Real workers are running: if anything were enqueued it would also show up as Slack traffic.
  beforeAll(async () => { h = await startHarness(); });
  afterAll(async () => { await h.stop(); });

  // Errors found by the parser come back in the ack itself.
  const inAck: [string, RegExp][] = [
    ['', /which host and port/],
    ['web01', /Which port/],
    ['web01 0', /out of range/],
    ['web01 70000', /out of range/],
    ['web01 23/udp', /Only TCP/],
    ['web01 23 extra', /Unexpected/],
    ['web01 23 from', /needs a host/],
    ['web01 23; reboot', /not allowed/],
    ['web01 $(id)', /not allowed/],
    ['web01 `id`', /not allowed/],
    ['web01 23 &gt; /etc/passwd', /not allowed/],
    ['web01\n23', /control characters/],
    ['x'.repeat(201), /limit is 200/],
  ];
  it.each(inAck)('answers %j with an ephemeral usage error', async (text, message) => {
    const res = await h.command(text);
    expect(res.status).toBe(200);
    expect(res.body?.response_type).toBe('ephemeral');
    expect(String(res.body?.text)).toMatch(message);
    expect(String(res.body?.text)).toContain('Usage:');
    expect(await h.totalJobs()).toBe(0);
    expect(h.fake.callsTo('chat.postMessage')).toHaveLength(0);
  });

  // Errors that need the inventory come through response_url after the "Checking…" ack.
  const afterAck: [string, RegExp][] = [
    ['nosuch 23', /"nosuch" is not in the inventory/],
    ['web9 23', /Did you mean web01, web02\?/],
    ['web01 23 from laptop', /neither an inventory host nor an IP/],
  ];
  it.each(afterAck)('answers %j with an ephemeral error naming close matches', async (text, message) => {
    const before = h.fake.responses.length;
    const res = await h.command(text);
    expect(res.status).toBe(200);
    const reply = await h.fake.waitFor(() => h.fake.responses.slice(before).find((r) => /inventory|IP/.test(String(r.body.text))), 'error reply');
    expect(reply.body.response_type).toBe('ephemeral');
    expect(String(reply.body.text)).toMatch(message);
    expect(await h.totalJobs()).toBe(0);
    expect(h.fake.callsTo('chat.postMessage')).toHaveLength(0);
  });
});
