import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.ts';
import { parseCommand } from '../../src/slack/commands/parse-command.ts';
import { resolveCommand } from '../../src/slack/commands/resolve-command.ts';
import { fakeResolveHost } from '../fake-slack/fake-triage-ports.ts';

describe('parseCommand', () => {
  const good: [string, ReturnType<typeof parseCommand>][] = [
    ['web01 23', { kind: 'check', host: 'web01', port: 23, protocol: 'tcp' }],
    ['  web01   23/tcp ', { kind: 'check', host: 'web01', port: 23, protocol: 'tcp' }],
    ['web01 23/TCP from client1', { kind: 'check', host: 'web01', port: 23, protocol: 'tcp', from: 'client1' }],
    ['10.0.0.5 65535 FROM 10.0.0.9', { kind: 'check', host: '10.0.0.5', port: 65535, protocol: 'tcp', from: '10.0.0.9' }],
    ['web01 1 from fd00::9', { kind: 'check', host: 'web01', port: 1, protocol: 'tcp', from: 'fd00::9' }],
    ['help', { kind: 'help' }],
    ['HELP', { kind: 'help' }],
  ];
  it.each(good)('parses %j', (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  const bad: [string, RegExp][] = [
    ['', /which host and port/],
    ['web01', /Which port/],
    ['web01:23', /port separately/],
    ['web01 0', /out of range/],
    ['web01 65536', /out of range/],
    ['web01 023', /out of range/],
    ['web01 -1', /not a port/],
    ['web01 telnet', /not a port/],
    ['web01 23/udp', /Only TCP/],
    ['web01 23 extra', /Unexpected "extra"/],
    ['web01 23 from', /needs a host/],
    ['web01 23 from client1 now', /Unexpected "now"/],
    ['web01; rm -rf / 23', /not allowed/],
    ['web01 23 $(id)', /not allowed/],
    ['`id` 23', /not allowed/],
    ['web01 23 | nc', /not allowed/],
    ['web01 23 &amp;&amp; reboot', /not allowed/],
    ["web01 '23'", /not allowed/],
    ['web01\n23', /control characters/],
    ['web01\t23', /control characters/],
    ['web01 23\u0000', /control characters/],
    ['-web01 23', /not a host/],
    ['web01 '.padEnd(201, 'x'), /limit is 200/],
  ];
  it.each(bad)('rejects %j', (text, message) => {
    let caught: unknown;
    try { parseCommand(text); } catch (err) { caught = err; }
    expect(caught).toMatchObject({ code: ErrorCode.Usage });
    expect((caught as Error).message).toMatch(message);
  });
});

describe('resolveCommand', () => {
  it('maps aliases to the inventory name and keeps an IP vantage', () => {
    const r = resolveCommand({ kind: 'check', host: 'web', port: 23, protocol: 'tcp', from: '10.1.2.3' }, fakeResolveHost);
    expect(r.request).toEqual({ host: 'web01', port: 23, protocol: 'tcp', from: '10.1.2.3' });
    expect(r.target.site).toBe('dc1');
  });

  it('suggests close matches for an unknown host', () => {
    expect(() => resolveCommand({ kind: 'check', host: 'web9', port: 23, protocol: 'tcp' }, fakeResolveHost)).toThrow(/not in the inventory\. Did you mean web01, web02\?/);
  });

  it('rejects a vantage that is neither an inventory host nor an IP', () => {
    expect(() => resolveCommand({ kind: 'check', host: 'web01', port: 23, protocol: 'tcp', from: 'laptop' }, fakeResolveHost)).toThrow(/neither an inventory host nor an IP/);
  });
});
