import { execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.ts';
import { buildCommand, maxArgLength, quoteArg, validateArg } from '../../src/remote/quote.ts';
import { renderRemoteCommand, renderStoppableCommand } from '../../src/remote/remote-command.ts';
import { nastyStrings } from './helpers/nasty-strings.ts';

/** Runs the built command through a real shell with printf NUL-separating each argument it receives. */
function roundTrip(shell: string, args: string[]): string[] {
  const out = execFileSync(shell, ['-c', ['printf', '%s\\0', ...args].map(quoteArg).join(' ')]);
  const parts = out.toString('utf8').split('\0');
  parts.pop();
  return parts;
}

describe('quoteArg / buildCommand', () => {
  it.each(['sh', 'bash', 'dash'])('round-trips hostile strings unchanged through a real %s -c', (shell) => {
    expect(roundTrip(shell, nastyStrings)).toEqual(nastyStrings);
  });

  it.each(['sh', 'bash'])('buildCommand round-trips every string validateArg accepts through %s -c', (shell) => {
    const accepted = nastyStrings.filter((s) => { try { validateArg(s); return true; } catch { return false; } });
    expect(accepted.length).toBeGreaterThan(30);
    const out = execFileSync(shell, ['-c', buildCommand(['printf', '%s\\0', ...accepted])]).toString('utf8').split('\0');
    out.pop();
    expect(out).toEqual(accepted);
  });

  it('quoteArg refuses NUL, which no shell word can carry', () => {
    expect(() => quoteArg('a\u0000b')).toThrow(expect.objectContaining({ code: ErrorCode.UnsafeArgument }));
  });

  it('single-quotes every argument, escaping embedded quotes', () => {
    expect(quoteArg('plain')).toBe(`'plain'`);
    expect(quoteArg(`it's`)).toBe(`'it'\\''s'`);
    expect(buildCommand(['echo', 'a b'])).toBe(`'echo' 'a b'`);
  });

  it('does not run injected commands', () => {
    const out = execFileSync('sh', ['-c', buildCommand(['echo', '$(echo INJECTED)', '`echo INJECTED`', ';echo INJECTED'])]).toString();
    expect(out).toBe('$(echo INJECTED) `echo INJECTED` ;echo INJECTED\n');
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb'],
    ['carriage return', 'a\rb'],
    ['tab', 'a\tb'],
    ['escape', '\u001b[31m'],
    ['DEL', 'a\u007fb'],
    ['C1 control', 'a\u0085b'],
    ['line separator', 'a\u2028b'],
    ['lone high surrogate', 'a\ud800b'],
    ['lone low surrogate', '\udc00'],
    ['too long', 'x'.repeat(maxArgLength + 1)],
  ])('rejects %s', (_label, value) => {
    expect(() => validateArg(value)).toThrow(expect.objectContaining({ code: ErrorCode.UnsafeArgument }));
    expect(() => buildCommand(['echo', value])).toThrow(expect.objectContaining({ code: ErrorCode.UnsafeArgument }));
  });

  it('accepts an argument exactly at the length limit', () => {
    expect(() => validateArg('x'.repeat(maxArgLength))).not.toThrow();
  });

  it('rejects an empty argv and non-string arguments', () => {
    expect(() => buildCommand([])).toThrow(expect.objectContaining({ code: ErrorCode.UnsafeArgument }));
    expect(() => buildCommand(['echo', 42 as unknown as string])).toThrow(expect.objectContaining({ code: ErrorCode.UnsafeArgument }));
  });
});

describe('renderRemoteCommand', () => {
  it('wraps the argv in a remote timeout', () => {
    expect(renderRemoteCommand({ argv: ['ss', '-Hltn'], timeoutMs: 5000 }, { sudo: true }))
      .toBe(`'timeout' '-k' '2' '5' 'ss' '-Hltn'`);
  });

  it('puts sudo -n inside the timeout for privileged commands on sudo hosts', () => {
    expect(renderRemoteCommand({ argv: ['ss', '-Hltnp'], sudo: true, timeoutMs: 1500 }, { sudo: true }))
      .toBe(`'timeout' '-k' '2' '1.5' 'sudo' '-n' '--' 'ss' '-Hltnp'`);
  });

  it('omits sudo when the host logs in as root', () => {
    expect(renderRemoteCommand({ argv: ['ss'], sudo: true, timeoutMs: 250 }, { sudo: false }))
      .toBe(`'timeout' '-k' '2' '0.25' 'ss'`);
  });

  it('runs the rendered command for real: the remote timeout fires', () => {
    const cmd = renderRemoteCommand({ argv: ['sleep', '5'], timeoutMs: 100 }, { sudo: false });
    let status: number | null = null;
    try { execFileSync('sh', ['-c', cmd]); } catch (err) { status = (err as { status: number | null }).status; }
    expect(status).toBe(124);
  });

  it.each([
    ['zero timeout', { argv: ['true'], timeoutMs: 0 }],
    ['fractional timeout', { argv: ['true'], timeoutMs: 1.5 }],
    ['huge timeout', { argv: ['true'], timeoutMs: 24 * 3600 * 1000 }],
    ['empty argv', { argv: [], timeoutMs: 1000 }],
    ['negative output cap', { argv: ['true'], timeoutMs: 1000, maxOutputBytes: -1 }],
    ['control character in argv', { argv: ['echo', 'a\nrm -rf /'], timeoutMs: 1000 }],
  ])('rejects %s', (_label, cmd) => {
    expect(() => renderRemoteCommand(cmd, { sudo: false })).toThrow(expect.objectContaining({ code: ErrorCode.UnsafeArgument }));
  });
});

/** Runs an exec string under a real shell with a stdin pipe; `endInput` decides when stdin gets EOF. */
function runWithInput(shell: string, command: string, endInput: (stdin: NodeJS.WritableStream, stdout: NodeJS.ReadableStream) => void): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(shell, ['-c', command], { stdio: ['pipe', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
    endInput(child.stdin, child.stdout);
  });
}

describe('renderStoppableCommand', () => {
  // `printf ready; exec sleep` announces itself, so EOF is sent only once the command really runs.
  const longRunning = { argv: ['sh', '-c', 'echo ready; exec sleep 30'], timeoutMs: 60_000 };
  const onceReady = (stdin: NodeJS.WritableStream, stdout: NodeJS.ReadableStream): void => {
    stdout.once('data', () => stdin.end());
  };

  it.each(['sh', 'bash', 'dash'])('ends the command with TERM when stdin reaches EOF, under %s', async (shell) => {
    const { code, stdout } = await runWithInput(shell, renderStoppableCommand(longRunning, { sudo: false }), onceReady);
    expect(stdout).toBe('ready\n');
    // 143 = 128 + TERM, relayed by `timeout`; its own deadline would give 124.
    expect(code).toBe(143);
  });

  it('passes on the exit status of a command that ends by itself, stdin still open', async () => {
    const cmd = renderStoppableCommand({ argv: ['sh', '-c', 'exit 7'], timeoutMs: 5000 }, { sudo: false });
    let input: NodeJS.WritableStream | undefined;
    const { code } = await runWithInput('sh', cmd, (stdin) => { input = stdin; });
    input?.end();
    expect(code).toBe(7);
  });

  it('still honours the remote timeout when nobody ends the input', async () => {
    const cmd = renderStoppableCommand({ argv: ['sleep', '5'], timeoutMs: 100 }, { sudo: false });
    let input: NodeJS.WritableStream | undefined;
    const { code } = await runWithInput('sh', cmd, (stdin) => { input = stdin; });
    input?.end();
    expect(code).toBe(124);
  });

  it('quotes the command like renderRemoteCommand and adds only the fixed template around it', () => {
    const inner = renderRemoteCommand({ argv: ['tcpdump', '-c', '1', "x'; reboot"], sudo: true, timeoutMs: 1000 }, { sudo: true });
    const outer = renderStoppableCommand({ argv: ['tcpdump', '-c', '1', "x'; reboot"], sudo: true, timeoutMs: 1000 }, { sudo: true });
    expect(outer.replace(inner, 'CMD')).toBe('exec 3<&0; CMD & p=$!; (read -r _ <&3; kill $p 2>/dev/null) & w=$!; wait $p; c=$?; kill $w 2>/dev/null; exit $c');
  });
});
