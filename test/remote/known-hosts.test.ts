import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, type WhyBlockedError } from '../../src/errors.ts';
import {
  buildHostKeyPolicy, checkHostKey, createHostVerifier, fingerprintSha256, hostFieldMatches, hostKeyAlgorithmsFor,
  knownHostsName, parseKnownHosts, parsePinnedKey,
} from '../../src/remote/known-hosts.ts';
import { generateKey } from './helpers/sshd-lab.ts';

// Generated at load time because it.each tables are built before any hook runs.
const dir = mkdtempSync(join(tmpdir(), 'wb-known-hosts-'));
const keyA = generateKey(join(dir, 'a'));
const keyB = generateKey(join(dir, 'b'));
execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-C', '', '-f', join(dir, 'r')]);
const keyRsa = readFileSync(join(dir, 'r.pub'), 'utf8').trim();
const blob = (line: string) => Buffer.from(line.split(' ')[1]!, 'base64');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('fingerprintSha256', () => {
  it('matches what ssh-keygen -lf prints', () => {
    const printed = execFileSync('ssh-keygen', ['-lf', join(dir, 'a.pub')]).toString().split(' ')[1];
    expect(fingerprintSha256(blob(keyA))).toBe(printed);
    expect(printed).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('knownHostsName', () => {
  it('uses the bare name on port 22 and [host]:port otherwise', () => {
    expect(knownHostsName('db1', 22)).toBe('db1');
    expect(knownHostsName('10.0.0.5', 2222)).toBe('[10.0.0.5]:2222');
  });
});

describe('hostFieldMatches', () => {
  it.each([
    ['db1', 'db1', true],
    ['db1,db2,10.0.0.5', '10.0.0.5', true],
    ['db1,db2', 'db3', false],
    ['DB1', 'db1', true],
    ['*.example.org', 'web.example.org', true],
    ['*.example.org,!evil.example.org', 'evil.example.org', false],
    ['10.0.0.?', '10.0.0.7', true],
    ['10.0.0.?', '10.0.0.17', false],
    ['[10.0.0.5]:2222', '[10.0.0.5]:2222', true],
    ['10.0.0.5', '[10.0.0.5]:2222', false],
    ['[10.0.0.5]:2222', '10.0.0.5', false],
    ['db1.example', 'db1xexample', false],
  ])('%s vs %s → %s', (field, name, expected) => {
    expect(hostFieldMatches(field, name)).toBe(expected);
  });

  it('matches hashed entries by HMAC-SHA1 of the name only', () => {
    const field = hashed('[127.0.0.1]:2222');
    expect(hostFieldMatches(field, '[127.0.0.1]:2222')).toBe(true);
    expect(hostFieldMatches(field, '127.0.0.1')).toBe(false);
    expect(hostFieldMatches('|1|garbage', '127.0.0.1')).toBe(false);
  });

  it('matches entries hashed by ssh-keygen -H', () => {
    const file = join(dir, 'kh-hash');
    writeFileSync(file, `db1.example,[10.1.2.3]:2200 ${keyA}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const { entries } = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true);
    expect(entries.some((e) => hostFieldMatches(e.hosts, 'db1.example'))).toBe(true);
    expect(entries.some((e) => hostFieldMatches(e.hosts, '[10.1.2.3]:2200'))).toBe(true);
    expect(entries.some((e) => hostFieldMatches(e.hosts, '10.1.2.3'))).toBe(false);
  });
});

describe('parseKnownHosts', () => {
  it('skips comments and blank lines, keeps markers, warns about unsupported lines', () => {
    const text = [
      '# a comment',
      '',
      '   ',
      `db1 ${keyA} some comment`,
      `@revoked * ${keyB}`,
      `@cert-authority *.example ${keyB}`,
      `@bogus db1 ${keyB}`,
      'db2 ssh-ed25519 not-base64!!',
      `db3 ssh-rsa ${keyA.split(' ')[1]}`,
      'onlyhost',
    ].join('\n');
    const { entries, warnings } = parseKnownHosts(text, 'kh');
    expect(entries.map((e) => [e.hosts, e.marker, e.line])).toEqual([['db1', undefined, 4], ['*', 'revoked', 5]]);
    expect(warnings).toHaveLength(5);
    expect(warnings[0]).toMatch(/^kh:6: @cert-authority .*not supported/);
    expect(warnings.join('\n')).toMatch(/kh:9: the key data is a ssh-ed25519 key but the line says ssh-rsa/);
  });
});

describe('parsePinnedKey', () => {
  it('accepts ssh-keyscan style lines, with or without a comment', () => {
    expect(parsePinnedKey(`${keyA} host comment`).blob.equals(blob(keyA))).toBe(true);
    expect(parsePinnedKey(keyRsa).type).toBe('ssh-rsa');
  });

  it.each([
    ['no key', 'ssh-ed25519'],
    ['host name first', `db1 ${keyA}`],
    ['wrong type', `ssh-rsa ${keyA.split(' ')[1]}`],
    ['truncated blob', 'ssh-ed25519 AAAA'],
  ])('rejects %s', (_label, text) => {
    expect(() => parsePinnedKey(text)).toThrow(expect.objectContaining({ code: ErrorCode.ConfigInvalid }));
  });
});

describe('checkHostKey / createHostVerifier', () => {
  const port = 2222;
  const name = '[10.0.0.5]:2222';

  it('accepts a pinned key and reports its fingerprint', () => {
    const policy = buildHostKeyPolicy({ host: '10.0.0.5', port, pinned: [keyA] });
    expect(checkHostKey(policy, blob(keyA))).toEqual({ ok: true, fingerprint: fingerprintSha256(blob(keyA)) });
  });

  it('accepts a key listed in known_hosts under [host]:port, plain or hashed', () => {
    for (const field of [name, hashed(name), `other,${name}`]) {
      const verify = createHostVerifier({ host: '10.0.0.5', port, knownHosts: `${field} ${keyA}\n` });
      expect(verify(blob(keyA))).toBe(true);
    }
  });

  it('finds keys recorded under the inventory name or an alias', () => {
    const verify = createHostVerifier({ host: '10.0.0.5', port: 22, aliases: ['db1'], knownHosts: `db1 ${keyA}\n` });
    expect(verify(blob(keyA))).toBe(true);
  });

  it('never auto-accepts: with no trust source every key is unknown', () => {
    const errors: WhyBlockedError[] = [];
    const verify = createHostVerifier({ host: '10.0.0.5', port }, (e) => errors.push(e));
    expect(verify(blob(keyA))).toBe(false);
    expect(errors[0]!.code).toBe(ErrorCode.SshHostKeyUnknown);
  });

  it('treats a key recorded only for port 22 as unknown on another port', () => {
    const policy = buildHostKeyPolicy({ host: '10.0.0.5', port, knownHosts: `10.0.0.5 ${keyA}\n` });
    const result = checkHostKey(policy, blob(keyA));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe(ErrorCode.SshHostKeyUnknown);
  });

  it('unknown key: names the host, the SHA256 fingerprint and how to review it', () => {
    const policy = buildHostKeyPolicy({ host: '10.0.0.5', port, knownHosts: `otherhost ${keyB}\n`, knownHostsPath: '/etc/wb/known_hosts' });
    const result = checkHostKey(policy, blob(keyA));
    if (result.ok) throw new Error('expected a rejection');
    expect(result.error.code).toBe(ErrorCode.SshHostKeyUnknown);
    expect(result.error.message).toContain('[10.0.0.5]:2222');
    expect(result.error.message).toContain(fingerprintSha256(blob(keyA)));
    expect(result.error.message).toContain('/etc/wb/known_hosts');
    expect(result.error.message).toContain('ssh-keyscan -p 2222 -t ssh-ed25519 10.0.0.5');
    expect(result.error.message).toMatch(/out of band/);
    expect(result.error.details).toMatchObject({ host: '10.0.0.5', port, fingerprint: fingerprintSha256(blob(keyA)) });
  });

  it('mismatch: a different key for a known host names both fingerprints', () => {
    const policy = buildHostKeyPolicy({ host: '10.0.0.5', port, pinned: [keyB] });
    const result = checkHostKey(policy, blob(keyA));
    if (result.ok) throw new Error('expected a rejection');
    expect(result.error.code).toBe(ErrorCode.SshHostKeyMismatch);
    expect(result.error.message).toContain(fingerprintSha256(blob(keyA)));
    expect(result.error.message).toContain(fingerprintSha256(blob(keyB)));
    expect(result.error.permanent).toBe(true);
  });

  it('@revoked wins over a pin for the same key', () => {
    const policy = buildHostKeyPolicy({ host: '10.0.0.5', port, pinned: [keyA], knownHosts: `@revoked * ${keyA}\n` });
    const result = checkHostKey(policy, blob(keyA));
    expect(!result.ok && result.error.code).toBe(ErrorCode.SshHostKeyMismatch);
    expect(!result.ok && result.error.details.reason).toBe('revoked');
  });

  it('ignores @cert-authority lines (with a warning) instead of trusting them', () => {
    const policy = buildHostKeyPolicy({ host: '10.0.0.5', port, knownHosts: `@cert-authority * ${keyA}\n` });
    expect(policy.warnings).toHaveLength(1);
    expect(checkHostKey(policy, blob(keyA)).ok).toBe(false);
  });

  it('a negated pattern vetoes the entry', () => {
    const policy = buildHostKeyPolicy({ host: '10.0.0.5', port: 22, knownHosts: `10.0.0.*,!10.0.0.5 ${keyA}\n` });
    expect(checkHostKey(policy, blob(keyA)).ok).toBe(false);
  });
});

describe('hostKeyAlgorithmsFor', () => {
  it('offers only the trusted key types, RSA with its SHA-2 signatures', () => {
    expect(hostKeyAlgorithmsFor([parsePinnedKey(keyRsa)])).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithmsFor([parsePinnedKey(keyRsa), parsePinnedKey(keyA)])[0]).toBe('ssh-ed25519');
    expect(hostKeyAlgorithmsFor([])).toEqual([]);
  });
});
