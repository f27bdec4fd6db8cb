import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandOutput } from '../../src/probes/command-output.ts';

const dir = join(import.meta.dirname, '..', 'fixtures', 'probe-output');

export function fixture(name: string): string {
  return readFileSync(join(dir, name), 'utf8');
}

/** The capture script appends "exit N" to combined stdout+stderr; split it back into an output. */
export function connectFixture(name: string): CommandOutput {
  const text = fixture(name);
  const exit = /^exit (\d+)$/m.exec(text);
  const body = text.replace(/^exit \d+\n?$/m, '');
  const stdout = body.split('\n').filter((l) => /^(connected|after-connect|connect-failed|Connection to)/.test(l)).join('\n');
  const stderr = body.split('\n').filter((l) => l !== '' && !/^(connected|after-connect|connect-failed|Connection to)/.test(l)).join('\n');
  const code = exit ? Number(exit[1]) : 0;
  return { code, stdout, stderr, ...(code === 124 ? { timedOut: true } : {}) };
}
