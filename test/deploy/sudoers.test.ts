import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sudoersSnippetPath } from '../../src/remote/index.ts';
import { renderRemoteCommand } from '../../src/remote/remote-command.ts';
import { forbiddenArgvs, privilegedCommands } from '../probes/privileged-commands.ts';
import { findMatch, oversizedRepetitions, parseSudoers } from './sudoers-rules.ts';

const file = fileURLToPath(new URL('../../deploy/host/why-blocked.sudoers', import.meta.url));
const text = readFileSync(file, 'utf8');
const rules = parseSudoers(text, 'whyblocked');

describe('deploy/host/why-blocked.sudoers', () => {
  it('is the file the sudo refusal message points operators to', () => {
    expect(sudoersSnippetPath).toBe('deploy/host/why-blocked.sudoers');
  });

  it('passes visudo -cf', () => {
    expect(execFileSync('visudo', ['-cf', file], { encoding: 'utf8' })).toMatch(/parsed OK/);
  });

  it('never grants a shell, an editor or a wildcard argument', () => {
    const rulesText = text.split('\n').filter((l) => !l.startsWith('#')).join('\n');
    expect(rulesText).not.toMatch(/\/(ba|da|z)?sh\b|\bvi\b|\bALL\s*$|NOPASSWD:\s*ALL/m);
    expect(rulesText).not.toMatch(/ \*|\*,/);
    // A command without arguments in sudoers means "with any arguments".
    expect(rules.specs.filter((s) => s.args === undefined).map((s) => s.path)).toEqual([]);
    expect(rules.specs.map((s) => s.path).filter((p) => /\/(ba|da|z)?sh$|\/env$|\/sudo(edit)?$/.test(p))).toEqual([]);
  });

  it('is parsed completely: every alias is granted, to the one user, with a secure_path', () => {
    expect(rules.specs.length).toBeGreaterThan(30);
    expect(new Set(rules.specs.map((s) => s.alias))).toEqual(new Set(rules.granted));
    expect(rules.securePath).toEqual(['/usr/sbin', '/usr/bin', '/sbin', '/bin']);
  });

  // sudo refuses to compile such a regex and then matches nothing, without any warning.
  it('uses no regex repetition count above 255', () => {
    expect(rules.specs.flatMap((s) => oversizedRepetitions(s).map((r) => `${s.alias} ${s.path} ${r}`))).toEqual([]);
  });

  it('allows every privileged command the probes and the apply path render', () => {
    const commands = privilegedCommands();
    expect(commands.length).toBeGreaterThan(80);
    const unmatched = commands.filter(({ cmd }) => findMatch(rules, cmd.argv) === undefined)
      .map(({ name, cmd }) => `${name}: ${renderRemoteCommand(cmd, { sudo: true }).slice(0, 200)}`);
    expect(unmatched).toEqual([]);
    // Rendered for a sudo host, sudo sees exactly that argv: `timeout … sudo -n -- argv…`, all quoted.
    for (const { cmd } of commands) expect(renderRemoteCommand(cmd, { sudo: true })).toMatch(/^'timeout' '-k' '2' '[\d.]+' 'sudo' '-n' '--' '/);
  });

  it.each(forbiddenArgvs.map((a) => [a.join(' '), a] as const))('refuses %s', (_name, argv) => {
    expect(findMatch(rules, argv)).toBeUndefined();
  });
});
