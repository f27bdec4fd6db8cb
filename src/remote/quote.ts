import { ErrorCode, WhyBlockedError } from '../errors.ts';

/** Longest single argument accepted; real probe arguments are addresses, ports and paths. */
export const maxArgLength = 4096;
/** Longest rendered command; far below ARG_MAX and the SSH packet size, so nothing gets cut. */
export const maxCommandLength = 32_768;

// C0 controls and DEL, plus C1 controls: terminals and some shells act on them, and NUL cannot
// survive an exec string at all. Newline is in here on purpose: no probe argument needs one, and
// quoting bugs in other libraries (shell-quote CVE-2026-9277) came exactly through line terminators.
// U+2028/2029 are rejected for the same reason: they are line breaks to some log viewers.
// eslint-disable-next-line no-control-regex
const forbidden = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;

// A lone surrogate would be encoded as U+FFFD on the wire, so the remote would see another value.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws WhyBlockedError(UnsafeArgument) unless `arg` is safe to hand to a remote shell once quoted. */
export function validateArg(arg: string): void {
  if (typeof arg !== 'string') {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument, `Command argument must be a string, got ${typeof arg}.`);
  }
  if (arg.length > maxArgLength) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument,
      `Command argument is ${arg.length} characters long; the limit is ${maxArgLength}. Check the value you passed.`,
      { details: { length: arg.length } });
  }
  if (loneSurrogate.test(arg)) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument, 'Command argument contains an unpaired UTF-16 surrogate; pass valid text.');
  }
  const bad = forbidden.exec(arg);
  if (bad) {
    const codePoint = `U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new WhyBlockedError(ErrorCode.UnsafeArgument,
      `Command argument contains the control character ${codePoint} at offset ${bad.index}; such values are never sent to a host.`,
      { details: { codePoint, offset: bad.index } });
  }
}

/**
 * POSIX single-quoting: inside '…' every byte is literal (newlines included), so the only character
 * needing care is the quote itself, closed, escaped and reopened. Quotes even "safe" words so the
 * rule has no exceptions. Only NUL is refused here, since no C string can carry it; the stricter
 * policy for command arguments is validateArg, applied by buildCommand.
 */
export function quoteArg(arg: string): string {
  if (typeof arg !== 'string' || arg.includes('\u0000')) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument, 'A shell word cannot contain NUL and must be a string.');
  }
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** One shell string from an argv; SSH exec has no argv, so this is the only way arguments travel. */
export function buildCommand(argv: readonly string[]): string {
  if (argv.length === 0) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument, 'Cannot build an empty command.');
  }
  argv.forEach(validateArg);
  const command = argv.map(quoteArg).join(' ');
  if (command.length > maxCommandLength) {
    throw new WhyBlockedError(ErrorCode.UnsafeArgument,
      `Command is ${command.length} characters long once quoted; the limit is ${maxCommandLength}.`);
  }
  return command;
}
