import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/run-cli.ts';

const valid = fileURLToPath(new URL('../fixtures/inventory/valid.yml', import.meta.url));

describe('why-blocked inventory check', () => {
  it('validates a file and prints its hosts', async () => {
    const r = await runCli(['inventory', 'check', valid]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/3 hosts, valid/);
    expect(r.stdout).toMatch(/web01\s+192\.168\.30\.2\s+web01\.example\.com\s+dc1\s+whyblocked@192\.168\.30\.2:22 \(sudo -n\)/);
    expect(r.stdout).toMatch(/client01 .* ops@192\.168\.30\.1:2222 via bastion01/);
    expect(r.stderr).toMatch(/warning: .*id_ed25519 does not exist/);
  });

  it('prints JSON for scripts', async () => {
    const r = await runCli(['inventory', 'check', valid, '--json']);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as { hosts: Array<{ name: string }> };
    expect(parsed.hosts.map((h) => h.name)).toEqual(['web01', 'client01', 'bastion01']);
  });

  it('uses WHY_BLOCKED_INVENTORY when no file is given', async () => {
    const r = await runCli(['inventory', 'check'], { env: { WHY_BLOCKED_INVENTORY: valid } });
    expect(r.code).toBe(0);
  });

  const dir = mkdtempSync(join(tmpdir(), 'wb-inv-'));
  const broken = join(dir, 'broken.yml');
  writeFileSync(broken, 'defaults:\n  ssh: { user: ops }\nhosts:\n  web01:\n    address: 10.0.0.300\n');
  const cases: Array<[string, string[], number, RegExp]> = [
    ['a broken file, with its line', ['inventory', 'check', broken], 2, /broken\.yml:5: host "web01": address "10\.0\.0\.300" is not an IPv4/],
    ['a missing file', ['inventory', 'check', join(dir, 'nope.yml')], 2, /does not exist/],
    ['a missing subcommand', ['inventory'], 2, /missing subcommand/],
    ['an unknown subcommand', ['inventory', 'lint'], 2, /unknown subcommand "lint"/],
    ['an unknown flag', ['inventory', 'check', '--frobnicate'], 2, /Unknown option '--frobnicate'/],
    ['extra arguments', ['inventory', 'check', valid, 'extra'], 2, /unexpected arguments: extra/],
    ['an unknown command', ['inventroy'], 2, /unknown command "inventroy"/],
  ];
  it.each(cases)('rejects %s', async (_n, args, code, pattern) => {
    const r = await runCli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(pattern);
    expect(r.stdout).toBe('');
  });
});
