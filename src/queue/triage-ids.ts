import { createHash } from 'node:crypto';
import type { TriageRequest } from './job-schemas.ts';

const digest = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Deterministic, so a retried enqueue of the same Slack trigger maps to the same jobs. No ':' (BullMQ forbids it). */
export function triageIdFor(triggerId: string): string {
  return `tri-${digest(triggerId).slice(0, 20)}`;
}

export function probeJobId(triageId: string, probe: string): string {
  return `${triageId}-${probe}`;
}

/** Same host, port and vantage ⇒ same fingerprint, whoever asks and however they spelled it. */
export function requestFingerprint(request: TriageRequest): string {
  return digest(`${request.host}|${request.port}/${request.protocol}|${request.from ?? ''}`).slice(0, 32);
}
