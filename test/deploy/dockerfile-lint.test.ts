import { describe, expect, it, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createHealthServer } from '../../src/metrics/index.ts';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const dockerfilePath = join(repo, 'deploy/docker/Dockerfile');
const entrypoint = join(repo, 'deploy/docker/entrypoint.sh');

interface Instruction { keyword: string; args: string; line: number; stage: number }

/** Dockerfile instructions with continuations joined and comments dropped; stage = index of the FROM it belongs to. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let startLine = 0;
  let stage = -1;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (buffer === '' && (line === '' || line.startsWith('#'))) return;
    if (buffer !== '' && line.startsWith('#')) return;
    if (buffer === '') startLine = i + 1;
    if (line.endsWith('\\')) { buffer += `${line.slice(0, -1)} `; return; }
    buffer += line;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(buffer);
    if (!m) throw new Error(`line ${startLine}: cannot parse "${buffer}"`);
    const keyword = m[1]!.toUpperCase();
    if (keyword === 'FROM') stage += 1;
    out.push({ keyword, args: m[2]!.trim(), line: startLine, stage });
    buffer = '';
  });
  return out;
}

const instructions = parseDockerfile(readFileSync(dockerfilePath, 'utf8'));
const finalStage = Math.max(...instructions.map((i) => i.stage));
const final = instructions.filter((i) => i.stage === finalStage);
const globalArgs = Object.fromEntries(instructions.filter((i) => i.keyword === 'ARG' && i.stage === -1)
  .map((i) => i.args.split('=') as [string, string]));
const runs = instructions.filter((i) => i.keyword === 'RUN');

describe('deploy/docker/Dockerfile lint', () => {
  it('parses and has at least a build stage and a runtime stage', () => {
    expect(instructions.filter((i) => i.keyword === 'FROM').length).toBeGreaterThanOrEqual(2);
  });

  it('pins every base image to a version tag or digest, never latest', () => {
    for (const from of instructions.filter((i) => i.keyword === 'FROM')) {
      const ref = from.args.split(/\s+/)[0]!.replace(/^\$\{(\w+)\}$/, (_, name: string) => globalArgs[name] ?? '');
      expect(ref, `FROM at line ${from.line}`).toMatch(/(:[\w.-]*\d[\w.-]*|@sha256:[0-9a-f]{64})$/);
      expect(ref).not.toMatch(/:latest$/);
    }
  });

  it('runs the final stage as a non-root numeric user', () => {
    const users = final.filter((i) => i.keyword === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.args.split(':')[0]!;
    // Numeric, so Kubernetes runAsNonRoot can verify it without reading /etc/passwd.
    expect(user).toMatch(/^\d+$/);
    expect(Number(user)).toBeGreaterThan(0);
  });

  it('has a HEALTHCHECK on /healthz in exec form that needs no curl', () => {
    const hc = final.find((i) => i.keyword === 'HEALTHCHECK');
    expect(hc).toBeDefined();
    expect(hc!.args).toMatch(/CMD \["node", "-e", /);
    expect(hc!.args).toContain('/healthz');
    expect(hc!.args).not.toMatch(/curl|wget/);
  });

  it('never ADDs (no remote URLs, no implicit tar extraction)', () => {
    expect(instructions.filter((i) => i.keyword === 'ADD')).toEqual([]);
  });

  it('bakes in no secrets', () => {
    const text = readFileSync(dockerfilePath, 'utf8');
    expect(text).not.toMatch(/xox[abp]-|xapp-|BEGIN [A-Z ]*PRIVATE KEY/);
    for (const i of instructions.filter((x) => x.keyword === 'ENV' || x.keyword === 'ARG')) {
      expect(i.args, `line ${i.line}`).not.toMatch(/(TOKEN|SECRET|PASSWORD|PRIVATE_KEY)\w*=/i);
    }
    const copies = instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args).join('\n');
    expect(copies).not.toMatch(/\.env\b|id_(rsa|ed25519)|known_hosts|inventory\.ya?ml/);
  });

  it('installs with npm ci for production only, never npm install', () => {
    const npm = runs.filter((r) => /\bnpm\b/.test(r.args));
    expect(npm.some((r) => /npm ci --omit=dev/.test(r.args))).toBe(true);
    for (const r of npm) expect(r.args, `line ${r.line}`).not.toMatch(/npm (install|i)\b/);
  });

  it('cleans apt lists in the same layer and skips recommends', () => {
    const apt = runs.filter((r) => /apt-get install/.test(r.args));
    expect(apt.length).toBeGreaterThan(0);
    for (const r of apt) {
      expect(r.args, `line ${r.line}`).toContain('--no-install-recommends');
      expect(r.args, `line ${r.line}`).toContain('rm -rf /var/lib/apt/lists/*');
    }
  });

  it('ships what the local probes run and an init to reap children', () => {
    const apt = runs.filter((r) => r.stage === finalStage && /apt-get install/.test(r.args)).map((r) => r.args).join(' ');
    for (const pkg of ['iputils-ping', 'netcat-openbsd', 'iproute2', 'ca-certificates', 'tini']) expect(apt).toContain(pkg);
    expect(final.find((i) => i.keyword === 'ENTRYPOINT')!.args).toMatch(/^\["\/usr\/bin\/tini", "--"/);
  });

  it('copies only files that exist and that the .dockerignore lets through', () => {
    const ignore = readFileSync(join(repo, 'deploy/docker/Dockerfile.dockerignore'), 'utf8');
    const allowed = ignore.split('\n').filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, ''));
    expect(ignore.split('\n')).toContain('*');
    for (const copy of instructions.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(repo, src)), `COPY ${src} (line ${copy.line})`).toBe(true);
        expect(allowed.some((a) => src.replace(/\/$/, '') === a || src.startsWith(`${a}/`)), `${src} is excluded from the build context`).toBe(true);
      }
    }
  });
});

describe('what the image runs', () => {
  const dir = mkdtempSync(join(tmpdir(), `wb-docker-${process.pid}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const healthcheckArgv = (): string[] => {
    const hc = final.find((i) => i.keyword === 'HEALTHCHECK')!;
    return JSON.parse(hc.args.slice(hc.args.indexOf('CMD ') + 4)) as string[];
  };

  it('the HEALTHCHECK command exits 0 against a live /healthz and 1 when nothing listens', async () => {
    const [cmd, ...args] = healthcheckArgv();
    const server = await createHealthServer({ port: 0, host: '127.0.0.1', checks: { ready: async () => ({ ok: false }) } });
    try {
      await expect(run(cmd!, args, { env: { ...process.env, PORT: String(server.port) } })).resolves.toBeDefined();
      const url = `http://127.0.0.1:${server.port}/healthz`;
      await expect(run(cmd!, args, { env: { ...process.env, PORT: '1', WHY_BLOCKED_HEALTH_URL: url } })).resolves.toBeDefined();
    } finally {
      await server.close();
    }
    await expect(run(cmd!, args, { env: { ...process.env, PORT: String(server.port) } })).rejects.toMatchObject({ code: 1 });
  });

  it('the entrypoint turns *_FILE secrets into variables and unsets the _FILE names', async () => {
    writeFileSync(join(dir, 'token'), 'xoxb-not-a-real-token\n', { mode: 0o600 });
    writeFileSync(join(dir, 'signing'), 'not-a-real-signing-secret', { mode: 0o600 });
    const env = { PATH: process.env.PATH!, SLACK_BOT_TOKEN_FILE: join(dir, 'token'), SLACK_SIGNING_SECRET_FILE: join(dir, 'signing'), OTHER: 'kept' };
    const { stdout } = await run('sh', [entrypoint, 'env'], { env });
    const vars = Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(vars.SLACK_BOT_TOKEN).toBe('xoxb-not-a-real-token');
    expect(vars.SLACK_SIGNING_SECRET).toBe('not-a-real-signing-secret');
    expect(vars.OTHER).toBe('kept');
    expect(vars.SLACK_BOT_TOKEN_FILE).toBeUndefined();
  });

  it.each([
    ['a missing secret file', { SLACK_BOT_TOKEN_FILE: '/nonexistent/token' }, /not a readable file/],
    ['both the variable and its _FILE', { SLACK_APP_TOKEN: 'xapp-x', SLACK_APP_TOKEN_FILE: '/etc/hostname' }, /both SLACK_APP_TOKEN and SLACK_APP_TOKEN_FILE/],
  ])('the entrypoint refuses %s with exit 2', async (_name, extra, message) => {
    const err = await run('sh', [entrypoint, 'true'], { env: { PATH: process.env.PATH!, ...extra } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(message);
  });

  it('the entrypoint passes the command through unchanged', async () => {
    const { stdout } = await run('sh', [entrypoint, 'node', join(repo, 'src/cli/why-blocked.js'), '--help'], { env: { PATH: process.env.PATH!, HOME: dir } }).catch((e: { stdout: string }) => e);
    expect(stdout).toMatch(/why-blocked/);
  });
});
