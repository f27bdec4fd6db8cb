import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.ts';
import { createLocalExecutor, localExec } from '../../src/remote/local-exec.ts';
import { validateArg } from '../../src/remote/quote.ts';
import { nastyStrings } from './helpers/nasty-strings.ts';

const dir = mkdtempSync(join(tmpdir(), 'wb-local-exec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('localExec', () => {
  it('returns exit code, stdout and stderr separately', async () => {
    const r = await localExec({ argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'], timeoutMs: 5000 });
    expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n', truncated: false, timedOut: false });
    expect(r.signal).toBeUndefined();
  });

  it('passes arguments as argv, never through a shell', async () => {
    const args = nastyStrings.filter((s) => { try { validateArg(s); return true; } catch { return false; } });
    const r = await localExec({ argv: ['printf', '%s\\0', ...args], timeoutMs: 5000 });
    const parts = r.stdout.split('\0');
    parts.pop();
    expect(parts).toEqual(args);
    const marker = join(dir, 'pwned');
    await localExec({ argv: ['echo', `; touch ${marker}`, `$(touch ${marker})`], timeoutMs: 5000 });
    expect(existsSync(marker)).toBe(false);
  });

  it('reports death by signal', async () => {
    const r = await localExec({ argv: ['sh', '-c', 'kill -TERM $$'], timeoutMs: 5000 });
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGTERM');
  });

  it('kills the whole process group on timeout', async () => {
    const r = await localExec({ argv: ['sh', '-c', 'sleep 30 & sleep 30; echo never'], timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    expect(r.stdout).toBe('');
  });

  it('escalates to SIGKILL when TERM is ignored', async () => {
    const r = await localExec({ argv: ['sh', '-c', 'trap "" TERM; sleep 30'], timeoutMs: 100 }, { killAfterMs: 100 });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('SIGKILL');
  });

  it('caps output and stops the producer', async () => {
    const r = await localExec({ argv: ['head', '-c', '10000000', '/dev/zero'], timeoutMs: 10_000, maxOutputBytes: 1000 });
    expect(r.truncated).toBe(true);
    expect(Buffer.byteLength(r.stdout)).toBe(1000);
    expect(r.timedOut).toBe(false);
  });

  it('does not flag output exactly at the cap', async () => {
    const r = await localExec({ argv: ['printf', 'abcd'], timeoutMs: 5000, maxOutputBytes: 4 });
    expect(r).toMatchObject({ stdout: 'abcd', truncated: false, code: 0 });
  });

  it('reports a missing program like a shell would (127)', async () => {
    const r = await localExec({ argv: ['/nonexistent/why-blocked-probe'], timeoutMs: 5000 });
    expect(r.code).toBe(127);
    expect(r.stderr).toMatch(/command not found/);
  });

  it('rejects with the abort reason and kills the child', async () => {
    const ac = new AbortController();
    const p = localExec({ argv: ['sleep', '30'], timeoutMs: 60_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('stop now')), 50);
    await expect(p).rejects.toThrow('stop now');
  });

  it('refuses unsafe arguments before spawning anything', async () => {
    const marker = join(dir, 'nl');
    await expect(localExec({ argv: ['touch', `${marker}\n`], timeoutMs: 1000 }))
      .rejects.toMatchObject({ code: ErrorCode.UnsafeArgument });
    expect(existsSync(`${marker}\n`)).toBe(false);
  });
});

describe('createLocalExecutor', () => {
  it('is an Executor bound to this machine', async () => {
    const ex = createLocalExecutor();
    expect(ex).toMatchObject({ kind: 'local', target: 'local' });
    await expect(ex.exec({ argv: ['true'], timeoutMs: 1000 })).resolves.toMatchObject({ code: 0 });
  });

  it('prefixes sudo -n for privileged commands when asked to', async () => {
    // As root sudo -n succeeds; the point is that sudo ran (its env var shows up).
    const ex = createLocalExecutor({ sudo: true });
    const r = await ex.exec({ argv: ['sh', '-c', 'echo "${SUDO_USER:-none}"'], sudo: true, timeoutMs: 5000 });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).not.toBe('none');
  });
});
