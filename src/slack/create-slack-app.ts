import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, SocketModeReceiver, webApi } from '@slack/bolt';
import type { Registry } from 'prom-client';
import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { Logger } from '../log/create-logger.ts';
import type { QueueBoardHandler } from '../metrics/create-queue-board.ts';
import { createHealthHandler, type ReadinessCheck } from '../queue/health-server.ts';
import { boltLoggerFrom } from './bolt-logger.ts';
import { slackWebFrom, type SlackWeb } from './slack-web.ts';
import { isFutureDated } from './timestamp-guard.ts';

export interface SlackAppOptions {
  /** SLACK_BOT_TOKEN (xoxb-…). */
  botToken: string;
  /** SLACK_SIGNING_SECRET; required for the HTTP receiver. */
  signingSecret?: string;
  /** SLACK_APP_TOKEN (xapp-…); when set, Socket Mode is used instead of HTTP. */
  appToken?: string;
  /** SLACK_API_URL. @defaultValue 'https://slack.com/api/' */
  apiUrl?: string;
  /** PORT: the HTTP receiver (and /healthz). 0 picks a free port. */
  port: number;
  /** Listen address. @defaultValue '0.0.0.0' */
  host?: string;
  log: Logger;
  /** Skip the startup auth.test when both are known. */
  botId?: string;
  botUserId?: string;
  /** Web API retries for transient errors (429/5xx); keep low so a Slack outage does not pile up work. @defaultValue 2 */
  webRetries?: number;
  /** Allowed clock difference for request timestamps, both directions. @defaultValue 300 */
  maxClockSkewSeconds?: number;
  now?: () => number;
  /** Answers GET /readyz (200 or 503); without it /readyz says ready once the server listens. */
  readiness?: ReadinessCheck;
  /** Served as GET /metrics on PORT (in both modes). */
  metrics?: Registry;
  /** The read-only queue board (/admin/queues), when configured. */
  board?: QueueBoardHandler;
}

export interface SlackApp {
  app: App;
  web: SlackWeb;
  mode: 'http' | 'socket';
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The bound HTTP port (health + events), once started. */
  port(): number | undefined;
}

/** auth.test once at startup: Bolt would otherwise call it per request when verification is deferred. */
async function identify(client: webApi.WebClient): Promise<{ botId: string; botUserId: string }> {
  try {
    const res = await client.auth.test();
    if (!res.bot_id || !res.user_id) throw new Error('auth.test returned no bot id: is SLACK_BOT_TOKEN a bot token (xoxb-…)?');
    return { botId: res.bot_id, botUserId: res.user_id };
  } catch (err) {
    throw new WhyBlockedError(ErrorCode.ConfigInvalid,
      `Slack rejected SLACK_BOT_TOKEN (${err instanceof Error ? err.message : String(err)}): copy the Bot User OAuth Token from your app's "OAuth & Permissions" page.`,
      { cause: err });
  }
}

/** Builds the Bolt app: Socket Mode when an app token is given, else HTTP with a future-timestamp guard. Handlers are registered by the caller. */
export async function createSlackApp(options: SlackAppOptions): Promise<SlackApp> {
  const now = options.now ?? Date.now;
  const log = options.log.child({ component: 'slack' });
  const readiness: ReadinessCheck = options.readiness ?? (() => Promise.resolve({ ok: true, problems: [] }));
  const health = createHealthHandler({ checks: { ready: readiness }, ...(options.metrics ? { metrics: options.metrics } : {}) });
  // Operational routes first; they never reach Bolt, so they need no Slack signature.
  const operational = (req: IncomingMessage, res: ServerResponse): boolean => health(req, res) || (options.board?.(req, res) ?? false);
  const logger = boltLoggerFrom(log);
  const retryConfig = { retries: options.webRetries ?? 2, factor: 2, minTimeout: 500, maxTimeout: 4000, randomize: true };
  const clientOptions = { slackApiUrl: options.apiUrl ?? 'https://slack.com/api/', retryConfig };
  const ids = options.botId && options.botUserId
    ? { botId: options.botId, botUserId: options.botUserId }
    : await identify(new webApi.WebClient(options.botToken, { ...clientOptions, logger }));

  if (options.appToken) {
    const receiver = new SocketModeReceiver({ appToken: options.appToken, logger, installerOptions: { clientOptions } });
    const app = new App({ token: options.botToken, ...ids, receiver, socketMode: true, clientOptions, logger });
    let server: Server | undefined;
    return {
      app, web: slackWebFrom(app.client), mode: 'socket',
      start: async () => {
        await app.start();
        server = await listen(createServer((req, res) => {
          if (!operational(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        }), options.port, options.host);
      },
      stop: async () => { await app.stop(); await close(server); },
      port: () => (server?.address() as AddressInfo | null)?.port,
    };
  }

  if (!options.signingSecret) {
    throw new WhyBlockedError(ErrorCode.ConfigInvalid, 'SLACK_SIGNING_SECRET is missing: set it for the HTTP receiver, or set SLACK_APP_TOKEN to use Socket Mode.');
  }
  // Acks go out as soon as ack() runs; enqueueing happens after (processBeforeResponse would delay the 3 s answer).
  const receiver = new HTTPReceiver({ signingSecret: options.signingSecret, logger, processBeforeResponse: false });
  const app = new App({ token: options.botToken, ...ids, receiver, clientOptions, logger });
  const skew = options.maxClockSkewSeconds ?? 300;
  const server = createServer((req, res) => {
    if (operational(req, res)) return;
    if (isFutureDated(req, now(), skew)) {
      log.warn({ header: req.headers['x-slack-request-timestamp'] }, 'refused a future-dated Slack request');
      res.writeHead(401).end();
      return;
    }
    try {
      receiver.requestListener(req, res);
    } catch {
      // Bolt throws (synchronously) for paths it does not route; uncaught, that would end the process.
      if (!res.headersSent) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  let started = false;
  return {
    app, web: slackWebFrom(app.client), mode: 'http',
    start: async () => { await listen(server, options.port, options.host); started = true; },
    stop: async () => { if (started) await close(server); started = false; },
    port: () => (server.address() as AddressInfo | null)?.port,
  };
}

function listen(server: Server, port: number, host = '0.0.0.0'): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(server); });
  });
}

function close(server: Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  return new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
}
