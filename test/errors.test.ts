import { describe, expect, it } from 'vitest';
import { asWhyBlockedError, ErrorCode, exitCodeFor, isPermanent, WhyBlockedError } from '../src/errors.ts';

describe('errors', () => {
  it('normalises anything thrown into a coded error', () => {
    expect(asWhyBlockedError(new Error('boom'))).toMatchObject({ code: ErrorCode.Unknown, message: 'boom' });
    expect(asWhyBlockedError('text')).toMatchObject({ code: ErrorCode.Unknown, message: 'text' });
    const e = new WhyBlockedError(ErrorCode.UnknownHost, 'x');
    expect(asWhyBlockedError(e)).toBe(e);
  });

  it('recognises errors that crossed a process boundary as plain objects', () => {
    const plain = JSON.parse(JSON.stringify({ name: 'WhyBlockedError', code: ErrorCode.SshHostKeyMismatch, message: 'key changed' })) as unknown;
    const e = asWhyBlockedError(plain);
    expect(e).toBeInstanceOf(WhyBlockedError);
    expect(e.code).toBe(ErrorCode.SshHostKeyMismatch);
    expect(isPermanent(plain)).toBe(true);
  });

  it.each([
    [ErrorCode.Usage, 2], [ErrorCode.UnknownHost, 2], [ErrorCode.RulesetParse, 2],
    [ErrorCode.SshConnectFailed, 3], [ErrorCode.SshHostKeyMismatch, 3], [ErrorCode.ApplyFailed, 1],
  ] as const)('maps %s to exit code %i', (code, exit) => {
    expect(exitCodeFor(new WhyBlockedError(code, 'm'))).toBe(exit);
  });

  it('treats timeouts as retryable and auth/host-key failures as permanent', () => {
    expect(isPermanent(new WhyBlockedError(ErrorCode.SshTimeout, 't'))).toBe(false);
    expect(isPermanent(new WhyBlockedError(ErrorCode.SshAuthFailed, 'a'))).toBe(true);
    expect(isPermanent(new Error('socket hang up'))).toBe(false);
  });
});
