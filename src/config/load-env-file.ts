import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

/**
 * Reads `.env` from `dir` into `env` when the file exists. Variables already set win, so the
 * real environment (systemd, Kubernetes) always overrides a stray file.
 */
export function loadEnvFile(env: NodeJS.ProcessEnv, dir: string, fileName = '.env'): string[] {
  let text: string;
  try {
    text = readFileSync(join(dir, fileName), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const loaded: string[] = [];
  for (const [key, value] of Object.entries(parseEnv(text))) {
    if (env[key] === undefined) {
      env[key] = value;
      loaded.push(key);
    }
  }
  return loaded;
}
