import type { CliCommand } from './cli-command.ts';
import { explainCommand } from './explain-command.ts';
import { inventoryCommand } from './inventory-command.ts';
import { labCommand } from './lab-command.ts';
import { triageCommand } from './triage-command.ts';

/** Subcommands, in the order `why-blocked help` lists them. Each lives in its own file. */
export const commands: CliCommand[] = [
  triageCommand,
  inventoryCommand,
  explainCommand,
  labCommand,
];
