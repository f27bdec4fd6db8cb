import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load-config.ts';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';

const password = 'a-long-enough-board-password';

function problemsOf(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env, 'cli');
  } catch (err) {
    if (err instanceof WhyBlockedError && err.code === ErrorCode.ConfigInvalid) return err.message;
    throw err;
  }
  throw new Error('expected loadConfig to fail');
}

describe('queue board configuration', () => {
  it('is off when neither half is set, and on with both', () => {
    const off = loadConfig({ WHY_BLOCKED_BOARD_USER: '', WHY_BLOCKED_BOARD_PASSWORD: '' });
    expect([off.WHY_BLOCKED_BOARD_USER, off.WHY_BLOCKED_BOARD_PASSWORD]).toEqual([undefined, undefined]);
    const on = loadConfig({ WHY_BLOCKED_BOARD_USER: 'ops', WHY_BLOCKED_BOARD_PASSWORD: password });
    expect([on.WHY_BLOCKED_BOARD_USER, on.WHY_BLOCKED_BOARD_PASSWORD]).toEqual(['ops', password]);
  });

  const bad: Array<[string, NodeJS.ProcessEnv, RegExp]> = [
    ['only the user', { WHY_BLOCKED_BOARD_USER: 'ops' }, /WHY_BLOCKED_BOARD_USER is set but WHY_BLOCKED_BOARD_PASSWORD is not: set both .* or unset both/],
    ['only the password', { WHY_BLOCKED_BOARD_PASSWORD: password }, /WHY_BLOCKED_BOARD_PASSWORD is set but WHY_BLOCKED_BOARD_USER is not/],
    ['the user with an empty password', { WHY_BLOCKED_BOARD_USER: 'ops', WHY_BLOCKED_BOARD_PASSWORD: '' }, /WHY_BLOCKED_BOARD_USER is set but WHY_BLOCKED_BOARD_PASSWORD is not/],
    ['a short password', { WHY_BLOCKED_BOARD_USER: 'ops', WHY_BLOCKED_BOARD_PASSWORD: 'hunter2' }, /WHY_BLOCKED_BOARD_PASSWORD \(value hidden, 7 characters\) is invalid: use at least 16 characters/],
    ['a password with a trailing space', { WHY_BLOCKED_BOARD_USER: 'ops', WHY_BLOCKED_BOARD_PASSWORD: `${password} ` }, /WHY_BLOCKED_BOARD_PASSWORD .* without leading or trailing spaces/],
    ['a user with a colon', { WHY_BLOCKED_BOARD_USER: 'ops:admin', WHY_BLOCKED_BOARD_PASSWORD: password }, /WHY_BLOCKED_BOARD_USER="ops:admin" is invalid: .*no ":"/],
    ['a user with a space', { WHY_BLOCKED_BOARD_USER: 'site ops', WHY_BLOCKED_BOARD_PASSWORD: password }, /WHY_BLOCKED_BOARD_USER="site ops" is invalid/],
  ];
  it.each(bad)('fails fast on %s, saying how to fix it', (_n, env, pattern) => {
    expect(problemsOf(env)).toMatch(pattern);
  });

  it('never echoes the password in the error', () => {
    expect(problemsOf({ WHY_BLOCKED_BOARD_USER: 'ops', WHY_BLOCKED_BOARD_PASSWORD: 'short-secret' })).not.toContain('short-secret');
    expect(problemsOf({ WHY_BLOCKED_BOARD_PASSWORD: password })).not.toContain(password);
  });
});

describe('the image entrypoint and the board password', () => {
  it('turns WHY_BLOCKED_BOARD_PASSWORD_FILE into WHY_BLOCKED_BOARD_PASSWORD, so the password can be a mounted secret', async () => {
    const dir = mkdtempSync(join(tmpdir(), `wb-board-${process.pid}-`));
    try {
      writeFileSync(join(dir, 'board_password'), `${password}\n`, { mode: 0o600 });
      const entrypoint = fileURLToPath(new URL('../../deploy/docker/entrypoint.sh', import.meta.url));
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile('sh', [entrypoint, 'env'], { env: { PATH: process.env.PATH!, WHY_BLOCKED_BOARD_PASSWORD_FILE: join(dir, 'board_password') } },
          (err, out) => (err ? reject(err) : resolve(out)));
      });
      const vars = Object.fromEntries(stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      expect(vars.WHY_BLOCKED_BOARD_PASSWORD).toBe(password);
      expect(vars.WHY_BLOCKED_BOARD_PASSWORD_FILE).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
