import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A long-lived helper process spoken to one line at a time: each request line gets one reply line. */
export interface LineProcess {
  request(line: string): Promise<string>;
  /** Next line the process prints on its own (e.g. a "ready" banner). */
  nextLine(): Promise<string>;
  close(): Promise<void>;
}

export function startLineProcess(argv: readonly string[]): LineProcess {
  const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<(line: string) => void> = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  child.stdin.on('error', () => undefined);
  lines.on('line', (line) => waiting.shift()?.(line));
  child.on('close', () => {
    for (const resolve of waiting.splice(0)) resolve(`error ${argv.join(' ')} exited: ${stderr.trim()}`);
  });
  const nextLine = (): Promise<string> => new Promise((resolve) => {
    if (child.exitCode !== null) resolve(`error ${argv.join(' ')} exited: ${stderr.trim()}`);
    else waiting.push(resolve);
  });
  return {
    request(line) {
      const reply = nextLine();
      child.stdin.write(`${line}\n`);
      return reply;
    },
    nextLine,
    async close() {
      child.stdin.end();
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) resolve();
        else child.on('close', () => resolve());
      });
    },
  };
}
