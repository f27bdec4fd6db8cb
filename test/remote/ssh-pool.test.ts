import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { ErrorCode } from '../../src/errors.ts';
import { createLogger, silentLogger } from '../../src/log/create-logger.ts';
import { createSshExecutor } from '../../src/remote/ssh-executor.ts';
import { SshPool } from '../../src/remote/ssh-pool.ts';
import { describeLab } from '../helpers/lab-gate.ts';
import { nastyStrings } from './helpers/nasty-strings.ts';
import { createSshLab, type SshLab } from './helpers/ssh-lab.ts';
import { inventoryHost, type Sshd } from './helpers/sshd-lab.ts';
import type { InventoryHost } from '../../src/config/inventory-types.ts';
import { validateArg } from '../../src/remote/quote.ts';

const noJump = (name: string): InventoryHost => { throw new Error(`unexpected jump ${name}`); };
const whoConnects = { argv: ['sh', '-c', 'echo "$SSH_CONNECTION"'], timeoutMs: 5000 };

describeLab('SshPool against a real sshd', () => {
  let lab: SshLab;
  let sshd: Sshd;
  let host: InventoryHost;
  let rootHost: InventoryHost;
  let user: string;
  const pools: SshPool[] = [];
  const newPool = (opts: Partial<ConstructorParameters<typeof SshPool>[0]> = {}) => {
    const pool = new SshPool({ logger: silentLogger(), resolveJump: noJump, ...opts });
    pools.push(pool);
    return pool;
  };

  beforeAll(async () => {
    lab = createSshLab('pool');
    sshd = await lab.start('target');
    user = lab.createUser();
    host = inventoryHost('target', sshd.port, { user, privateKey: lab.clientKey, hostKeys: [sshd.hostKey] });
    rootHost = inventoryHost('target-root', sshd.port, { privateKey: lab.clientKey, hostKeys: [sshd.hostKey] });
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await lab?.teardown();
  });

  it('returns exit code, stdout and stderr of the remote command', async () => {
    const pool = newPool();
    const r = await pool.exec(host, { argv: ['sh', '-c', 'echo out; echo err >&2; exit 3'], timeoutMs: 5000 });
    expect(r).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n', truncated: false, timedOut: false });
    const ok = await pool.exec(host, { argv: ['true'], timeoutMs: 5000 });
    expect(ok.code).toBe(0);
  });

  it('reports a command killed by a signal', async () => {
    // bash (root's login shell) execs the last command, so the signal reaches sshd as exit-signal;
    // dash would turn it into exit status 143.
    const r = await newPool().exec(rootHost, { argv: ['sh', '-c', 'kill -TERM $$'], timeoutMs: 30_000 });
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGTERM');
  });

  it.each([
    ['dash', () => host],
    ['bash', () => rootHost],
  ])('round-trips hostile arguments through the real remote login shell (%s)', async (shell, target) => {
    const args = nastyStrings.filter((s) => { try { validateArg(s); return true; } catch { return false; } });
    const pool = newPool();
    const r = await pool.exec(target(), { argv: ['printf', '%s\\0', ...args], timeoutMs: 30_000 });
    const parts = r.stdout.split('\0');
    parts.pop();
    expect(parts).toEqual(args);
    // sshd runs the exec string with the account's login shell; make sure it is the one named.
    const passwd = execFileSync('getent', ['passwd', target().ssh.user]).toString().trim();
    expect(passwd.endsWith(shell === 'bash' ? '/bin/bash' : '/bin/sh')).toBe(true);
  });

  it('never runs injected text', async () => {
    const marker = join(lab.dir, user, 'injected');
    // Control: the same path is writable by that user, so the assertion below can fail.
    await newPool().exec(host, { argv: ['touch', `${marker}-control`], timeoutMs: 5000 });
    expect(readFileSync(`${marker}-control`, 'utf8')).toBe('');
    const r = await newPool().exec(host, { argv: ['echo', `$(touch ${marker})`, `;touch ${marker}`, `\`touch ${marker}\``], timeoutMs: 5000 });
    expect(r.code).toBe(0);
    expect(() => readFileSync(marker)).toThrow();
  });

  it('shares one connection and never opens more than 8 channels at once', async () => {
    const pool = newPool();
    const log = join(lab.dir, user, 'concurrency.log');
    const script = `echo + >> ${log}; sleep 1; echo - >> ${log}; echo "$SSH_CONNECTION"`;
    const results = await Promise.all(Array.from({ length: 20 }, () => pool.exec(host, { argv: ['sh', '-c', script], timeoutMs: 30_000 })));
    expect(results.map((r) => r.code)).toEqual(Array(20).fill(0));
    // One TCP connection: every session saw the same client port.
    expect(new Set(results.map((r) => r.stdout)).size).toBe(1);
    // Concurrency as the server saw it, from the order of start/end marks.
    let running = 0;
    let max = 0;
    for (const mark of readFileSync(log, 'utf8').trim().split('\n')) {
      running += mark === '+' ? 1 : -1;
      max = Math.max(max, running);
    }
    expect(max).toBeLessThanOrEqual(8);
    expect(max).toBeGreaterThan(1);
    const stats = pool.stats();
    expect(stats.openConnections).toBe(1);
    expect(stats.connections[0]!.peakChannelsInUse).toBe(8);
    expect(stats.channelsInUse).toBe(0);
  });

  it('remote timeout -k stops a command that overruns (exit 124)', async () => {
    const r = await newPool().exec(host, { argv: ['sleep', '30'], timeoutMs: 300 });
    expect(r.code).toBe(124);
    expect(r.timedOut).toBe(true);
  });

  it('local timeout closes the channel when the remote side does not end it', async () => {
    // The setsid child escapes timeout's process group and keeps stdout open, so sshd never closes the channel.
    const pool = newPool({ localGraceMs: 0 });
    const r = await pool.exec(host, { argv: ['sh', '-c', 'setsid sleep 30 & echo started'], timeoutMs: 200 });
    expect(r.timedOut).toBe(true);
    expect(r.stdout).toBe('started\n');
    expect(pool.stats().channelsInUse).toBe(0);
  });

  it('local timeout still returns when the link goes dead, and drops that connection', async () => {
    // A loopback relay we can freeze: afterwards no byte passes in either direction.
    const sockets: Socket[] = [];
    let frozen = false;
    const relay = createServer((down) => {
      const up = connect(sshd.port, '127.0.0.1');
      sockets.push(down, up);
      down.on('data', (d: Buffer) => { if (!frozen) up.write(d); });
      up.on('data', (d: Buffer) => { if (!frozen) down.write(d); });
      down.on('error', () => undefined);
      up.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const viaRelay = { ...host, ssh: { ...host.ssh, port: (relay.address() as { port: number }).port } };
      const pool = newPool({ localGraceMs: 0 });
      expect((await pool.exec(viaRelay, { argv: ['true'], timeoutMs: 5000 })).code).toBe(0);
      frozen = true;
      const r = await pool.exec(viaRelay, { argv: ['sleep', '30'], timeoutMs: 200 });
      expect(r.timedOut).toBe(true);
      expect(r.code).toBeNull();
      await vi.waitFor(() => expect(pool.stats().openConnections).toBe(0));
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('caps output, marks it truncated and frees the channel', async () => {
    const pool = newPool();
    const r = await pool.exec(host, { argv: ['head', '-c', '50000000', '/dev/zero'], timeoutMs: 20_000, maxOutputBytes: 1000 });
    expect(r.truncated).toBe(true);
    expect(Buffer.byteLength(r.stdout)).toBe(1000);
    const after = await pool.exec(host, { argv: ['echo', 'still usable'], timeoutMs: 5000 });
    expect(after.stdout).toBe('still usable\n');
  });

  it.each([['an unprivileged login', 'user'], ['a root login, whose channel signals sshd ignores', 'root']] as const)(
    'stop() ends a streamed command on %s, and the host confirms the end', async (_label, who) => {
      const pool = newPool();
      const target = who === 'root' ? rootHost : host;
      const stream = await pool.stream(target, { argv: ['sh', '-c', 'echo "listening on lo" >&2; echo line1; exec sleep 30'], timeoutMs: 30_000 },
        { readyPattern: /^listening on /m });
      await stream.ready;
      expect(await stream.waitForStdout((l) => l.includes('line1'), 5000)).toBe(true);
      const result = await stream.stop();
      // A close the host never confirmed would carry no exit status; 143 is the TERM the template sent.
      expect(result.code).toBe(143);
      expect(result.stdout).toBe('line1\n');
      await vi.waitFor(() => expect(pool.stats().channelsInUse).toBe(0));
    });

  it('retries a session the server refused (MaxSessions full) once a slot frees, and never runs it twice', async () => {
    const small = await lab.start('small', { maxSessions: 2 });
    const smallHost = inventoryHost('small', small.port, { user, privateKey: lab.clientKey, hostKeys: [small.hostKey] });
    const pool = newPool({ maxChannelsPerConnection: 4 });
    const marker = `/tmp/wb-refused-${process.pid}`;
    const runs = Array.from({ length: 3 }, (_, i) => pool.exec(smallHost, { argv: ['sh', '-c', `echo ${i} >> ${marker}; sleep 0.4; echo done ${i}`], timeoutMs: 5000 }));
    const results = await Promise.all(runs);
    expect(results.map((r) => r.stdout)).toEqual(['done 0\n', 'done 1\n', 'done 2\n']);
    const started = execFileSync('cat', [marker], { encoding: 'utf8' }).trim().split('\n').sort();
    execFileSync('rm', ['-f', marker]);
    expect(started).toEqual(['0', '1', '2']);
    // The server did refuse sessions: the pool waited for one to free instead of failing.
    expect(small.log()).toMatch(/no more sessions/);
  });

  it('aborts a running command through its AbortSignal', async () => {
    const pool = newPool();
    const ac = new AbortController();
    const p = pool.exec(host, { argv: ['sleep', '5'], timeoutMs: 10_000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('triage cancelled')), 100);
    await expect(p).rejects.toThrow('triage cancelled');
    await vi.waitFor(() => expect(pool.stats().channelsInUse).toBe(0));
  });

  it('closes an idle connection after the TTL and reconnects lazily', async () => {
    const pool = newPool({ idleTtlMs: 150 });
    const first = await pool.exec(host, whoConnects);
    expect(pool.stats().openConnections).toBe(1);
    await vi.waitFor(() => expect(pool.stats().openConnections).toBe(0), { timeout: 5000 });
    const second = await pool.exec(host, whoConnects);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toBe(first.stdout);
  });

  it('drops a connection the server killed and reconnects on the next exec', async () => {
    const pool = newPool();
    const first = await pool.exec(host, whoConnects);
    // Walk up from the command to the per-connection sshd process and kill it.
    const killSession = 'p=$$; while [ "$(ps -o comm= -p "$p")" != sshd ]; do p=$(ps -o ppid= -p "$p" | tr -d " "); done; kill -9 "$p"';
    await expect(pool.exec(host, { argv: ['sh', '-c', killSession], timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: ErrorCode.SshConnectFailed });
    await vi.waitFor(() => expect(pool.stats().openConnections).toBe(0));
    const again = await pool.exec(host, whoConnects);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toBe(first.stdout);
  });

  it('fresh: true runs on a new connection and closes it', async () => {
    const pool = newPool();
    const pooled = await pool.exec(host, whoConnects);
    const fresh = await pool.exec(host, whoConnects, { fresh: true });
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).not.toBe(pooled.stdout);
    expect(pool.stats()).toMatchObject({ openConnections: 1, freshConnections: 0 });
    const conn = await pool.connectFresh(host);
    expect(pool.stats().freshConnections).toBe(1);
    expect((await conn.exec(whoConnects)).stdout).not.toBe(pooled.stdout);
    await conn.close();
    expect(pool.stats().freshConnections).toBe(0);
  });

  it('Executor bound to a host runs through the pool', async () => {
    const pool = newPool();
    const ex = createSshExecutor(pool, host);
    expect(ex).toMatchObject({ kind: 'ssh', target: 'target' });
    const r = await ex.exec({ argv: ['id', '-un'], timeoutMs: 5000 });
    expect(r.stdout).toBe(`${user}\n`);
  });

  it('logs through the injected logger with the host bound', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const pool = newPool({ logger: createLogger({ level: 'debug', destination: sink }) });
    await pool.exec(host, { argv: ['true'], timeoutMs: 5000 });
    const finished = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'remote command finished');
    expect(finished).toMatchObject({ host: 'target', argv0: 'true', code: 0 });
  });

  it('refuses to work after close()', async () => {
    const pool = newPool();
    await pool.exec(host, { argv: ['true'], timeoutMs: 5000 });
    await pool.close();
    expect(pool.stats().openConnections).toBe(0);
    await expect(pool.exec(host, { argv: ['true'], timeoutMs: 5000 })).rejects.toMatchObject({ code: ErrorCode.SshConnectFailed });
  });

  it('leaves no sockets behind once every pool is closed', async () => {
    const pool = newPool();
    await Promise.all([pool.exec(host, whoConnects), pool.exec(host, whoConnects, { fresh: true })]);
    expect(process.getActiveResourcesInfo()).toContain('TCPSocketWrap');
    await Promise.all(pools.map((p) => p.close()));
    expect(process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPWRAP')).toEqual([]);
  });
});
