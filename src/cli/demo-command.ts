import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadInventory } from '../config/load-inventory.ts';
import { resolveHost } from '../config/resolve-host.ts';
import { ErrorCode, usageError, WhyBlockedError } from '../errors.ts';
import { AuditLog } from '../fix/audit-log.ts';
import { memoryBackupStore } from '../fix/backup-store.ts';
import { changeCommands } from '../fix/change-commands.ts';
import { ChangeEngine } from '../fix/change-engine.ts';
import { flowFromReport } from '../fix/change-processor.ts';
import { memoryHostLock } from '../fix/host-lock.ts';
import { startLab, type Lab } from '../lab/index.ts';
import { triageHost } from '../probes/triage-host.ts';
import { SshPool } from '../remote/ssh-pool.ts';
import { renderReportText } from '../triage/render-report-text.ts';
import type { TriageReport } from '../triage/report-types.ts';
import type { CliCommand, CliIo } from './cli-command.ts';

const usage = `Usage:
  why-blocked demo [--deadman SECONDS]

Builds the seed-telnet lab (root, Linux), finds why telnet to the server fails, applies the top fix
through the same safe apply engine the bot uses (compare-and-swap, backup, dead-man switch, atomic
load, verification), shows the client connecting, makes the fix permanent, and removes the lab.`;

/** The lab hosts run on this machine, so the helper is the repository's own copy. */
const repoHelper = fileURLToPath(new URL('../../deploy/host/why-blocked-change', import.meta.url));

function persistenceWarning(report: TriageReport): string | undefined {
  return report.warnings.find((w) => w.code === 'persistence-drift')?.message;
}

async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { deadman: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length > 0) throw usageError(`unexpected arguments: ${positionals.join(' ')}`);
  const deadmanSeconds = values.deadman === undefined ? 30 : Number(values.deadman);
  if (!Number.isInteger(deadmanSeconds) || deadmanSeconds < 5 || deadmanSeconds > 600) throw usageError('--deadman must be a whole number of seconds from 5 to 600');
  const say = (line = '') => io.stdout.write(`${line}\n`);

  say('== 1. Building the seed-telnet lab (a Fedora-style server whose telnet ACCEPT sits after a REJECT)');
  let lab: Lab | undefined;
  let pool: SshPool | undefined;
  try {
    lab = await startLab('seed-telnet', { log: io.log, env: io.env, cwd: io.cwd, signal: io.signal });
    say(`   lab ${lab.name}: server ${lab.hosts.server!.addresses.join(', ')}, client ${lab.hosts.client!.addresses.join(', ')} (${lab.dir})`);
    const inventory = loadInventory(lab.inventoryFile);
    pool = new SshPool({ logger: io.log, resolveJump: (n) => resolveHost(inventory, n) });
    const triage = async () => {
      const report = await triageHost({ target: 'server', port: 23, from: 'client' }, {
        inventory, pool: pool!, log: io.log, budgetMs: 15_000, connectTimeoutMs: 2000, signal: io.signal,
      });
      if (io.signal.aborted) throw new WhyBlockedError(ErrorCode.LabFailed, 'demo interrupted; the lab is being removed');
      return report;
    };

    say('\n== 2. Triage: why-blocked triage server 23 --from client\n');
    const report = await triage();
    say(renderReportText(report));
    const fix = report.fixes.find((f) => f.kind === 'firewall');
    if (!fix) throw new WhyBlockedError(ErrorCode.ApplyFailed, `the triage found no firewall fix (cause: ${report.cause}); the lab may be broken, try \`why-blocked lab down --all\` and run the demo again`);

    say(`\n== 3. Applying the top fix: ${fix.title}`);
    const engine = new ChangeEngine({
      inventory, pool, log: io.log, audit: new AuditLog({ file: join(lab.dir, 'audit.jsonl') }), lock: memoryHostLock(), backups: memoryBackupStore(),
      commands: changeCommands({ helperPath: repoHelper }), deadmanSeconds, deadmanMode: 'setsid', connectTimeoutMs: 2000, signal: io.signal,
      onStep: (step, message) => say(`   [${step}] ${message}`),
    });
    const request = {
      proposal: { id: `prop-${Date.now().toString(16)}${process.pid.toString(16)}`, host: fix.host, commands: fix.commands, rulesetAfter: fix.rulesetAfter, ...(report.rulesetHash ? { rulesetHash: report.rulesetHash } : {}), ...(fix.manager ? { manager: fix.manager } : {}) },
      flow: flowFromReport(report), by: 'demo',
    };
    const applied = await engine.run({ ...request, kind: 'apply' });
    say(`   => ${applied.status}: ${applied.message}`);
    if (applied.status !== 'succeeded') return 1;

    say('\n== 4. The client connects');
    const connect = await lab.exec('client', ['bash', '-c', 'exec 3<>"/dev/tcp/$1/$2" && echo connected && IFS= read -r -t 2 -u 3 line; echo "banner: $line"', 'demo', report.target.address, '23']);
    say(`   client$ telnet ${report.target.address} 23`);
    for (const l of connect.stdout.trim().split('\n')) say(`   ${l.replace(/\r$/, '')}`);
    if (!/connected/.test(connect.stdout)) return 1;

    say('\n== 5. Persistence: the running rules are fixed, but what does the server load at boot?');
    const afterApply = await triage();
    const warning = persistenceWarning(afterApply);
    say(warning ? `   WARNING persistence-drift: ${warning}` : '   (no persistence warning: the saved file already matched)');
    const persisted = await engine.run({ ...request, kind: 'persist' });
    say(`   => ${persisted.status}: ${persisted.message}`);
    const afterPersist = await triage();
    const still = persistenceWarning(afterPersist);
    say(still ? `   persistence warning still present: ${still}` : '   persistence warning cleared: a reboot keeps telnet working');
    return persisted.status === 'succeeded' && !still ? 0 : 1;
  } finally {
    await pool?.close();
    if (lab) {
      say('\n== 6. Tearing the lab down');
      await lab.stop();
    }
  }
}

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'Reproduce the telnet incident in a lab, diagnose it, fix it safely, make it permanent',
  usage,
  run,
};
