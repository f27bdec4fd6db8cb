import type { TriageRequest } from '../../queue/job-schemas.ts';
import { escapeMrkdwn } from './block-kit.ts';

/** "*web01* 23/tcp from *client1*": the same wording in every message about one request. */
export function describeRequest(request: TriageRequest): string {
  const from = request.from ? ` from *${escapeMrkdwn(request.from)}*` : '';
  return `*${escapeMrkdwn(request.host)}* ${request.port}/${request.protocol}${from}`;
}
