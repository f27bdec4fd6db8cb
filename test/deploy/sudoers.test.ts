import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sudoersSnippetPath } from '../../src/remote/index.ts';

const file = fileURLToPath(new URL('../../deploy/host/why-blocked.sudoers', import.meta.url));

describe('deploy/host/why-blocked.sudoers', () => {
  it('is the file the sudo refusal message points operators to', () => {
    expect(sudoersSnippetPath).toBe('deploy/host/why-blocked.sudoers');
  });

  it('passes visudo -cf', () => {
    expect(execFileSync('visudo', ['-cf', file], { encoding: 'utf8' })).toMatch(/parsed OK/);
  });

  it('never grants a shell, an editor or a wildcard argument', () => {
    const rules = readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith('#'));
    const text = rules.join('\n');
    expect(text).not.toMatch(/\/(ba|da|z)?sh\b|\bvi\b|\bALL\s*$|NOPASSWD:\s*ALL/m);
    expect(text).not.toMatch(/ \*|\*,/);
  });
});
