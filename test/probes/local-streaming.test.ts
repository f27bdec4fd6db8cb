import { describe, expect, it } from 'vitest';
import { createLocalStreaming } from '../../src/probes/local-streaming.ts';
import { ErrorCode, WhyBlockedError } from '../../src/errors.ts';

// Readiness comes from stderr, exactly like tcpdump's "listening on …"; no sleeps decide anything.
const start = createLocalStreaming();

describe('createLocalStreaming', () => {
  it('resolves ready on the stderr line, streams stdout lines, and stop() ends a long command', async () => {
    const s = start({ argv: ['sh', '-c', 'echo "listening on lo" >&2; read -r x; echo one; echo two; exec sleep 60'], timeoutMs: 30_000 }, { readyPattern: /^listening on /m });
    await s.ready;
    // stdin is closed, so `read` returns at once and the lines follow.
    expect(await s.waitForStdout((l) => l.includes('two'), 10_000)).toBe(true);
    expect(s.stdoutLines()).toEqual(['one', 'two']);
    const result = await s.stop();
    expect(result.signal).toBe('SIGTERM');
    expect(result.stdout).toBe('one\ntwo\n');
    expect(result.stderr).toContain('listening on lo');
  });

  it('rejects ready when the command ends first, with its last words', async () => {
    const s = start({ argv: ['sh', '-c', 'echo "tcpdump: eth9: No such device exists" >&2; exit 1'], timeoutMs: 10_000 }, { readyPattern: /^listening on /m });
    await expect(s.ready).rejects.toThrow(/No such device exists/);
    expect((await s.stop()).code).toBe(1);
  });

  it('waitForStdout gives up when the command ends without the line', async () => {
    const s = start({ argv: ['sh', '-c', 'echo "listening on x" >&2; echo other'], timeoutMs: 10_000 }, { readyPattern: /^listening on /m });
    await s.ready;
    expect(await s.waitForStdout((l) => l.includes('never'), 20_000)).toBe(false);
  });

  it('a missing program is exit 127, not an exception', async () => {
    const s = start({ argv: ['why-blocked-no-such-tool'], timeoutMs: 5000 }, { readyPattern: /x/ });
    await expect(s.ready).rejects.toThrow(/command not found/);
    expect((await s.stop()).code).toBe(127);
  });

  it('refuses control characters in argv before spawning', () => {
    expect(() => start({ argv: ['sh', '-c', 'echo\nid'], timeoutMs: 5000 }, { readyPattern: /x/ })).toThrow(WhyBlockedError);
    let code: unknown;
    try { start({ argv: ['echo', 'a\u0007'], timeoutMs: 5000 }, { readyPattern: /x/ }); } catch (err) { code = (err as WhyBlockedError).code; }
    expect(code).toBe(ErrorCode.UnsafeArgument);
  });
});
