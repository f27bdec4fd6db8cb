import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { FakeSlackServer } from '../fake-slack/fake-slack-server.ts';
import { cliPath } from '../helpers/run-cli.ts';

const inventory = fileURLToPath(new URL('../fixtures/inventory/valid.yml', import.meta.url));

describe('why-blocked start (npm start) without REDIS_URL', () => {
  it('runs a private redis-server, serves /healthz and /readyz, and on SIGTERM stops everything and exits 0', async () => {
    const fake = new FakeSlackServer();
    await fake.start();
    const cwd = mkdtempSync(join(tmpdir(), 'wb-start-'));
    const child = spawn(process.execPath, [cliPath, 'start'], {
      cwd,
      env: {
        ...process.env, REDIS_URL: '', SLACK_BOT_TOKEN: 'xoxb-start', SLACK_SIGNING_SECRET: 'start-signing-secret', SLACK_APP_TOKEN: '',
        SLACK_API_URL: fake.apiUrl, PORT: '0', WHY_BLOCKED_INVENTORY: inventory, LOG_LEVEL: 'info', LOG_FORMAT: 'json',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setInterval(() => {
          const m = /health on port (\d+)/.exec(stderr);
          if (m) { clearInterval(timer); resolve(Number(m[1])); }
        }, 50);
        void exited.then((code) => { clearInterval(timer); reject(new Error(`start exited early (${code}): ${stderr}`)); });
      });
      const redisUrl = /"url":"(redis:\/\/127\.0\.0\.1:\d+)"/.exec(stderr)?.[1];
      expect(redisUrl, stderr).toBeDefined();
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status, await ready.clone().text()).toBe(200);
      expect(existsSync(join(cwd, 'var/redis'))).toBe(true);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      const after = new Redis(redisUrl!, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      after.on('error', () => undefined);
      await expect(after.connect()).rejects.toThrow(/ECONNREFUSED|Connection is closed/);
      after.disconnect();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await fake.stop();
    }
  }, 60_000);
});
