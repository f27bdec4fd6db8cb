import type { IncomingMessage } from 'node:http';

/**
 * Bolt rejects requests older than 5 minutes but accepts future-dated ones; Slack's rule is an
 * absolute difference. Returns true when the request should be refused before Bolt sees it.
 */
export function isFutureDated(req: IncomingMessage, nowMs: number, maxSkewSeconds = 300): boolean {
  const header = req.headers['x-slack-request-timestamp'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return false;
  const ts = Number(value);
  // Non-numeric values are left to Bolt, which rejects them.
  if (!Number.isFinite(ts)) return false;
  return ts - Math.floor(nowMs / 1000) > maxSkewSeconds;
}
