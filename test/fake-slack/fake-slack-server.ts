import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FakeWebSocket } from './fake-websocket.ts';

export interface RecordedCall {
  method: string;
  body: Record<string, unknown>;
  token?: string;
}

export interface RecordedResponse {
  path: string;
  body: Record<string, unknown>;
}

/**
 * A local stand-in for the Slack Web API (point SLACK_API_URL at `apiUrl`), response_url
 * (`responseUrl(id)`) and Socket Mode (apps.connections.open + a WebSocket). Answers like Slack.
 */
export class FakeSlackServer {
  readonly calls: RecordedCall[] = [];
  readonly responses: RecordedResponse[] = [];
  readonly sockets: FakeWebSocket[] = [];
  /** usergroups.users.list answers. */
  readonly usergroups = new Map<string, string[]>();
  /** method → Slack error code returned on the next N calls. */
  private readonly failures = new Map<string, { error: string; remaining: number }>();
  private server: Server | undefined;
  private tsCounter = 0;
  private readonly socketWaiters: ((ws: FakeWebSocket) => void)[] = [];

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    this.server.on('upgrade', (req, socket) => {
      const ws = FakeWebSocket.accept(req, socket);
      this.sockets.push(ws);
      ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'fake' }, connection_info: { app_id: 'AFAKE' } }));
      for (const w of this.socketWaiters.splice(0)) w(ws);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.close();
    await new Promise<void>((resolve) => { if (!this.server) { resolve(); return; } this.server.close(() => resolve()); this.server.closeAllConnections(); });
  }

  get port(): number {
    return (this.server?.address() as AddressInfo).port;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  responseUrl(id: string): string {
    return `http://127.0.0.1:${this.port}/response/${id}`;
  }

  failNext(method: string, error: string, times = 1): void {
    this.failures.set(method, { error, remaining: times });
  }

  callsTo(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  reset(): void {
    this.calls.length = 0;
    this.responses.length = 0;
  }

  /** Polls until `predicate` holds (tests wait for asynchronous Slack traffic this way). */
  async waitFor<T>(predicate: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = predicate();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`fake Slack: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  nextSocket(): Promise<FakeWebSocket> {
    return new Promise((resolve) => this.socketWaiters.push(resolve));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: Record<string, unknown> }> {
    const raw = await new Promise<string>((resolve) => {
      let data = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { data += c; });
      req.on('end', () => resolve(data));
    });
    const type = String(req.headers['content-type'] ?? '');
    const body = type.includes('json') ? (raw ? JSON.parse(raw) as Record<string, unknown> : {}) : parseForm(raw);
    const url = req.url ?? '';
    if (url.startsWith('/response/')) {
      this.responses.push({ path: url, body });
      return { status: 200, body: { ok: true } };
    }
    const method = url.replace(/^\/api\//, '').split('?')[0] ?? '';
    const auth = req.headers.authorization;
    this.calls.push({ method, body, ...(auth ? { token: auth.replace(/^Bearer /, '') } : {}) });
    const failure = this.failures.get(method);
    if (failure && failure.remaining > 0) {
      failure.remaining -= 1;
      return { status: 200, body: { ok: false, error: failure.error } };
    }
    return { status: 200, body: this.answer(method, body) };
  }

  private answer(method: string, body: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case 'auth.test':
        return { ok: true, user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1', user: 'why-blocked', team: 'test' };
      case 'chat.postMessage': {
        this.tsCounter += 1;
        const ts = `1700000000.${String(this.tsCounter).padStart(6, '0')}`;
        return { ok: true, channel: body.channel, ts, message: { text: body.text, ts } };
      }
      case 'chat.update':
        return { ok: true, channel: body.channel, ts: body.ts, text: body.text };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: `1700000001.${String(this.calls.length).padStart(6, '0')}` };
      case 'usergroups.users.list': {
        const users = this.usergroups.get(String(body.usergroup));
        return users ? { ok: true, users } : { ok: false, error: 'no_such_subteam' };
      }
      case 'apps.connections.open':
        return { ok: true, url: `ws://127.0.0.1:${this.port}/socket` };
      default:
        return { ok: true };
    }
  }
}

/** WebClient posts form bodies; nested values (blocks) arrive JSON-encoded. */
function parseForm(raw: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = (v.startsWith('[') || v.startsWith('{')) ? safeJson(v) : v;
  }
  return out;
}

function safeJson(v: string): unknown {
  try { return JSON.parse(v); } catch { return v; }
}
