import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.ts';
import { describeLab } from '../helpers/lab-gate.ts';
import { seedTelnetScenario, startLab, type Lab, type LabScenario } from './lab-test-exports.ts';
import { etcLeftovers, etcSnapshot } from './lab-leftovers.ts';

/** Lab-shaped namespaces and links (other suites' own `wb…` test namespaces are not ours to count). */
function machineSnapshot(root: string): { netns: string[]; links: string[]; labDirs: string[]; registry: string[] } {
  return {
    registry: existsSync('/run/why-blocked/labs') ? readdirSync('/run/why-blocked/labs').sort() : [],
    netns: execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.split(' ')[0]!).filter((n) => /^wb[a-z0-9]{5}-/.test(n)).sort(),
    links: (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname).filter((n) => /^wb[a-z0-9]{5}-m$/.test(n)).sort(),
    labDirs: readdirSync(root).filter((n) => n.startsWith('labs')).flatMap((n) => readdirSync(join(root, n))),
  };
}

const withInetd = (argv0: string): LabScenario => ({
  ...seedTelnetScenario,
  name: 'needs-missing-binary',
  hosts: { ...seedTelnetScenario.hosts, server: { ...seedTelnetScenario.hosts.server!, listeners: [{ kind: 'inetd', address: '0.0.0.0', port: 23, program: argv0, argv: ['in.telnetd'] }] } },
});

const badHostId: LabScenario = {
  ...seedTelnetScenario,
  name: 'bad-host-id',
  hosts: { ...seedTelnetScenario.hosts, client: { interfaces: [{ segment: 'lan', hostId: 99 }] } },
};

describeLab('lab up: bad inputs fail clearly and create nothing', () => {
  let root: string;
  let holder: Lab | undefined;
  const heldCidr = '10.239.77.0/24';

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'wb-lab-bad-'));
    mkdirSync(join(root, 'labs'));
    mkdirSync(join(root, 'full'));
    writeFileSync(join(root, 'full', 'keep-me'), 'not a lab');
    // A running lab makes its /24 an occupied route on this machine.
    holder = await startLab('seed-telnet', { labsRoot: join(root, 'holder'), cidr: heldCidr });
  });

  afterAll(async () => {
    await holder?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const cases: { name: string; scenario?: string | LabScenario; options: Record<string, unknown>; code: string; message: RegExp }[] = [
    { name: 'unknown scenario', scenario: 'no-such-scenario', options: {}, code: ErrorCode.Usage, message: /unknown lab scenario "no-such-scenario".*seed-telnet/ },
    { name: 'CIDR that is not a CIDR', options: { cidr: 'banana' }, code: ErrorCode.Usage, message: /--cidr="banana".*A\.B\.C\.D\/N/ },
    { name: 'CIDR with host bits', options: { cidr: '10.240.0.1/24' }, code: ErrorCode.Usage, message: /host bits.*10\.240\.0\.0\/24/ },
    { name: 'public CIDR', options: { cidr: '8.8.8.0/24' }, code: ErrorCode.Usage, message: /not inside 10\.0\.0\.0\/8/ },
    { name: 'CIDR smaller than a /24', options: { cidr: '10.240.0.0/25' }, code: ErrorCode.Usage, message: /between \/8 and \/24/ },
    { name: 'bad WHY_BLOCKED_LAB_CIDR', options: { env: { ...process.env, WHY_BLOCKED_LAB_CIDR: '10.0.0.0/33' } }, code: ErrorCode.ConfigInvalid, message: /WHY_BLOCKED_LAB_CIDR="10\.0\.0\.0\/33"/ },
    { name: 'CIDR overlapping a network on this machine', options: { cidr: heldCidr }, code: ErrorCode.ConfigInvalid, message: /10\.239\.77\.0\/24 overlaps .*nothing was created/ },
    { name: 'non-empty --dir', options: { dir: 'full' }, code: ErrorCode.Usage, message: /full exists and is not empty/ },
    { name: 'not root', options: { platform: { platform: 'linux', uid: 1000, path: '' } }, code: ErrorCode.LabUnsupported, message: /needs root/ },
    { name: 'not Linux', options: { platform: { platform: 'darwin', uid: 0, path: '' } }, code: ErrorCode.LabUnsupported, message: /Linux network namespaces; this is darwin/ },
    { name: 'missing binary', scenario: withInetd('/nonexistent/in.telnetd'), options: {}, code: ErrorCode.LabUnsupported, message: /\/nonexistent\/in\.telnetd.*scripts\/install-system-deps/ },
    { name: 'invalid scenario data', scenario: badHostId, options: {}, code: ErrorCode.LabFailed, message: /hostId 99 is outside 1\.\.61/ },
  ];

  it.each(cases)('$name', async ({ scenario, options, code, message }) => {
    const before = machineSnapshot(root);
    const etcBefore = etcSnapshot();
    const err = await startLab(scenario ?? 'seed-telnet', { labsRoot: join(root, 'labs'), cwd: root, ...options })
      .then(async (lab) => { await lab.stop(); return undefined; }, (e: unknown) => e as Error & { code: string });
    expect(err).toBeDefined();
    expect(err!.code).toBe(code);
    expect(err!.message).toMatch(message);
    expect(machineSnapshot(root)).toEqual(before);
    expect(etcLeftovers(etcBefore)).toEqual([]);
  });
});
