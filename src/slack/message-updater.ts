import type { Redis } from 'ioredis';
import type { Logger } from '../log/create-logger.ts';
import type { ProposalStore } from '../queue/proposal-store.ts';
import type { TriageState, TriageStateStore } from '../queue/triage-state-store.ts';
import type { SlackWeb } from './slack-web.ts';
import type { SlackMessage } from './views/block-kit.ts';
import { buildFindingsMessage, type ProposalView } from './views/findings-message.ts';
import { buildProgressMessage } from './views/progress-message.ts';
import { buildRawOutputReply } from './views/raw-output-reply.ts';
import { buildTriageFailedMessage } from './views/triage-failed-message.ts';

export interface MessageUpdaterOptions {
  /** A dedicated connection: it blocks on XREADGROUP. */
  redis: Redis;
  state: TriageStateStore;
  proposals: ProposalStore;
  web: SlackWeb;
  log: Logger;
  /** Unique per bot process (consumer-group member name). */
  consumerName: string;
  /** How often overdue triages are looked for. @defaultValue 1000 */
  watchdogIntervalMs?: number;
  /** @defaultValue 1000 */
  blockMs?: number;
  now?: () => number;
  /** Told about each triage the watchdog gives up on (the timed-out count on /metrics). */
  onTimedOut?: (triage: { triageId: string; ageMs: number }) => void;
}

export interface MessageUpdater {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Renders the current state of one triage into its Slack message. */
  render(triageId: string): Promise<void>;
}

const groupName = 'wb-message-updaters';

/**
 * The only path from queue state to Slack: workers record state and publish an event; this turns
 * each event into a chat.update (coalesced per message, latest state wins), and a watchdog marks
 * triages that ran past their deadline, so no message is left at "checking…".
 */
export function createMessageUpdater(options: MessageUpdaterOptions): MessageUpdater {
  const now = options.now ?? Date.now;
  const { state, web, log } = options;
  const chains = new Map<string, Promise<void>>();
  const queued = new Set<string>();
  let running = false;
  let loop: Promise<void> | undefined;
  let watchdog: NodeJS.Timeout | undefined;

  async function proposalViews(triage: TriageState): Promise<ProposalView[]> {
    const views: ProposalView[] = [];
    for (const ref of triage.proposals) {
      const p = await options.proposals.get(ref.proposalId);
      if (p) views.push({ fixId: ref.fixId, proposalId: p.id, status: p.status, approvers: p.approvers, requiredApprovals: options.proposals.requiredApprovals(p), expiresAtMs: p.expiresAtMs });
    }
    return views;
  }

  async function messageFor(triage: TriageState): Promise<SlackMessage> {
    if (triage.status === 'done' && triage.report) {
      const input = {
        report: triage.report, triageId: triage.triageId, requester: triage.requester, proposals: await proposalViews(triage), interactive: true,
        ...(triage.decision ? { decision: triage.decision } : {}), ...(triage.change ? { change: triage.change } : {}),
      };
      return buildFindingsMessage(input);
    }
    if (triage.status === 'failed' || triage.status === 'timed-out') {
      return buildTriageFailedMessage({
        triageId: triage.triageId, request: triage.request, requester: triage.requester, probes: triage.probes, progress: triage.progress,
        reason: triage.status, error: triage.error ?? 'unknown error', elapsedMs: now() - triage.createdAtMs, interactive: true,
      });
    }
    return buildProgressMessage({
      request: triage.request, requester: triage.requester, probes: triage.probes, progress: triage.progress, createdAtMs: triage.createdAtMs, nowMs: now(),
    });
  }

  async function renderNow(triageId: string): Promise<void> {
    const triage = await state.get(triageId);
    if (!triage) return;
    await web.update(triage.channel, triage.ts, await messageFor(triage));
    if (triage.status === 'done' && triage.report && !triage.rawPosted) {
      const reply = buildRawOutputReply(triage.report);
      if (reply && await state.claimRawPost(triageId)) await web.postMessage(triage.channel, reply, triage.ts);
    }
  }

  function render(triageId: string): Promise<void> {
    // Renders read the latest state, so one queued render per message covers any number of events.
    if (queued.has(triageId)) return chains.get(triageId) ?? Promise.resolve();
    queued.add(triageId);
    const previous = chains.get(triageId) ?? Promise.resolve();
    const next = previous.then(async () => {
      queued.delete(triageId);
      try {
        await renderNow(triageId);
      } catch (err) {
        log.error({ err, triageId }, 'could not update the Slack message');
      }
    });
    chains.set(triageId, next);
    void next.then(() => { if (chains.get(triageId) === next) chains.delete(triageId); });
    return next;
  }

  async function ensureGroup(): Promise<void> {
    try {
      await options.redis.xgroup('CREATE', state.keys.events, groupName, '$', 'MKSTREAM');
    } catch (err) {
      if (!String(err).includes('BUSYGROUP')) throw err;
    }
  }

  async function readLoop(): Promise<void> {
    while (running) {
      try {
        const res = await options.redis.xreadgroup('GROUP', groupName, options.consumerName, 'COUNT', 100, 'BLOCK', options.blockMs ?? 1000,
          'STREAMS', state.keys.events, '>') as [string, [string, string[]][]][] | null;
        if (!res) continue;
        const entries = res.flatMap(([, e]) => e);
        const ids = new Set<string>();
        for (const [, fields] of entries) {
          const i = fields.indexOf('triageId');
          const id = i >= 0 ? fields[i + 1] : undefined;
          if (id !== undefined) ids.add(id);
        }
        await Promise.all([...ids].map((id) => render(id)));
        if (entries.length > 0) await options.redis.xack(state.keys.events, groupName, ...entries.map(([id]) => id));
      } catch (err) {
        if (!running) return;
        log.error({ err }, 'message updater read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  async function sweep(): Promise<void> {
    for (const triageId of await state.claimOverdue(now())) {
      log.warn({ triageId }, 'triage overdue: marking timed out');
      await state.fail(triageId, 'timed-out', 'No verdict before the deadline: some probes never finished (worker down, or host too slow).');
      const createdAtMs = (await state.get(triageId))?.createdAtMs;
      options.onTimedOut?.({ triageId, ageMs: createdAtMs === undefined ? 0 : now() - createdAtMs });
    }
  }

  return {
    start: async () => {
      if (running) return;
      await ensureGroup();
      running = true;
      loop = readLoop();
      watchdog = setInterval(() => { sweep().catch((err: unknown) => log.error({ err }, 'watchdog sweep failed')); }, options.watchdogIntervalMs ?? 1000);
    },
    stop: async () => {
      running = false;
      if (watchdog) clearInterval(watchdog);
      await loop;
      await Promise.all([...chains.values()]);
    },
    render,
  };
}
