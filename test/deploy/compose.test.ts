import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';

const file = fileURLToPath(new URL('../../deploy/docker-compose.yml', import.meta.url));
const schemaJson = JSON.parse(readFileSync(new URL('./schemas/compose-subset.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const schema = z.fromJSONSchema(schemaJson as never);

interface Service {
  image?: string; build?: unknown; command?: string[]; environment?: Record<string, string>; secrets?: string[];
  volumes?: string[]; healthcheck?: { test: string[] }; depends_on?: Record<string, { condition: string }>;
  read_only?: boolean; cap_drop?: string[]; cap_add?: string[]; sysctls?: Record<string, string>;
}
interface Compose { services: Record<string, Service>; secrets?: Record<string, { file?: string }>; volumes?: Record<string, unknown> }

const compose = parse(readFileSync(file, 'utf8'), { merge: true }) as Compose;
const services = Object.entries(compose.services);
const app = services.filter(([name]) => name !== 'redis');

describe('deploy/docker-compose.yml', () => {
  it('matches the Compose subset schema', () => {
    const result = schema.safeParse(compose);
    expect(result.success ? [] : result.error.issues).toEqual([]);
  });

  it.each([
    ['an unknown service key (typo)', (c: Compose) => { (c.services.bot as Record<string, unknown>).helthcheck = {}; }],
    ['a healthcheck with a string test', (c: Compose) => { (c.services.redis!.healthcheck as unknown as { test: string }).test = 'redis-cli ping'; }],
    ['an unpinned image', (c: Compose) => { c.services.redis!.image = 'redis'; }],
    ['a service without an image', (c: Compose) => { delete c.services.redis!.image; }],
    ['a service without a healthcheck', (c: Compose) => { delete c.services.bot!.healthcheck; }],
    ['an inline secret instead of a file', (c: Compose) => { (c.secrets!.slack_bot_token as Record<string, unknown>) = { value: 'x' }; }],
    ['a lowercase environment name', (c: Compose) => { c.services.bot!.environment!.slack_bot_token = 'x'; }],
  ])('the schema refuses %s', (_name, mutate) => {
    const copy = structuredClone(compose);
    mutate(copy);
    expect(schema.safeParse(copy).success).toBe(false);
  });

  it('has a healthcheck on every service', () => {
    for (const [name, svc] of services) expect(svc.healthcheck?.test.length, name).toBeGreaterThan(1);
  });

  it('runs Redis with AOF, noeviction and a persistent volume', () => {
    const redis = compose.services.redis!;
    const cmd = redis.command!.join(' ');
    expect(cmd).toMatch(/--appendonly yes/);
    expect(cmd).toMatch(/--maxmemory-policy noeviction/);
    expect(redis.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
    expect(redis.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('has a bot and at least one worker per site, all waiting for a healthy Redis', () => {
    const roles = app.map(([, s]) => s.command!.slice(0, 2).join(' '));
    expect(roles).toContain('why-blocked bot');
    const workers = app.filter(([, s]) => s.command![1] === 'worker');
    expect(workers.length).toBeGreaterThan(0);
    for (const [name, w] of workers) expect(w.command, name).toEqual(expect.arrayContaining(['--site']));
    for (const [name, s] of app) {
      expect(s.depends_on?.redis?.condition, name).toBe('service_healthy');
      expect(s.environment?.REDIS_URL, name).toBe('redis://redis:6379');
    }
  });

  it('keeps secrets out of the file: no inline values, Slack secrets and the SSH key come from secret files', () => {
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/xox[abp]-[A-Za-z0-9]|xapp-[0-9A-Za-z]|BEGIN [A-Z ]*PRIVATE KEY/);
    for (const [name, s] of app) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/TOKEN|SECRET|PASSWORD/.test(key)) {
          expect(key, `${name}: ${key} must be a *_FILE pointing at /run/secrets`).toMatch(/_FILE$/);
          expect(value).toMatch(/^\/run\/secrets\/[a-z_]+$/);
          expect(s.secrets, name).toContain(value.slice('/run/secrets/'.length));
        }
      }
    }
    const bot = compose.services.bot!;
    expect(bot.environment!.SLACK_BOT_TOKEN_FILE).toBeDefined();
    for (const [, w] of app.filter(([, s]) => s.command![1] === 'worker')) expect(w.secrets).toContain('ssh_private_key');
    for (const [name, secret] of Object.entries(compose.secrets ?? {})) expect(secret.file, name).toMatch(/^\.\/secrets\//);
  });

  it('mounts the inventory and known_hosts read-only and declares every secret and named volume it uses', () => {
    for (const [name, s] of app) {
      for (const v of s.volumes ?? []) {
        if (/inventory|known_hosts/.test(v)) expect(v, name).toMatch(/:ro$/);
        const source = v.split(':')[0]!;
        if (!source.startsWith('.') && !source.startsWith('/')) expect(compose.volumes, `${name}: volume ${source}`).toHaveProperty(source);
      }
      for (const secret of s.secrets ?? []) expect(compose.secrets, `${name}: secret ${secret}`).toHaveProperty(secret);
    }
  });

  it('sets only variables the product (or the image entrypoint and healthcheck) reads', () => {
    const known = new Set(readFileSync(new URL('../../.env.example', import.meta.url), 'utf8').split('\n')
      .map((l) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter(Boolean));
    const imageOnly = new Set(['SLACK_BOT_TOKEN_FILE', 'SLACK_SIGNING_SECRET_FILE', 'SLACK_APP_TOKEN_FILE', 'REDIS_URL_FILE', 'WHY_BLOCKED_HEALTH_URL']);
    for (const [name, s] of app) {
      for (const key of Object.keys(s.environment ?? {})) expect(known.has(key) || imageOnly.has(key), `${name}: ${key}`).toBe(true);
    }
  });

  it('hardens the app containers: read-only root, all capabilities dropped, none added', () => {
    for (const [name, s] of app) {
      expect(s.read_only, name).toBe(true);
      expect(s.cap_drop, name).toEqual(['ALL']);
      expect(s.cap_add, name).toBeUndefined();
    }
  });
});
