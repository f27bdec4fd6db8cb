import type { Logger } from '../log/create-logger.ts';

/** Members of a Slack user group (S…), e.g. via `usergroups.users.list`. */
export type UsergroupMembers = (usergroupId: string) => Promise<string[]>;

export interface AccessPolicyOptions {
  /** Who may run /why-blocked: U… users, S… user groups, C… channels, or `*`. */
  allowed: string[];
  /** Who may approve fixes: U… users, S… user groups, or `*`. */
  approvers: string[];
  usergroupMembers: UsergroupMembers;
  log: Logger;
  /** @defaultValue 300000 (5 min) */
  groupCacheTtlMs?: number;
  now?: () => number;
}

export interface AccessPolicy {
  mayRun(user: string, channel: string): Promise<boolean>;
  mayApprove(user: string): Promise<boolean>;
}

export function createAccessPolicy(options: AccessPolicyOptions): AccessPolicy {
  const now = options.now ?? Date.now;
  const ttlMs = options.groupCacheTtlMs ?? 300_000;
  const cache = new Map<string, { atMs: number; members: Promise<Set<string>> }>();

  function members(groupId: string): Promise<Set<string>> {
    const hit = cache.get(groupId);
    if (hit && now() - hit.atMs < ttlMs) return hit.members;
    // Cache the promise so a burst of commands makes one API call, not one each.
    const members = options.usergroupMembers(groupId).then((users) => new Set(users), (err: unknown) => {
      options.log.warn({ err, usergroup: groupId }, 'could not read user group members; treating as not a member');
      cache.delete(groupId);
      return new Set<string>();
    });
    cache.set(groupId, { atMs: now(), members });
    return members;
  }

  async function matches(list: string[], user: string, channel?: string): Promise<boolean> {
    if (list.includes('*') || list.includes(user) || (channel !== undefined && list.includes(channel))) return true;
    for (const id of list.filter((x) => x.startsWith('S'))) {
      if ((await members(id)).has(user)) return true;
    }
    return false;
  }

  return {
    mayRun: (user, channel) => matches(options.allowed, user, channel),
    // Channels never grant approval: being in a room is not an authorization.
    mayApprove: (user) => matches(options.approvers.filter((x) => !x.startsWith('C')), user),
  };
}
