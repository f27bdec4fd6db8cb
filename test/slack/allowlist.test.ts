import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/bot-harness.ts';

describe('who may run /why-blocked', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ allowed: ['UALLOWED', 'SONCALL', 'COPS'], workers: false });
    h.fake.usergroups.set('SONCALL', ['UGROUPMEMBER']);
  });
  afterAll(async () => { await h.stop(); });

  it('politely refuses a user who is not listed, and enqueues nothing', async () => {
    const before = h.fake.responses.length;
    const res = await h.command('web01 23', { user: 'USTRANGER', channel: 'COTHER' });
    expect(res.status).toBe(200);
    const reply = await h.fake.waitFor(() => h.fake.responses.slice(before).find((r) => String(r.body.text).startsWith('Sorry')), 'refusal');
    expect(reply.body.response_type).toBe('ephemeral');
    expect(String(reply.body.text)).toContain('not on the list');
    expect(await h.totalJobs()).toBe(0);
    expect(h.fake.callsTo('chat.postMessage')).toHaveLength(0);
  });

  const allowed: [string, string, string][] = [
    ['a listed user', 'UALLOWED', 'COTHER'],
    ['a member of a listed user group', 'UGROUPMEMBER', 'COTHER'],
    ['anyone in a listed channel', 'USTRANGER', 'COPS'],
  ];
  it.each(allowed)('lets %s start a check', async (_name, user, channel) => {
    const posts = h.fake.callsTo('chat.postMessage').length;
    await h.command(`web01 ${2000 + posts}`, { user, channel });
    await h.fake.waitFor(() => h.fake.callsTo('chat.postMessage').length > posts, 'progress message');
    expect(h.fake.callsTo('chat.postMessage').at(-1)?.body.channel).toBe(channel);
  });

  it('looked the user group up through usergroups.users.list', () => {
    expect(h.fake.callsTo('usergroups.users.list').some((c) => c.body.usergroup === 'SONCALL')).toBe(true);
  });
});
