import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger };

/** Paths whose values must never reach a log line, whatever object they arrive in. */
export const redactPaths = [
  'privateKey', '*.privateKey', '*.*.privateKey',
  'passphrase', '*.passphrase',
  'password', '*.password',
  'token', '*.token', '*.*.token',
  'botToken', '*.botToken', 'appToken', '*.appToken', 'signingSecret', '*.signingSecret',
  'SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET', '*.SLACK_BOT_TOKEN', '*.SLACK_APP_TOKEN', '*.SLACK_SIGNING_SECRET',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'redisUrl', '*.redisUrl',
];

export interface CreateLoggerOptions {
  level?: LevelWithSilent;
  /** `pretty` for humans on a terminal, `json` for production. */
  format?: 'json' | 'pretty';
  destination?: DestinationStream;
  name?: string;
}

/** The one root logger. Everything else gets it injected and narrows it with `child()`. */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const base = {
    name: options.name ?? 'why-blocked',
    level: options.level ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
  };
  if (options.destination) return pino(base, options.destination);
  if (options.format === 'pretty') {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  // stderr, so that stdout stays reserved for command output (`--json` must be parseable).
  return pino(base, pino.destination(2));
}

/** A logger that discards everything: for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
