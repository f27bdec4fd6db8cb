import { resolve } from 'node:path';
import type { Job } from 'bullmq';
import type { Config } from '../config/load-config.ts';
import { loadInventory } from '../config/load-inventory.ts';
import { resolveHost } from '../config/resolve-host.ts';
import { usageError } from '../errors.ts';
import type { Logger } from '../log/create-logger.ts';
import { SshPool } from '../remote/ssh-pool.ts';
import { createBot, type Bot } from '../slack/create-bot.ts';
import { createWorkers, type WorkerSet } from './create-workers.ts';
import { AuditLog } from '../fix/audit-log.ts';
import { createChangeProcessor } from '../fix/change-processor.ts';
import { createMetrics, type WhyBlockedMetrics } from '../metrics/create-metrics.ts';
import { createQueueBoard } from '../metrics/create-queue-board.ts';
import { observeChangeOutcomes } from '../metrics/observe-change-outcomes.ts';
import { openObservedQueues } from '../metrics/observed-queues.ts';
import { queueCountsFrom } from '../metrics/queue-counts-from.ts';
import { createHealthServer, workerReadiness, type HealthServer } from './health-server.ts';
import { analyzerAssembleReport, inventoryRunProbe, inventorySites, inventoryTriagePlanning } from './inventory-triage.ts';
import { changesQueueName, probeQueueName, triageQueueName } from './names.ts';
import { startPrivateRedis, type PrivateRedis } from './private-redis.ts';
import { createWorkerConnection } from './redis-connections.ts';

export type ServiceRole = 'bot' | 'worker' | 'start';

export interface ServicesOptions {
  role: ServiceRole;
  config: Config;
  cwd: string;
  log: Logger;
  /** `--site` values; override WHY_BLOCKED_SITES (worker) or every inventory site (start). */
  sites?: string[];
  /** Listen address of the HTTP servers. @defaultValue '0.0.0.0' */
  host?: string;
  /** Skip Slack's auth.test at startup (tests, benchmarks). */
  botId?: string;
  botUserId?: string;
  /** Tuning the config does not cover (tests). */
  webRetries?: number;
}

export interface RunningServices {
  redisUrl: string;
  bot?: Bot;
  workers?: WorkerSet;
  /** This process's registry, served as /metrics. */
  metrics: WhyBlockedMetrics;
  /** The port serving /healthz, /readyz and /metrics (and /slack/events, /admin/queues for bot/start). */
  port(): number | undefined;
  stop(): Promise<void>;
}

/** The probe budget fits in the triage budget; the message's deadline leaves room for queueing and aggregation. */
export function triageTimings(config: Config): { probeTimeoutMs: number; triageTimeoutMs: number } {
  const triageMs = config.WHY_BLOCKED_TRIAGE_TIMEOUT_MS;
  return { probeTimeoutMs: Math.max(1000, triageMs - 1000), triageTimeoutMs: triageMs + 3000 };
}

/**
 * Starts what `why-blocked bot|worker|start` run, from a validated config. Everything that can be
 * checked without side effects (inventory, sites) is checked before anything starts; whatever
 * did start is stopped again if a later step fails.
 */
export async function startServices(options: ServicesOptions): Promise<RunningServices> {
  const { config, log, role } = options;
  const inventory = loadInventory(config.WHY_BLOCKED_INVENTORY, options.cwd);
  const known = inventorySites(inventory);
  const runsWorkers = role !== 'bot';
  const sites = options.sites && options.sites.length > 0 ? [...new Set(options.sites)]
    : role === 'start' ? known : config.WHY_BLOCKED_SITES;
  if (runsWorkers) {
    for (const site of sites) {
      probeQueueName(site);
      if (!known.includes(site)) {
        throw usageError(`site "${site}" has no host in the inventory (${inventory.file}); its sites are: ${known.join(', ') || 'none'}. Use --site with one of them, or set WHY_BLOCKED_SITES.`);
      }
    }
  }
  const proposalPolicy = {
    ttlMs: config.WHY_BLOCKED_PROPOSAL_TTL_MS, requiredApprovals: config.WHY_BLOCKED_REQUIRED_APPROVALS, forbidSelfApproval: config.WHY_BLOCKED_FORBID_SELF_APPROVAL,
  };
  const prefix = config.WHY_BLOCKED_QUEUE_PREFIX;
  const cleanups: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      await c().catch((err: unknown) => log.warn({ err }, 'shutdown step failed'));
    }
  };
  try {
    let redisUrl = config.REDIS_URL;
    if (redisUrl === undefined) {
      if (role !== 'start') throw usageError('REDIS_URL is missing: the bot and the workers need the shared Redis, e.g. redis://redis:6379.');
      const redis: PrivateRedis = await startPrivateRedis({ bin: config.WHY_BLOCKED_REDIS_BIN, dir: config.WHY_BLOCKED_REDIS_DIR, cwd: options.cwd, log });
      cleanups.push(() => redis.stop());
      redisUrl = redis.url;
    }

    // The bot sees every site's queue, a worker only the ones it serves.
    const observed = openObservedQueues({
      redisUrl, prefix, log, names: [triageQueueName, changesQueueName, ...(role === 'worker' ? sites : known).map(probeQueueName)],
    });
    cleanups.push(() => observed.close());
    let pool: SshPool | undefined;
    const metrics = createMetrics({
      defaultLabels: { role },
      getQueueCounts: queueCountsFrom(observed.queues),
      ...(runsWorkers ? { poolStats: () => pool?.stats() ?? { openConnections: 0, channelsInUse: 0, channelsWaiting: 0 } } : {}),
    });

    let workers: WorkerSet | undefined;
    let health: HealthServer | undefined;
    if (runsWorkers) {
      const sshPool = new SshPool({ logger: log.child({ component: 'ssh-pool' }), resolveJump: (name) => resolveHost(inventory, name) });
      pool = sshPool;
      cleanups.push(() => sshPool.close());
      const set = createWorkers({
        redisUrl, prefix, log, sites, proposalPolicy, metrics, auditFile: resolve(options.cwd, config.WHY_BLOCKED_AUDIT_FILE),
        runProbe: inventoryRunProbe({ inventory, pool: sshPool, connectTimeoutMs: config.WHY_BLOCKED_CONNECT_TIMEOUT_MS }),
        assembleReport: analyzerAssembleReport(),
        changeLockDurationMs: (config.WHY_BLOCKED_DEADMAN_SECONDS + 60) * 1000,
        processChange: (redis) => observeChangeOutcomes(createChangeProcessor({
          redis, prefix, log: log.child({ component: 'change-worker' }), inventory: () => inventory, pool: sshPool,
          audit: new AuditLog({ redis, prefix, file: resolve(options.cwd, config.WHY_BLOCKED_AUDIT_FILE) }),
          deadmanSeconds: config.WHY_BLOCKED_DEADMAN_SECONDS, autoPersist: config.WHY_BLOCKED_AUTO_PERSIST,
          helperPath: config.WHY_BLOCKED_CHANGE_HELPER, connectTimeoutMs: config.WHY_BLOCKED_CONNECT_TIMEOUT_MS,
          approvers: config.WHY_BLOCKED_APPROVERS,
        }), metrics) as (job: Job) => Promise<unknown>,
      });
      workers = set;
      cleanups.push(() => set.close());
      await Promise.all(set.workers.map((w) => w.waitUntilReady()));
      log.info({ sites, prefix }, 'workers started');
      if (role === 'worker') {
        const redis = createWorkerConnection(redisUrl);
        redis.on('error', (err) => log.warn({ err }, 'readiness redis connection error'));
        cleanups.push(async () => { redis.disconnect(); });
        health = await createHealthServer({
          port: config.WHY_BLOCKED_WORKER_PORT, host: options.host ?? '0.0.0.0',
          checks: { ready: workerReadiness(redis, set.workers) }, metrics: metrics.registry,
        });
        cleanups.push(() => health!.close());
      }
    }

    let bot: Bot | undefined;
    if (role !== 'worker') {
      const planning = inventoryTriagePlanning(inventory);
      const boardUser = config.WHY_BLOCKED_BOARD_USER;
      const boardPassword = config.WHY_BLOCKED_BOARD_PASSWORD;
      const board = boardUser && boardPassword
        ? createQueueBoard({ queues: observed.queues, credentials: { user: boardUser, password: boardPassword } })
        : undefined;
      const created = await createBot({
        metrics: metrics.registry, ...(board ? { board } : {}),
        botToken: config.SLACK_BOT_TOKEN ?? '',
        ...(config.SLACK_SIGNING_SECRET ? { signingSecret: config.SLACK_SIGNING_SECRET } : {}),
        ...(config.SLACK_APP_TOKEN ? { appToken: config.SLACK_APP_TOKEN } : {}),
        apiUrl: config.SLACK_API_URL, port: config.PORT, ...(options.host ? { host: options.host } : {}), log,
        ...(options.botId && options.botUserId ? { botId: options.botId, botUserId: options.botUserId } : {}),
        ...(options.webRetries === undefined ? {} : { webRetries: options.webRetries }),
        redisUrl, prefix, allowed: config.WHY_BLOCKED_ALLOWED, approvers: config.WHY_BLOCKED_APPROVERS,
        resolveHost: planning.resolveHost, probePlan: planning.probePlan, proposalPolicy, sites: known, ...triageTimings(config),
        auditFile: resolve(options.cwd, config.WHY_BLOCKED_AUDIT_FILE), observeTriage: metrics.observeTriage,
      });
      bot = created;
      await created.start();
      cleanups.push(() => created.stop());
      log.info({ mode: created.slack.mode, port: created.slack.port(), queueBoard: board ? '/admin/queues (read-only)' : 'off' }, 'Slack bot started');
    }

    return {
      redisUrl, ...(bot ? { bot } : {}), ...(workers ? { workers } : {}), metrics,
      port: () => bot?.slack.port() ?? health?.port,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Keeps the services up until `signal` aborts (SIGTERM/SIGINT), then stops them, giving up after `deadlineMs`. */
export async function serveUntilAborted(services: RunningServices, signal: AbortSignal, log: Logger, deadlineMs = 30_000): Promise<number> {
  if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  log.info({ reason: String(signal.reason) }, 'shutting down: finishing active jobs');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<number>((resolve) => {
    timer = setTimeout(() => { log.error({ deadlineMs }, 'shutdown deadline passed; exiting with jobs still active'); resolve(1); }, deadlineMs);
    timer.unref();
  });
  try {
    return await Promise.race([services.stop().then(() => 0), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
