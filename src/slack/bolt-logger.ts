import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../log/create-logger.ts';

/** Bolt wants its own Logger interface; route it into our pino logger (with redaction). */
export function boltLoggerFrom(log: Logger): BoltLogger {
  const child = log.child({ component: 'bolt' });
  const text = (args: unknown[]): string => args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(' ');
  return {
    debug: (...args: unknown[]) => child.debug(text(args)),
    info: (...args: unknown[]) => child.info(text(args)),
    warn: (...args: unknown[]) => child.warn(text(args)),
    error: (...args: unknown[]) => child.error(text(args)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}
