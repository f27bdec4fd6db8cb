import type { ExecResult } from '../../src/remote/executor.ts';
import type { RemoteCommand } from '../../src/remote/remote-command.ts';
import type { ChangeEngineDeps } from '../../src/fix/change-engine.ts';

/**
 * A host whose rules firewalld or ufw owns, faked at the command level (no daemon runs here): the
 * manager commands edit a rule list, the dump commands print it as iptables-legacy-save would.
 * `effective: false` models a rule that lands where the client's packets never go (a wrong zone).
 */
export class FakeManagedHost {
  readonly ran: string[][] = [];
  private runtime: { line: string; expiresAtMs?: number }[] = [];
  private permanent: string[] = [];
  /** Set to make the next matching command fail (exit 1). */
  failOn?: RegExp;

  constructor(private readonly options: { manager: 'firewalld' | 'ufw'; effective?: boolean }) {}

  rulesText(): string {
    const now = Date.now();
    this.runtime = this.runtime.filter((r) => r.expiresAtMs === undefined || r.expiresAtMs > now);
    const managed = this.runtime.map((r) => r.line);
    return [
      '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':IN_other_allow - [0:0]',
      '-A INPUT -i lo -j ACCEPT', '-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT',
      ...managed.filter((l) => l.startsWith('-A INPUT ')),
      '-A INPUT -j REJECT --reject-with icmp-host-prohibited',
      ...managed.filter((l) => l.startsWith('-A IN_other_allow ')),
      'COMMIT', '',
    ].join('\n');
  }

  private ruleLine(source: string | undefined, port: string): string {
    const chain = this.options.effective === false ? 'IN_other_allow' : 'INPUT';
    const src = source === undefined || source === 'any' ? '' : ` -s ${source.includes('/') ? source : `${source}/32`}`;
    return `-A ${chain}${src} -p tcp -m tcp --dport ${port} -j ACCEPT`;
  }

  private manage(argv: string[]): ExecResult | undefined {
    if (argv[0] === 'firewall-cmd') {
      if (argv[1] === '--reload') {
        // A reload loads the permanent configuration: runtime-only (timed) rules vanish.
        this.runtime = this.permanent.map((line) => ({ line }));
        return ok('success');
      }
      const perm = argv.includes('--permanent');
      const spec = argv.find((a) => /^--(add|remove)-rich-rule=/.test(a))!;
      const m = /source address="([^"]+)" port port="(\d+)"/.exec(spec) ?? /()port port="(\d+)"/.exec(spec)!;
      const line = this.ruleLine(m[1] || undefined, m[2]!);
      if (spec.startsWith('--add')) {
        const timeout = argv.find((a) => a.startsWith('--timeout='));
        if (perm) this.permanent.push(line);
        else this.runtime.unshift({ line, ...(timeout ? { expiresAtMs: Date.now() + Number(timeout.slice(10, -1)) * 1000 } : {}) });
      } else if (perm) {
        this.permanent = this.permanent.filter((l) => l !== line);
      }
      return ok('success');
    }
    if (argv[0] === 'ufw') {
      const from = argv[argv.indexOf('from') + 1];
      const line = this.ruleLine(from, argv[argv.length - 1]!);
      if (argv[1] === 'insert') this.runtime.unshift({ line });
      else this.runtime = this.runtime.filter((r) => r.line !== line);
      return ok('Rule updated');
    }
    return undefined;
  }

  run(cmd: RemoteCommand): ExecResult {
    const argv = cmd.argv;
    this.ran.push(argv);
    if (this.failOn?.test(argv.join(' '))) { this.failOn = undefined; return { ...ok(''), code: 1, stderr: 'Error: INVALID_RULE' }; }
    const managed = this.manage(argv);
    if (managed) return managed;
    const tool = argv[0]!;
    if (tool === 'iptables' && argv[1] === '-V') return ok('iptables v1.8.9 (legacy)');
    if (tool === 'grep' && argv.includes('/proc/net/ip_tables_names')) return ok('/proc/net/ip_tables_names:filter');
    if (tool === 'iptables-legacy-save') return ok(this.rulesText());
    if (tool === 'systemctl') return { ...ok(this.options.manager === 'firewalld' ? 'active\ninactive' : 'inactive\nactive'), code: 3 };
    if (tool === 'ip' && argv.includes('addr')) {
      return ok(JSON.stringify([
        { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
        { ifname: 'eth0', addr_info: [{ family: 'inet', local: '10.0.0.2', prefixlen: 24 }] },
      ]));
    }
    if (tool === 'ip' && argv.includes('route')) return ok(JSON.stringify([{ dst: argv[argv.length - 1], dev: 'eth0', prefsrc: '10.0.0.2' }]));
    if (tool === 'sysctl') return ok('net.ipv4.conf.all.rp_filter = 0');
    if (tool.endsWith('why-blocked-change') && argv[1] === 'status') return ok('none');
    return { ...ok(''), code: 127, stderr: `${tool}: command not found` };
  }

  /** The engine's pool seam: pooled and fresh connections reach the same fake host. */
  pool(): ChangeEngineDeps['pool'] {
    const exec = async (cmd: RemoteCommand): Promise<ExecResult> => this.run(cmd);
    return {
      exec: async (_host, cmd) => exec(cmd),
      connectFresh: async () => ({ exec: async (cmd) => exec(cmd), close: async () => undefined }),
    };
  }

  /** The manager commands that ran, in order. */
  managerCommands(): string[][] {
    return this.ran.filter((a) => a[0] === 'firewall-cmd' || a[0] === 'ufw');
  }
}

function ok(stdout: string): ExecResult {
  return { code: 0, stdout: stdout === '' ? '' : `${stdout}\n`, stderr: '', durationMs: 1, truncated: false, timedOut: false };
}
