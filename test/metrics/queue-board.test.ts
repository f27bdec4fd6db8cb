import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { basicAuthMatches, createQueueBoard } from '../../src/metrics/index.ts';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../slack/helpers/redis-test-prefix.ts';

const credentials = { user: 'ops', password: 'correct-horse-battery-staple' };
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('the read-only queue board', () => {
  const prefix = uniquePrefix('board');
  const name = 'why-blocked.triage';
  let queue: Queue;
  let server: Server;
  let base = '';

  beforeAll(async () => {
    queue = new Queue(name, { connection: { url: testRedisUrl }, prefix });
    const worker = new Worker(name, async () => { throw new UnrecoverableError('probe host unreachable'); }, { connection: { url: testRedisUrl }, prefix });
    const failed = new Promise<void>((resolve) => worker.once('failed', () => resolve()));
    await queue.add('triage', { triageId: 'tri-board' }, { jobId: 'tri-board' });
    await failed;
    await worker.close();
    await queue.add('triage', { triageId: 'tri-waiting' }, { jobId: 'tri-waiting', delay: 3_600_000 });
    const board = createQueueBoard({ queues: [queue], credentials });
    server = createServer((req, res) => { if (!board(req, res)) res.writeHead(418).end(); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    await queue.close();
    await deletePrefix(prefix);
  });

  it.each([
    ['no credentials', undefined],
    ['a wrong password', basic('ops', 'correct-horse-battery-stapl')],
    ['a wrong user', basic('admin', credentials.password)],
    ['both halves swapped', basic(credentials.password, 'ops')],
    ['a bearer token', 'Bearer correct-horse-battery-staple'],
    ['garbage', 'Basic !!!'],
  ])('answers 401 with a basic-auth challenge for %s', async (_n, authorization) => {
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      const res = await fetch(`${base}${path}`, { headers: authorization ? { authorization } : {} });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect(await res.text()).not.toContain('tri-board');
    }
  });

  it('serves the UI and the queue API with the right credentials, every queue read-only', async () => {
    const headers = { authorization: basic(credentials.user, credentials.password) };
    const ui = await fetch(`${base}/admin/queues`, { headers });
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-type')).toContain('text/html');
    const api = await fetch(`${base}/admin/queues/api/queues?activeQueue=${encodeURIComponent(name)}&status=failed`, { headers });
    expect(api.status).toBe(200);
    const body = (await api.json()) as { queues: Array<{ name: string; readOnlyMode: boolean; counts: Record<string, number> }> };
    expect(body.queues.map((q) => [q.name, q.readOnlyMode])).toEqual([[name, true]]);
    expect(body.queues[0]!.counts).toMatchObject({ failed: 1, delayed: 1 });
  });

  it('serves the static assets the UI page links to, behind the same auth', async () => {
    const headers = { authorization: basic(credentials.user, credentials.password) };
    const html = await (await fetch(`${base}/admin/queues`, { headers })).text();
    // The page sets <base href="/admin/queues/"> and links its assets relative to it.
    expect(html).toContain('<base href="/admin/queues/" />');
    const assets = [...html.matchAll(/(?:src|href)="(static\/[^"]+)"/g)].map((m) => `/admin/queues/${m[1]!}`);
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      expect((await fetch(`${base}${asset}`, { headers })).status, asset).toBe(200);
      expect((await fetch(`${base}${asset}`)).status, asset).toBe(401);
    }
  });

  it.each([
    ['PUT', `/api/queues/${encodeURIComponent(name)}/retry/failed`],
    ['PUT', `/api/queues/${encodeURIComponent(name)}/clean/failed`],
    ['PUT', `/api/queues/${encodeURIComponent(name)}/tri-board/retry`],
    ['PUT', `/api/queues/${encodeURIComponent(name)}/promote`],
    ['PUT', '/api/queues/pause'],
    ['POST', `/api/queues/${encodeURIComponent(name)}/add`],
    ['DELETE', `/api/queues/${encodeURIComponent(name)}/obliterate`],
  ])('refuses %s %s and leaves the queue as it was', async (method, path) => {
    const res = await fetch(`${base}/admin/queues${path}`, {
      method, headers: { authorization: basic(credentials.user, credentials.password), 'content-type': 'application/json' },
      body: method === 'POST' ? JSON.stringify({ name: 'x', data: {} }) : null,
    });
    expect(res.status).toBe(405);
    expect(await queue.getJobCounts('failed', 'delayed', 'waiting')).toEqual({ failed: 1, delayed: 1, waiting: 0 });
    expect(await queue.isPaused()).toBe(false);
    expect(await (await queue.getJob('tri-board'))?.getState()).toBe('failed');
  });

  it('leaves other paths to the next handler', async () => {
    expect((await fetch(`${base}/admin/queuesX`)).status).toBe(418);
    expect((await fetch(`${base}/metrics`)).status).toBe(418);
  });
});

describe('basicAuthMatches', () => {
  it.each([
    [basic('ops', 'correct-horse-battery-staple'), true],
    [`basic ${Buffer.from('ops:correct-horse-battery-staple').toString('base64')}`, true],
    [basic('ops', 'correct-horse-battery-staple:'), false],
    [basic('ops', ''), false],
    [basic('', ''), false],
    [`Basic ${Buffer.from('opscorrect-horse-battery-staple').toString('base64')}`, false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (header, expected) => {
    expect(basicAuthMatches(header, credentials)).toBe(expected);
  });
});
