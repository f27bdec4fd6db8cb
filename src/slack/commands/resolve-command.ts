import { isIP } from 'node:net';
import { asWhyBlockedError, ErrorCode, usageError } from '../../errors.ts';
import type { InventoryHost } from '../../config/inventory-types.ts';
import type { TriageRequest } from '../../queue/job-schemas.ts';
import type { ResolveHost } from '../../queue/triage-ports.ts';
import type { ParsedCommand } from './parse-command.ts';

export interface ResolvedCommand {
  request: TriageRequest;
  target: InventoryHost;
}

function suggestionsOf(err: unknown): string[] {
  const s = asWhyBlockedError(err).details.suggestions;
  return Array.isArray(s) ? s.filter((x): x is string => typeof x === 'string') : [];
}

/** Maps the typed command onto the inventory; unknown names become a usage error with close matches. */
export function resolveCommand(parsed: Extract<ParsedCommand, { kind: 'check' }>, resolveHost: ResolveHost): ResolvedCommand {
  let target: InventoryHost;
  try {
    target = resolveHost(parsed.host);
  } catch (err) {
    const e = asWhyBlockedError(err);
    if (e.code !== ErrorCode.UnknownHost) throw e;
    const near = suggestionsOf(e);
    throw usageError(`"${parsed.host}" is not in the inventory.${near.length > 0 ? ` Did you mean ${near.slice(0, 5).join(', ')}?` : ''}`, { suggestions: near });
  }
  const request: TriageRequest = { host: target.name, port: parsed.port, protocol: 'tcp' };
  if (parsed.from !== undefined) {
    if (isIP(parsed.from) !== 0) {
      request.from = parsed.from;
    } else {
      try {
        request.from = resolveHost(parsed.from).name;
      } catch (err) {
        const near = suggestionsOf(err);
        throw usageError(`"from ${parsed.from}" is neither an inventory host nor an IP address.${near.length > 0 ? ` Did you mean ${near.slice(0, 5).join(', ')}?` : ''}`, { suggestions: near });
      }
    }
  }
  return { request, target };
}
