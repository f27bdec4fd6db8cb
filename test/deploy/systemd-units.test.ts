import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const unitDir = fileURLToPath(new URL('../../deploy/systemd/', import.meta.url));
const units = ['why-blocked-bot.service', 'why-blocked-worker@.service'];
const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

/** [Section] Key=Value lines; repeated keys keep every value in order. */
function parseUnit(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) { section = header[1]!; continue; }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

const read = (name: string) => parseUnit(readFileSync(join(unitDir, name), 'utf8'));
const one = (u: Map<string, string[]>, key: string) => u.get(key)?.at(-1);

describe('deploy/systemd units', () => {
  const bot = read('why-blocked-bot.service');
  const worker = read('why-blocked-worker@.service');

  it('run the bot and one worker per site instance, as the why-blocked user with the shared env file', () => {
    expect(one(bot, 'Service.ExecStart')).toMatch(/\/src\/cli\/why-blocked\.js bot$/);
    expect(one(worker, 'Service.ExecStart')).toMatch(/\/src\/cli\/why-blocked\.js worker --site %i$/);
    for (const u of [bot, worker]) {
      expect(one(u, 'Service.User')).toBe('why-blocked');
      expect(u.get('Service.EnvironmentFile')![0]).toBe('/etc/why-blocked/env');
      expect(one(u, 'Service.Restart')).toBe('on-failure');
      expect(one(u, 'Install.WantedBy')).toBe('multi-user.target');
    }
  });

  it('give graceful shutdown more time than a triage needs', () => {
    for (const u of [bot, worker]) expect(one(u, 'Service.KillSignal')).toBe('SIGTERM');
    // The worker drains probes bounded by WHY_BLOCKED_TRIAGE_TIMEOUT_MS (10 s default, 120 s max is opt-in).
    expect(Number.parseInt(one(worker, 'Service.TimeoutStopSec')!, 10)).toBeGreaterThanOrEqual(30);
    expect(Number.parseInt(one(bot, 'Service.TimeoutStopSec')!, 10)).toBeGreaterThanOrEqual(10);
  });

  it('carry the hardening options', () => {
    const expected: Record<string, string> = {
      NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes', PrivateDevices: 'yes',
      ProtectKernelTunables: 'yes', ProtectKernelModules: 'yes', ProtectKernelLogs: 'yes', ProtectControlGroups: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX AF_NETLINK', ReadWritePaths: '/var/lib/why-blocked',
      RestrictSUIDSGID: 'yes', LockPersonality: 'yes',
    };
    for (const [name, u] of [['bot', bot], ['worker', worker]] as const) {
      for (const [key, value] of Object.entries(expected)) expect(one(u, `Service.${key}`), `${name} ${key}`).toBe(value);
      expect(u.get('Service.SystemCallFilter')![0], name).toBe('@system-service');
    }
  });

  it('ship an env file example whose names the product knows and whose secrets are placeholders', () => {
    const known = new Set(readFileSync(join(unitDir, '../../.env.example'), 'utf8').split('\n')
      .map((l) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(l)?.[1]).filter(Boolean));
    const example = readFileSync(join(unitDir, 'why-blocked.env.example'), 'utf8');
    for (const line of example.split('\n').filter((l) => /^#?\s*[A-Z][A-Z0-9_]*=/.test(l))) {
      const [, name, value] = /^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)!;
      expect(known.has(name!), `${name} is not in .env.example`).toBe(true);
      if (/TOKEN|SECRET/.test(name!)) expect(value).toMatch(/^REPLACE_ME_/);
    }
  });

  it('grant no capability to the bot and only CAP_NET_RAW (for ping) to the worker', () => {
    expect(one(bot, 'Service.CapabilityBoundingSet')).toBe('');
    expect(one(bot, 'Service.AmbientCapabilities') ?? '').toBe('');
    expect(one(worker, 'Service.CapabilityBoundingSet')).toBe('CAP_NET_RAW');
    expect(one(worker, 'Service.AmbientCapabilities')).toBe('CAP_NET_RAW');
  });
});

describe.skipIf(!hasAnalyze)('systemd-analyze', () => {
  const dir = mkdtempSync(join(tmpdir(), `wb-systemd-${process.pid}-`));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A copy whose ExecStart uses this test's node binary, since /usr/bin/node may not exist here. */
  function stage(name: string): void {
    const text = readFileSync(join(unitDir, name), 'utf8').replaceAll('/usr/bin/node ', `${process.execPath} `);
    writeFileSync(join(dir, name), text);
  }
  units.forEach(stage);
  const cases = [['why-blocked-bot.service'], ['why-blocked-worker@dc1.service']];

  it.each(cases)('verify %s reports nothing (unknown keys are warnings, so any output fails)', (unit) => {
    const r = spawnSync('systemd-analyze', ['verify', `./${unit}`], { cwd: dir, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('verify does catch a broken unit (so the check above can fail)', () => {
    const text = readFileSync(join(dir, 'why-blocked-bot.service'), 'utf8').replace('NoNewPrivileges=yes', 'NoNewPrivileges=yes\nProtectSystm=strict');
    writeFileSync(join(dir, 'broken.service'), text);
    const r = spawnSync('systemd-analyze', ['verify', './broken.service'], { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toMatch(/Unknown key 'ProtectSystm'/);
  });

  const offline = hasAnalyze && spawnSync('systemd-analyze', ['security', '--offline=yes', '--help']).status === 0;
  it.skipIf(!offline).each(cases)('security --offline rates %s with a low exposure (<= 2.0)', (unit) => {
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', `./${unit}`], { cwd: dir, encoding: 'utf8' });
    const score = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(out)![1]);
    expect(score).toBeLessThanOrEqual(2.0);
  });
});
