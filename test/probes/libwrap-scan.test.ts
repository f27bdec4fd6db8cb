import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildLibwrapScanCommand, parseLibwrapOutputs } from '../../src/probes/tcp-wrappers-probe.ts';

/** The scan command as the host would run it (no shell, no sudo), on this machine's real binaries. */
function scan(exe: string) {
  const { argv } = buildLibwrapScanCommand({ exe });
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  return parseLibwrapOutputs({ exe: { code: 0, stdout: `${exe}\n`, stderr: '' }, scan: { code: r.status, stdout: r.stdout, stderr: r.stderr } })!;
}

describe('the libwrap scan on real binaries (what ldd used to answer, without running a loader)', () => {
  it.runIf(existsSync('/usr/sbin/tcpd'))('finds libwrap in tcpd, which links it dynamically', () => {
    expect(scan('/usr/sbin/tcpd').linked).toEqual([{ file: '/usr/sbin/tcpd', libwrap: true }]);
  });

  it('finds no libwrap in node', () => {
    expect(scan(realpathSync(process.execPath)).linked).toEqual([{ file: realpathSync(process.execPath), libwrap: false }]);
  });

  it.runIf(existsSync('/usr/sbin/sshd'))('for sshd, also looks at sshd-session and skips the path that does not exist', () => {
    const linked = scan('/usr/sbin/sshd').linked;
    expect(linked[0]!.file).toBe('/usr/sbin/sshd');
    expect(linked.map((l) => l.file).every((f) => existsSync(f))).toBe(true);
  });

  it('an unreadable or missing binary gives no answer instead of a wrong one', () => {
    expect(scan('/nonexistent/inetd').linked).toEqual([]);
  });
});
