import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log/create-logger.ts';

function sink(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { chunks.push(String(chunk)); cb(); } });
  return { stream, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('redacts secrets wherever they appear', () => {
    const s = sink();
    const log = createLogger({ destination: s.stream, level: 'info' });
    log.info({ ssh: { privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----' }, token: 'xoxb-secret', slack: { signingSecret: 'abc', botToken: 'xoxb-2' }, headers: { authorization: 'Bearer x' } }, 'hello');
    const text = JSON.stringify(s.lines()[0]);
    expect(text).not.toMatch(/BEGIN OPENSSH|xoxb-|Bearer|"abc"/);
    expect(text).toMatch(/\[redacted\]/);
  });

  it('carries host, job and probe through child loggers', () => {
    const s = sink();
    const log = createLogger({ destination: s.stream });
    log.child({ host: 'web01', jobId: 'j1' }).child({ probe: 'capture' }).warn('slow');
    expect(s.lines()[0]).toMatchObject({ host: 'web01', jobId: 'j1', probe: 'capture', msg: 'slow', name: 'why-blocked' });
  });
});
