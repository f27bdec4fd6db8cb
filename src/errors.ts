/**
 * Every failure the product reports has a stable string `code`. Messages say what to do next,
 * because they end up in front of an on-call engineer, not a developer.
 */
export const ErrorCode = {
  ConfigInvalid: 'why_blocked_config_invalid',
  InventoryInvalid: 'why_blocked_inventory_invalid',
  InventoryNotFound: 'why_blocked_inventory_not_found',
  UnknownHost: 'why_blocked_unknown_host',
  Usage: 'why_blocked_usage',
  RulesetParse: 'why_blocked_ruleset_parse',
  LabUnsupported: 'why_blocked_lab_unsupported',
  LabFailed: 'why_blocked_lab_failed',
  SshHostKeyUnknown: 'why_blocked_ssh_host_key_unknown',
  SshHostKeyMismatch: 'why_blocked_ssh_host_key_mismatch',
  SshAuthFailed: 'why_blocked_ssh_auth_failed',
  SshConnectFailed: 'why_blocked_ssh_connect_failed',
  SshTimeout: 'why_blocked_ssh_timeout',
  CommandTimeout: 'why_blocked_command_timeout',
  CommandFailed: 'why_blocked_command_failed',
  OutputTooLarge: 'why_blocked_output_too_large',
  SudoPasswordRequired: 'why_blocked_sudo_password_required',
  UnsafeArgument: 'why_blocked_unsafe_argument',
  NotAuthorized: 'why_blocked_not_authorized',
  ProposalExpired: 'why_blocked_proposal_expired',
  RulesChanged: 'why_blocked_rules_changed',
  ApplyFailed: 'why_blocked_apply_failed',
  Unknown: 'why_blocked_unknown',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Failures a retry cannot fix; the queue layer maps these to BullMQ's UnrecoverableError. */
const permanentCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.ConfigInvalid,
  ErrorCode.InventoryInvalid,
  ErrorCode.InventoryNotFound,
  ErrorCode.UnknownHost,
  ErrorCode.Usage,
  ErrorCode.RulesetParse,
  ErrorCode.SshHostKeyUnknown,
  ErrorCode.SshHostKeyMismatch,
  ErrorCode.SshAuthFailed,
  ErrorCode.SudoPasswordRequired,
  ErrorCode.UnsafeArgument,
  ErrorCode.NotAuthorized,
  ErrorCode.ProposalExpired,
  ErrorCode.RulesChanged,
]);

export interface WhyBlockedErrorOptions {
  cause?: unknown;
  details?: Record<string, unknown>;
}

export class WhyBlockedError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: WhyBlockedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
    // Job errors cross process boundaries as plain objects, so callers match on name/code too.
    this.name = 'WhyBlockedError';
  }

  get permanent(): boolean {
    return permanentCodes.has(this.code);
  }
}

export function isWhyBlockedError(err: unknown): err is WhyBlockedError {
  return err instanceof WhyBlockedError
    || (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'WhyBlockedError'
      && typeof (err as { code?: unknown }).code === 'string');
}

/** The single normaliser: anything thrown becomes a WhyBlockedError. */
export function asWhyBlockedError(err: unknown): WhyBlockedError {
  if (err instanceof WhyBlockedError) return err;
  if (isWhyBlockedError(err)) {
    const plain = err as { code: ErrorCode; message: string; details?: Record<string, unknown> };
    return new WhyBlockedError(plain.code, plain.message, { details: plain.details ?? {} });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new WhyBlockedError(ErrorCode.Unknown, message, { cause: err });
}

export function isPermanent(err: unknown): boolean {
  return asWhyBlockedError(err).permanent;
}

/** CLI exit codes: 2 is usage (bad input), 3 is "could not inspect the target". */
export function exitCodeFor(err: unknown): number {
  const { code } = asWhyBlockedError(err);
  switch (code) {
    case ErrorCode.Usage:
    case ErrorCode.UnknownHost:
    case ErrorCode.UnsafeArgument:
    case ErrorCode.ConfigInvalid:
    case ErrorCode.InventoryInvalid:
    case ErrorCode.InventoryNotFound:
    case ErrorCode.RulesetParse:
      return 2;
    case ErrorCode.SshHostKeyUnknown:
    case ErrorCode.SshHostKeyMismatch:
    case ErrorCode.SshAuthFailed:
    case ErrorCode.SshConnectFailed:
    case ErrorCode.SshTimeout:
      return 3;
    default:
      return 1;
  }
}

export function usageError(message: string, details: Record<string, unknown> = {}): WhyBlockedError {
  return new WhyBlockedError(ErrorCode.Usage, message, { details });
}
