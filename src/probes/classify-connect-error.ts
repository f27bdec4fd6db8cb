import type { ConnectOutcome } from '../triage/evidence-types.ts';

/**
 * errno → outcome, by code (node:net gives `err.code`) or by the strerror text that bash, nc and
 * telnet print. One table, so every vantage classifies alike.
 */
const table: { errno: string; outcome: ConnectOutcome; text: RegExp }[] = [
  { errno: 'ECONNREFUSED', outcome: 'refused', text: /connection refused/i },
  { errno: 'EHOSTUNREACH', outcome: 'host-unreachable', text: /no route to host/i },
  { errno: 'ENETUNREACH', outcome: 'net-unreachable', text: /network is unreachable/i },
  { errno: 'ETIMEDOUT', outcome: 'timeout', text: /timed out|^Ncat: TIMEOUT/i },
  // IPv6 admin-prohibited surfaces as EACCES; a local OUTPUT DROP on the vantage as EPERM.
  { errno: 'EACCES', outcome: 'permission-denied', text: /permission denied/i },
  { errno: 'EPERM', outcome: 'not-permitted', text: /operation not permitted/i },
  { errno: 'ENOPROTOOPT', outcome: 'protocol-unavailable', text: /protocol not available/i },
  { errno: 'ECONNRESET', outcome: 'reset', text: /connection reset/i },
];

export interface ClassifiedError { outcome: ConnectOutcome; errno?: string }

export function classifyErrno(code: string): ClassifiedError {
  const row = table.find((r) => r.errno === code);
  return row ? { outcome: row.outcome, errno: row.errno } : { outcome: 'error', errno: code };
}

export function classifyErrorText(text: string): ClassifiedError | undefined {
  const row = table.find((r) => r.text.test(text));
  return row ? { outcome: row.outcome, errno: row.errno } : undefined;
}

/** How an engineer says it: "EHOSTUNREACH (No route to host)". */
export function describeOutcome(outcome: ConnectOutcome, errno?: string): string {
  switch (outcome) {
    case 'connected': return 'connected';
    case 'refused': return 'ECONNREFUSED (Connection refused)';
    case 'host-unreachable': return 'EHOSTUNREACH (No route to host)';
    case 'net-unreachable': return 'ENETUNREACH (Network is unreachable)';
    case 'timeout': return 'ETIMEDOUT (no answer to the SYN)';
    case 'permission-denied': return 'EACCES (Permission denied)';
    case 'not-permitted': return 'EPERM (Operation not permitted: blocked on the vantage itself)';
    case 'protocol-unavailable': return 'ENOPROTOOPT (Protocol not available)';
    case 'reset': return 'ECONNRESET (Connection reset)';
    case 'error': return errno ? `${errno}` : 'failed';
  }
}
