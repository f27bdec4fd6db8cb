import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProposalStore, type NewProposal } from '../../src/queue/proposal-store.ts';

const prefix = `wbpropmgr${process.pid}${Date.now().toString(36)}`;
let redis: Redis;
beforeAll(() => { redis = new Redis('redis://127.0.0.1:6379'); });
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const base: NewProposal = {
  triageId: 'tri-1', host: 'web1', fixId: 'manager-allow-client', fixTitle: 'firewalld: allow TCP 23 from 10.0.0.1 only', effect: 'accepts',
  commands: ['firewall-cmd --reload'], rulesetAfter: '', rulesetHash: 'sha256:abc', requester: 'U1', channel: 'C1', ts: '1.2',
};

describe('proposals carry the firewall manager wish', () => {
  it('round-trips a manager wish', async () => {
    let n = 0;
    const store = new ProposalStore(redis, prefix, {}, () => `prop-a${n++}`);
    const manager = { kind: 'firewalld' as const, port: 23, source: '10.0.0.1/32', zone: 'public' };
    const created = await store.create({ ...base, manager }, 1000);
    expect((await store.get(created.id))?.manager).toEqual(manager);
  });

  it('a proposal without one (raw fix, or stored before the field existed) has none', async () => {
    let n = 0;
    const store = new ProposalStore(redis, prefix, {}, () => `prop-b${n++}`);
    const created = await store.create({ ...base, rulesetAfter: '*filter\nCOMMIT\n' }, 1000);
    const got = await store.get(created.id);
    expect(got).toMatchObject({ id: created.id, rulesetAfter: '*filter\nCOMMIT\n', rulesetHash: 'sha256:abc' });
    expect(got && 'manager' in got).toBe(false);
    expect(await redis.hexists(store.keys.proposal(created.id), 'manager')).toBe(0);
  });
});
