import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeWebSocket } from '../fake-slack/fake-websocket.ts';
import { startHarness, type Harness } from './helpers/bot-harness.ts';
import { textOf } from './helpers/blocks.ts';

describe('Socket Mode (SLACK_APP_TOKEN set) against a fake apps.connections.open + WebSocket', () => {
  let h: Harness;
  let socket: FakeWebSocket;
  const acks = new Map<string, Record<string, unknown>>();

  beforeAll(async () => {
    h = await startHarness({ workers: false, bot: { appToken: 'xapp-1-test' } });
    socket = await h.fake.waitFor(() => h.fake.sockets[0], 'socket connection');
    socket.onText((text) => {
      const msg = JSON.parse(text) as { envelope_id?: string; payload?: Record<string, unknown> };
      if (msg.envelope_id) acks.set(msg.envelope_id, msg.payload ?? {});
    });
  });
  afterAll(async () => { await h.stop(); });

  const sendCommand = (envelopeId: string, text: string): void => {
    socket.send(JSON.stringify({
      envelope_id: envelopeId, type: 'slash_commands', accepts_response_payload: true,
      payload: {
        token: 'legacy', team_id: 'T1', team_domain: 'test', channel_id: 'C1', channel_name: 'ops', user_id: 'U1', user_name: 'alice',
        command: '/why-blocked', text, api_app_id: 'A1', response_url: h.fake.responseUrl(envelopeId), trigger_id: `trig-${envelopeId}`,
      },
    }));
  };

  it('opened the socket with the app token', () => {
    const open = h.fake.callsTo('apps.connections.open');
    expect(open).toHaveLength(1);
    expect(open[0]?.token).toBe('xapp-1-test');
  });

  it('acks a bad command over the socket with the usage error, enqueuing nothing', async () => {
    sendCommand('env-bad', 'web01 99999');
    const ack = await h.fake.waitFor(() => acks.get('env-bad'), 'socket ack');
    expect(ack).toMatchObject({ response_type: 'ephemeral' });
    expect(String(ack.text)).toMatch(/out of range/);
    expect(await h.totalJobs()).toBe(0);
  });

  it('acks a good command and posts the live message through the Web API', async () => {
    sendCommand('env-good', 'web01 23');
    const ack = await h.fake.waitFor(() => acks.get('env-good'), 'socket ack');
    expect(String(ack.text)).toMatch(/Checking web01 23\/tcp/);
    const post = await h.fake.waitFor(() => h.fake.callsTo('chat.postMessage')[0], 'progress message');
    expect(post.token).toBe('xoxb-test');
    expect(textOf(post)).toMatch(/Checking why \*web01\* 23\/tcp/);
    let jobs = 0;
    for (let i = 0; i < 100 && jobs < 5; i += 1) { jobs = await h.totalJobs(); await new Promise((r) => setTimeout(r, 20)); }
    expect(jobs).toBe(5);
  });
});
