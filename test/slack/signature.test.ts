import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, signingSecret, type Harness } from './helpers/bot-harness.ts';
import { commandBody, postSigned, slackSignature } from './helpers/signed-request.ts';

describe('Slack request signatures (real Bolt over HTTP)', () => {
  let h: Harness;
  beforeAll(async () => { h = await startHarness({ workers: false }); });
  afterAll(async () => { await h.stop(); });

  const nowSec = (): number => Math.floor(Date.now() / 1000);

  it('accepts a correctly signed command and acks with the ephemeral help text', async () => {
    const res = await h.command('help');
    expect(res.status).toBe(200);
    expect(res.body?.response_type).toBe('ephemeral');
    expect(String(res.body?.text)).toContain('/why-blocked <host> <port>');
  });

  it('accepts a timestamp a little in the future (clock skew within 5 min)', async () => {
    const res = await h.command('help', {}, { timestampSec: nowSec() + 60 });
    expect(res.status).toBe(200);
  });

  const refused: [string, () => { body: string; ts: number; signature?: string }][] = [
    ['forged signature', () => ({ body: commandBody({ text: 'help', responseUrl: h.fake.responseUrl('x') }), ts: nowSec(), signature: slackSignature('wrong-secret', nowSec(), 'x') })],
    ['body changed after signing', () => {
      const ts = nowSec();
      return { body: commandBody({ text: 'web01 23', responseUrl: h.fake.responseUrl('x') }), ts, signature: slackSignature(signingSecret, ts, 'text=help') };
    }],
    ['expired (10 min old)', () => ({ body: commandBody({ text: 'help', responseUrl: h.fake.responseUrl('x') }), ts: nowSec() - 600 })],
    ['future-dated (+10 min)', () => ({ body: commandBody({ text: 'help', responseUrl: h.fake.responseUrl('x') }), ts: nowSec() + 600 })],
    ['future-dated (+1 day)', () => ({ body: commandBody({ text: 'help', responseUrl: h.fake.responseUrl('x') }), ts: nowSec() + 86_400 })],
  ];

  it.each(refused)('answers 401 to a %s request', async (_name, make) => {
    const { body, ts, signature } = make();
    const res = await postSigned(h.eventsUrl, signingSecret, body, { timestampSec: ts, ...(signature ? { signature } : {}) });
    expect(res.status).toBe(401);
    expect(await h.totalJobs()).toBe(0);
  });

  it('serves /healthz without a signature', async () => {
    const res = await fetch(h.eventsUrl.replace('/slack/events', '/healthz'));
    expect(res.status).toBe(200);
  });
});
