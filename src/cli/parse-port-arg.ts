import { usageError } from '../errors.ts';

/** `23` or `23/tcp`; anything else is a usage error that names the value. */
export function parsePortArg(text: string): number {
  const m = /^(\d{1,5})(?:\/tcp)?$/i.exec(text);
  const port = m ? Number(m[1]) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError(`port must be an integer from 1 to 65535 (optionally with /tcp), got "${text}"`);
  }
  return port;
}
