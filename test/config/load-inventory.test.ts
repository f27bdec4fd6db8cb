import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadInventory, parseInventory } from '../../src/config/load-inventory.ts';
import { resolveHost } from '../../src/config/resolve-host.ts';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';

const fixtures = fileURLToPath(new URL('../fixtures/inventory/', import.meta.url));

function problemsOf(text: string): { code: string; message: string } {
  try {
    parseInventory(text, '/srv/inv/inventory.yml');
  } catch (err) {
    if (err instanceof WhyBlockedError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected the inventory to be rejected');
}

describe('loadInventory', () => {
  it('accepts the documented form, merges defaults and resolves relative paths against the file', () => {
    const inv = loadInventory(join(fixtures, 'valid.yml'));
    const web = inv.hosts.get('web01')!;
    expect(web.addresses).toEqual(['192.168.30.2']);
    expect(web.site).toBe('dc1');
    expect(web.ssh).toMatchObject({ user: 'whyblocked', port: 22, sudo: true, knownHosts: '/etc/why-blocked/known_hosts' });
    expect(web.ssh.privateKey).toBe(join(fixtures, 'keys/id_ed25519'));
    const client = inv.hosts.get('client01')!;
    expect(client.ssh).toMatchObject({ user: 'ops', port: 2222, jump: 'bastion01', sudo: true });
    expect(client.site).toBe('default');
    expect(inv.hosts.get('bastion01')!.addresses).toEqual(['198.51.100.7', '2001:db8::7']);
  });

  it('says how to fix a missing file', () => {
    expect(() => loadInventory('/nonexistent/inventory.yml')).toThrow(/does not exist.*WHY_BLOCKED_INVENTORY/);
    try { loadInventory('/nonexistent/inventory.yml'); } catch (err) { expect((err as WhyBlockedError).code).toBe(ErrorCode.InventoryNotFound); }
  });

  const bad: Array<[string, string, RegExp]> = [
    ['YAML syntax error', 'hosts:\n  web01: { address: 10.0.0.1\n', /inventory\.yml:\d+: YAML syntax/],
    ['not a mapping', '- a\n- b\n', /:1: the file must be a mapping/],
    ['no hosts', 'defaults:\n  ssh: { user: a }\n', /missing `hosts:`/],
    ['typo in a host key', 'defaults:\n  ssh: { user: a }\nhosts:\n  web01:\n    adress: 10.0.0.1\n', /:5: unknown key "adress".*did you mean "address"/],
    ['missing address', 'defaults:\n  ssh: { user: a }\nhosts:\n  web01:\n    site: dc1\n', /:4: host "web01" has no address/],
    ['hostname as address', 'defaults:\n  ssh: { user: a }\nhosts:\n  web01: { address: web01.example.com }\n', /:4: .*not an IPv4\/IPv6 address; put DNS names under `aliases`/],
    ['bad port', 'defaults:\n  ssh: { user: a, port: 70000 }\nhosts:\n  web01: { address: 10.0.0.1 }\n', /:2: defaults\.ssh\.port must be an integer from 1 to 65535/],
    ['port as string', 'hosts:\n  web01: { address: 10.0.0.1, ssh: { user: a, port: "22; rm -rf /" } }\n', /:2: host "web01" ssh\.port must be an integer/],
    ['shell in user', 'hosts:\n  web01: { address: 10.0.0.1, ssh: { user: "a;id" } }\n', /:2: .*user must be a login name/],
    ['no user anywhere', 'hosts:\n  web01: { address: 10.0.0.1 }\n', /:2: host "web01" has no SSH user/],
    ['unknown jump', 'defaults:\n  ssh: { user: a }\nhosts:\n  web01: { address: 10.0.0.1, ssh: { jump: bastoin } }\n  bastion: { address: 10.0.0.2 }\n', /:4: host "web01" jumps through "bastoin".*did you mean "bastion"/],
    ['jump loop', 'defaults:\n  ssh: { user: a }\nhosts:\n  a1: { address: 10.0.0.1, ssh: { jump: b1 } }\n  b1: { address: 10.0.0.2, ssh: { jump: a1 } }\n', /jump hosts form a loop/],
    ['duplicate address', 'defaults:\n  ssh: { user: a }\nhosts:\n  a1: { address: 10.0.0.1 }\n  b1: { address: 10.0.0.1 }\n', /:5: address "10\.0\.0\.1" of host "b1" is already used by host "a1"/],
    ['alias clashes with a name', 'defaults:\n  ssh: { user: a }\nhosts:\n  a1: { address: 10.0.0.1 }\n  b1: { address: 10.0.0.2, aliases: [a1] }\n', /alias "a1" of host "b1" is already used by host "a1"/],
    ['duplicate key', 'hosts:\n  a1: { address: 10.0.0.1 }\n  a1: { address: 10.0.0.2 }\n', /YAML syntax: Map keys must be unique/],
    ['bad host name', 'defaults:\n  ssh: { user: a }\nhosts:\n  "web 01": { address: 10.0.0.1 }\n', /:4: host name "web 01" is invalid/],
    ['bad pinned key', 'defaults:\n  ssh: { user: a }\nhosts:\n  a1: { address: 10.0.0.1, ssh: { hostKeys: ["not a key"] } }\n', /hostKeys must list public keys/],
    ['bad sudo', 'defaults:\n  ssh: { user: a, sudo: "yes please" }\nhosts:\n  a1: { address: 10.0.0.1 }\n', /:2: defaults\.ssh\.sudo must be true or false/],
    ['bad site', 'defaults:\n  ssh: { user: a }\nhosts:\n  a1: { address: 10.0.0.1, site: "dc 1!" }\n', /site must be a short name/],
  ];
  it.each(bad)('rejects %s with the file, the line and the fix', (_name, text, pattern) => {
    const { code, message } = problemsOf(text);
    expect(code).toBe(ErrorCode.InventoryInvalid);
    expect(message).toContain('/srv/inv/inventory.yml');
    expect(message).toMatch(pattern);
  });

  it('reports every problem at once, in line order', () => {
    const { message } = problemsOf('hosts:\n  a1: { address: nope, ssh: { user: a } }\n  b1: { address: 10.0.0.2, ssh: { user: a, port: 0 } }\n');
    expect(message).toMatch(/:2: .*nope[\s\S]*:3: .*port must be/);
  });
});

describe('resolveHost', () => {
  const inv = loadInventory(join(fixtures, 'valid.yml'));
  it.each([
    ['web01', 'web01'], ['WEB01', 'web01'], ['web01.example.com', 'web01'], ['192.168.30.2', 'web01'],
    ['2001:0db8:0:0::7', 'bastion01'], ['  client01 ', 'client01'],
  ])('maps %s to %s', (input, expected) => {
    expect(resolveHost(inv, input).name).toBe(expected);
  });

  it('suggests close names for an unknown host', () => {
    expect(() => resolveHost(inv, 'web1')).toThrow(/not in the inventory.*did you mean "web01"/);
    try { resolveHost(inv, 'web1'); } catch (err) {
      expect((err as WhyBlockedError).code).toBe(ErrorCode.UnknownHost);
      expect((err as WhyBlockedError).details.suggestions).toContain('web01');
    }
  });

  it.each(['10.9.9.9', 'db01', '', 'web01;id'])('rejects %j', (input) => {
    expect(() => resolveHost(inv, input)).toThrow(WhyBlockedError);
  });
});
