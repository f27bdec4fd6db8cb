import { usageError } from '../../errors.ts';

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'check'; host: string; port: number; protocol: 'tcp'; from?: string };

export const maxCommandLength = 200;

// Slack sends text as typed (with &, <, > HTML-escaped). None of these belongs in a host or a port,
// and rejecting them early keeps anything shell-like out of logs, jobs and remote commands.
const shellMeta = /[;&|`$<>(){}[\]\\'"*?!#~^%=,@+]/;
// Includes DEL and the C1 range; U+2028/2029 break log lines too.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const control = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const hostToken = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$|^[0-9A-Fa-f:.]{2,45}$/;
const portToken = /^(\d{1,5})(?:\/([A-Za-z]+))?$/;

/**
 * Syntax only (no inventory): `<host> <port>[/tcp] [from <host|ip>]` or `help`.
 * Throws a Usage WhyBlockedError whose message says what to change.
 */
export function parseCommand(text: string): ParsedCommand {
  if (text.length > maxCommandLength) {
    throw usageError(`That command is ${text.length} characters long; the limit is ${maxCommandLength}.`);
  }
  if (control.test(text)) throw usageError('The command contains control characters (a newline or tab?). Put it on one line.');
  const tokens = text.trim().split(/ +/).filter(Boolean);
  if (tokens.length === 0) throw usageError('Tell me which host and port to check.');
  if (tokens.length === 1 && tokens[0]?.toLowerCase() === 'help') return { kind: 'help' };
  const bad = tokens.find((t) => shellMeta.test(t));
  if (bad !== undefined) {
    throw usageError(`"${bad.slice(0, 40)}" contains characters that are not allowed in a host or port (only letters, digits, ".", "-", "_" and ":" are).`);
  }
  const [host = '', portWord, fromWord, fromHost, ...extra] = tokens;
  const hostPort = /^([A-Za-z0-9][A-Za-z0-9._-]*):(\d{1,5})$/.exec(host);
  if (portWord === undefined && hostPort) throw usageError(`Write the port separately: \`/why-blocked ${hostPort[1]} ${hostPort[2]}\`.`);
  if (!hostToken.test(host)) throw usageError(`"${host.slice(0, 60)}" is not a host name or address.`);
  if (portWord === undefined) {
    throw usageError(`Which port on ${host}? For example \`/why-blocked ${host} 22\`.`);
  }
  const port = portToken.exec(portWord);
  if (!port) throw usageError(`"${portWord.slice(0, 40)}" is not a port: use a number from 1 to 65535, optionally followed by /tcp.`);
  const [, digits = '', proto] = port;
  if (proto !== undefined && proto.toLowerCase() !== 'tcp') throw usageError(`Only TCP is supported; "${proto}" is not.`);
  const portNumber = Number(digits);
  if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535 || (digits.length > 1 && digits.startsWith('0'))) {
    throw usageError(`Port "${digits}" is out of range: use a number from 1 to 65535.`);
  }
  if (fromWord === undefined) return { kind: 'check', host, port: portNumber, protocol: 'tcp' };
  if (fromWord.toLowerCase() !== 'from') {
    throw usageError(`Unexpected "${fromWord.slice(0, 40)}" after the port: the only option is \`from <host|ip>\`.`);
  }
  if (fromHost === undefined) throw usageError('"from" needs a host or IP address after it.');
  if (!hostToken.test(fromHost)) throw usageError(`"${fromHost.slice(0, 60)}" is not a host name or address.`);
  if (extra.length > 0) throw usageError(`Unexpected "${extra.join(' ').slice(0, 40)}" at the end of the command.`);
  return { kind: 'check', host, port: portNumber, protocol: 'tcp', from: fromHost };
}
