import type { IncomingMessage, ServerResponse } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { basicAuthMatches, type BasicCredentials } from './basic-auth.ts';

export interface QueueBoardOptions {
  queues: Queue[];
  credentials: BasicCredentials;
  /** Where the board is mounted. @defaultValue '/admin/queues' */
  basePath?: string;
}

/** Routes requests under its base path and returns true; false for any other path. */
export type QueueBoardHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

type ExpressApp = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Bull Board, read-only, behind HTTP basic auth. Read-only is enforced twice: by the adapters
 * (bull-board answers 405 to per-queue actions) and here, where anything but GET/HEAD is refused
 * before it reaches bull-board, so an action it forgets to guard (e.g. pause-all) cannot run either.
 */
export function createQueueBoard(options: QueueBoardOptions): QueueBoardHandler {
  const basePath = (options.basePath ?? '/admin/queues').replace(/\/+$/, '');
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(basePath);
  createBullBoard({
    queues: options.queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'why-blocked queues' } },
  });
  const app = serverAdapter.getRouter() as ExpressApp;
  return (req, res) => {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    if (path !== basePath && !path.startsWith(`${basePath}/`)) return false;
    if (!basicAuthMatches(req.headers.authorization, options.credentials)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="why-blocked queues", charset="UTF-8"', 'content-type': 'text/plain' })
        .end('authentication required\n');
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('the queue board is read-only\n');
      return true;
    }
    // The board's routes are relative to its mount point.
    req.url = url.slice(basePath.length) || '/';
    app(req, res, (err) => {
      if (res.headersSent) { res.end(); return; }
      res.writeHead(err ? 500 : 404, { 'content-type': 'text/plain' }).end(err ? 'queue board error\n' : 'not found\n');
    });
    return true;
  };
}
