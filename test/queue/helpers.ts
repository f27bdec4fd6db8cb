import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TriageStateStore, TriageState } from '../../src/queue/triage-state-store.ts';

const childScript = fileURLToPath(new URL('./fixtures/probe-worker-child.ts', import.meta.url));

export interface ChildWorker {
  child: ChildProcess;
  output: string[];
  waitForLine(prefix: string, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnProbeWorker(env: Record<string, string>): ChildWorker {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const output: string[] = [];
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    output.push(...lines);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    child, output, exited,
    waitForLine: async (prefix, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = output.find((l) => l.startsWith(prefix));
        if (line) return line;
        if (Date.now() > deadline) throw new Error(`child never printed ${prefix}; got ${output.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

export async function waitForTriage(state: TriageStateStore, triageId: string, done: (s: TriageState) => boolean, timeoutMs = 20_000): Promise<TriageState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await state.get(triageId);
    if (s && done(s)) return s;
    if (Date.now() > deadline) throw new Error(`triage ${triageId} did not reach the expected state: ${JSON.stringify(s?.status)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
