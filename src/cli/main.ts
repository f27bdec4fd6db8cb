import { asWhyBlockedError, exitCodeFor, ErrorCode, usageError } from '../errors.ts';
import { createLogger } from '../log/create-logger.ts';
import { loadEnvFile } from '../config/load-env-file.ts';
import type { CliCommand, CliIo } from './cli-command.ts';
import { commands as defaultCommands } from './commands.ts';

export function renderHelp(commands: CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `why-blocked: find out why host:port is blocked, prove it, and fix it safely.\n\nUsage: why-blocked <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun \`why-blocked <command> --help\` for a command's options.\n`;
}

/** Dispatches argv to a subcommand and turns any failure into a message plus an exit code. */
export async function runCli(argv: string[], io: CliIo, commands: CliCommand[] = defaultCommands): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? io.stderr : io.stdout).write(renderHelp(commands));
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`why-blocked: unknown command "${name}".\n\n${renderHelp(commands)}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    // node:util parseArgs reports bad flags as TypeErrors; to the user they are usage mistakes.
    const e = isParseArgsError(err) ? usageError((err as Error).message) : asWhyBlockedError(err);
    io.stderr.write(`why-blocked ${name}: ${e.message}\n`);
    if (e.code === ErrorCode.Usage) io.stderr.write(`\n${command.usage}\n`);
    if (e.code === ErrorCode.Unknown) io.log.debug({ err }, 'unexpected failure');
    return exitCodeFor(e);
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

export async function main(): Promise<void> {
  loadEnvFile(process.env, process.cwd());
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error(`received ${sig}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const format = process.env.LOG_FORMAT === 'json' || (!process.stderr.isTTY && process.env.LOG_FORMAT !== 'pretty') ? 'json' : 'pretty';
  const log = createLogger({ level: (process.env.LOG_LEVEL as 'info' | undefined) ?? 'warn', format });
  const code = await runCli(process.argv.slice(2), {
    stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), log, signal: controller.signal,
  });
  process.exitCode = code;
}
