import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log/create-logger.ts';
import { createAccessPolicy } from '../../src/slack/access-policy.ts';

describe('createAccessPolicy', () => {
  function policy(allowed: string[], approvers: string[], groups: Record<string, string[] | Error>) {
    let nowMs = 0;
    const lookups: string[] = [];
    const p = createAccessPolicy({
      allowed, approvers, log: silentLogger(), groupCacheTtlMs: 1000, now: () => nowMs,
      usergroupMembers: async (id) => {
        lookups.push(id);
        const g = groups[id];
        if (g instanceof Error) throw g;
        return g ?? [];
      },
    });
    return { p, lookups, advance: (ms: number) => { nowMs += ms; } };
  }

  it('lets everyone run with *, but a channel never makes someone an approver', async () => {
    const { p } = policy(['*'], ['COPS', 'UBOSS'], {});
    expect(await p.mayRun('UANY', 'CANY')).toBe(true);
    expect(await p.mayApprove('UANY')).toBe(false);
    expect(await p.mayApprove('UBOSS')).toBe(true);
  });

  it('caches group members for the TTL and looks them up again afterwards', async () => {
    const { p, lookups, advance } = policy(['SONCALL'], [], { SONCALL: ['U1'] });
    expect(await Promise.all([p.mayRun('U1', 'C1'), p.mayRun('U2', 'C1'), p.mayRun('U1', 'C2')])).toEqual([true, false, true]);
    expect(lookups).toEqual(['SONCALL']);
    advance(1001);
    await p.mayRun('U1', 'C1');
    expect(lookups).toEqual(['SONCALL', 'SONCALL']);
  });

  it('fails closed when the group lookup fails, and retries on the next request', async () => {
    const groups: Record<string, string[] | Error> = { SAPPROVERS: new Error('ratelimited') };
    const { p, lookups } = policy([], ['SAPPROVERS'], groups);
    expect(await p.mayApprove('U1')).toBe(false);
    groups.SAPPROVERS = ['U1'];
    expect(await p.mayApprove('U1')).toBe(true);
    expect(lookups).toHaveLength(2);
  });
});
