import { createHmac } from 'node:crypto';

export function slackSignature(secret: string, timestampSec: number, body: string): string {
  return 'v0=' + createHmac('sha256', secret).update(`v0:${timestampSec}:${body}`).digest('hex');
}

export interface SignedPostOptions {
  timestampSec?: number;
  /** Override the computed signature (forgery tests). */
  signature?: string;
}

/** POSTs a form body to Bolt exactly as Slack does (string body: Bolt compares content-type strictly). */
export async function postSigned(url: string, secret: string, body: string, options: SignedPostOptions = {}): Promise<Response> {
  const ts = options.timestampSec ?? Math.floor(Date.now() / 1000);
  return fetch(url, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': options.signature ?? slackSignature(secret, ts, body),
    },
  });
}

export interface CommandFields {
  text: string;
  user?: string;
  channel?: string;
  triggerId?: string;
  responseUrl: string;
}

export function commandBody(f: CommandFields): string {
  return new URLSearchParams({
    token: 'legacy', team_id: 'T1', team_domain: 'test', channel_id: f.channel ?? 'C1', channel_name: 'ops', user_id: f.user ?? 'U1',
    user_name: 'alice', command: '/why-blocked', text: f.text, api_app_id: 'A1', is_enterprise_install: 'false',
    response_url: f.responseUrl, trigger_id: f.triggerId ?? `trig-${Math.random().toString(36).slice(2)}`,
  }).toString();
}

export interface ClickFields {
  actionId: string;
  value: string;
  user: string;
  channel?: string;
  messageTs?: string;
  responseUrl: string;
  triggerId?: string;
}

export function clickBody(f: ClickFields): string {
  const channel = f.channel ?? 'C1';
  const payload = {
    type: 'block_actions',
    user: { id: f.user, username: f.user.toLowerCase(), team_id: 'T1' },
    api_app_id: 'A1',
    token: 'legacy',
    container: { type: 'message', message_ts: f.messageTs ?? '1700000000.000001', channel_id: channel, is_ephemeral: false },
    trigger_id: f.triggerId ?? `trig-${Math.random().toString(36).slice(2)}`,
    team: { id: 'T1', domain: 'test' },
    channel: { id: channel, name: 'ops' },
    message: { type: 'message', ts: f.messageTs ?? '1700000000.000001', text: '' },
    response_url: f.responseUrl,
    actions: [{ type: 'button', action_id: f.actionId, block_id: 'wb_actions', value: f.value, text: { type: 'plain_text', text: 'x' }, action_ts: '1700000000.1' }],
  };
  return `payload=${encodeURIComponent(JSON.stringify(payload))}`;
}
