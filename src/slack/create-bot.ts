import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AuditLog } from '../fix/audit-log.ts';
import type { Logger } from '../log/create-logger.ts';
import { botReadiness } from '../queue/health-server.ts';
import { createChangeProducer, type ChangeProducer } from '../queue/change-producer.ts';
import { ProposalStore, type ProposalPolicy } from '../queue/proposal-store.ts';
import { createProducerConnection, createWorkerConnection, waitUntilReady } from '../queue/redis-connections.ts';
import type { ProbePlan, ResolveHost } from '../queue/triage-ports.ts';
import { createTriageProducer, type TriageProducer } from '../queue/triage-producer.ts';
import { createAccessPolicy } from './access-policy.ts';
import type { BotDeps } from './bot-deps.ts';
import { createMessageUpdater, type MessageUpdater } from './message-updater.ts';
import { createSlackApp, type SlackApp, type SlackAppOptions } from './create-slack-app.ts';
import { registerHandlers } from './register.ts';
import { createWorkLimiter } from './work-limiter.ts';

export interface BotOptions extends SlackAppOptions {
  /** REDIS_URL */
  redisUrl: string;
  /** BullMQ prefix (also namespaces bot state). @defaultValue 'bull' */
  prefix?: string;
  log: Logger;
  /** WHY_BLOCKED_ALLOWED: U…, S…, C… or `*`. */
  allowed: string[];
  /** WHY_BLOCKED_APPROVERS: U…, S… or `*`. */
  approvers: string[];
  resolveHost: ResolveHost;
  probePlan: ProbePlan;
  /** Enforced at click time (the stricter of this and the creating worker's policy wins). */
  proposalPolicy?: ProposalPolicy;
  probeTimeoutMs?: number;
  triageTimeoutMs?: number;
  probeAttempts?: number;
  probeBackoffMs?: number;
  /** Commands processed after their ack at the same time (the rest wait their turn). @defaultValue 8 */
  postAckConcurrency?: number;
  /** @defaultValue 1000 */
  watchdogIntervalMs?: number;
  /** @defaultValue 1000 */
  updaterBlockMs?: number;
  /** Counts triages the watchdog marks timed out (the rest are counted where they finish, in the workers). */
  observeTriage?: (o: { cause: string; durationMs: number; outcome: 'timed_out' }) => void;
  /** WHY_BLOCKED_AUDIT_FILE, resolved: the bot's JSON-lines copy of its decisions (the Redis stream is shared). */
  auditFile?: string;
  /** Sites whose probe queues /readyz looks at for workers (usually every inventory site). @defaultValue [] */
  sites?: string[];
}

export interface Bot {
  slack: SlackApp;
  triage: TriageProducer;
  proposals: ProposalStore;
  changes: ChangeProducer;
  updater: MessageUpdater;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The `bot` process: Bolt app + producers + the message updater. Probe work runs in createWorkers. */
export async function createBot(options: BotOptions): Promise<Bot> {
  const prefix = options.prefix ?? 'bull';
  const now = options.now ?? Date.now;
  const log = options.log;
  const producer = createProducerConnection(options.redisUrl);
  const blocking = createWorkerConnection(options.redisUrl);
  for (const c of [producer, blocking]) c.on('error', (err) => log.warn({ err }, 'bot redis connection error'));
  const triage = createTriageProducer({
    connection: producer, prefix, log, now,
    ...(options.probeTimeoutMs === undefined ? {} : { probeTimeoutMs: options.probeTimeoutMs }),
    ...(options.triageTimeoutMs === undefined ? {} : { triageTimeoutMs: options.triageTimeoutMs }),
    ...(options.probeAttempts === undefined ? {} : { probeAttempts: options.probeAttempts }),
    ...(options.probeBackoffMs === undefined ? {} : { probeBackoffMs: options.probeBackoffMs }),
  });
  const proposals = new ProposalStore(producer, prefix, options.proposalPolicy);
  const changes = createChangeProducer(producer, prefix);
  const ready = botReadiness(producer, prefix, options.sites ?? []);
  const slack = await createSlackApp({ ...options, readiness: options.readiness ?? ready.check });
  const access = createAccessPolicy({ allowed: options.allowed, approvers: options.approvers, usergroupMembers: (id) => slack.web.usergroupMembers(id), log, now });
  const deps: BotDeps = {
    log: log.child({ component: 'slack-handlers' }), web: slack.web, access, resolveHost: options.resolveHost, probePlan: options.probePlan,
    siteOf: (host) => options.resolveHost(host).site, triage, proposals, changes, now,
    audit: new AuditLog({ redis: producer, prefix, now, ...(options.auditFile ? { file: options.auditFile } : {}) }),
    postAck: createWorkLimiter(options.postAckConcurrency ?? 8),
  };
  registerHandlers(slack.app, deps);
  const updater = createMessageUpdater({
    redis: blocking, state: triage.state, proposals, web: slack.web, log: log.child({ component: 'message-updater' }), now,
    consumerName: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    ...(options.watchdogIntervalMs === undefined ? {} : { watchdogIntervalMs: options.watchdogIntervalMs }),
    ...(options.updaterBlockMs === undefined ? {} : { blockMs: options.updaterBlockMs }),
    ...(options.observeTriage ? { onTimedOut: ({ ageMs }: { ageMs: number }) => options.observeTriage!({ cause: 'none', durationMs: ageMs, outcome: 'timed_out' }) } : {}),
  });
  return {
    slack, triage, proposals, changes, updater,
    start: async () => {
      await Promise.all([waitUntilReady(producer), waitUntilReady(blocking)]);
      await updater.start();
      await slack.start();
    },
    stop: async () => {
      await slack.stop();
      await updater.stop();
      await triage.close();
      await changes.close();
      await ready.close();
      await Promise.all([producer, blocking].map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
