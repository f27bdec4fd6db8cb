import type { CliCommand } from './cli-command.ts';
import { botCommand } from './bot-command.ts';
import { auditCommand } from './audit-command.ts';
import { demoCommand } from './demo-command.ts';
import { explainCommand } from './explain-command.ts';
import { inventoryCommand } from './inventory-command.ts';
import { labCommand } from './lab-command.ts';
import { startCommand } from './start-command.ts';
import { triageCommand } from './triage-command.ts';
import { workerCommand } from './worker-command.ts';

/** Subcommands, in the order `why-blocked help` lists them. Each lives in its own file. */
export const commands: CliCommand[] = [
  triageCommand,
  inventoryCommand,
  explainCommand,
  labCommand,
  demoCommand,
  auditCommand,
  startCommand,
  botCommand,
  workerCommand,
];
