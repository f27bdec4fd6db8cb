import { describe, expect, it } from 'vitest';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function restrictedImportErrors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the purity boundary', () => {
  it.each([
    "import { readFileSync } from 'node:fs';",
    "import { connect } from 'node:net';",
    "import { execFile } from 'node:child_process';",
    "import { Client } from 'ssh2';",
    "import { Redis } from 'ioredis';",
    "import { Queue } from 'bullmq';",
    "import { App } from '@slack/bolt';",
    "import { SshPool } from '../remote/ssh-pool.ts';",
  ])('rejects %s in src/analyzer and src/triage', async (line) => {
    for (const file of ['src/analyzer/example.ts', 'src/triage/example.ts']) {
      const errors = await restrictedImportErrors(`${line}\nexport const x = 1;\n`, `${root}${file}`);
      expect(errors.length, `${file}: ${line}`).toBe(1);
    }
  });

  it('allows the same imports elsewhere, and pure imports in the analyzer', async () => {
    expect(await restrictedImportErrors("import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", `${root}src/remote/example.ts`)).toEqual([]);
    expect(await restrictedImportErrors("import { isIP } from './ip-address.ts';\nexport const x = isIP;\n", `${root}src/analyzer/example.ts`)).toEqual([]);
  });
});
