import type { Logger } from '../log/create-logger.ts';

export interface CliIo {
  stdout: { write(chunk: string): unknown; isTTY?: boolean };
  stderr: { write(chunk: string): unknown; isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
  log: Logger;
  /** Aborted on SIGINT/SIGTERM so long-running commands can clean up. */
  signal: AbortSignal;
}

export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  /** Returns the process exit code. Throw a WhyBlockedError for failures; main maps it to a code. */
  run(args: string[], io: CliIo): Promise<number>;
}
