import { spawn } from 'node:child_process';

export interface RunResult { stdout: string; stderr: string; code: number }

/** Runs argv (never a shell string), optionally feeding stdin; rejects on a non-zero exit unless `allowFail`. */
export function runCommand(argv: readonly string[], options: { input?: string; allowFail?: boolean } = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('runCommand needs a program');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    // Programs that never read stdin may exit first; the EPIPE that follows is not an error.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => {
      const result = { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code: code ?? -1 };
      if (result.code !== 0 && options.allowFail !== true) {
        reject(new Error(`${argv.join(' ')} exited ${result.code}: ${result.stderr.trim()}`));
      } else {
        resolve(result);
      }
    });
    child.stdin.end(options.input ?? '');
  });
}

/** argv prefix that runs a program inside a named network namespace. */
export function inNetns(ns: string, argv: readonly string[]): string[] {
  // nsenter only switches the network namespace, which is all iptables/nft/conntrack need, and it
  // is much cheaper than `ip netns exec` (no mount namespace, no sysfs remount) per packet.
  return ['nsenter', `--net=/run/netns/${ns}`, '--', ...argv];
}
