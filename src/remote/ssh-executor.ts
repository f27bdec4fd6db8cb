import type { InventoryHost } from '../config/inventory-types.ts';
import type { Executor } from './executor.ts';
import type { SshPool } from './ssh-pool.ts';

/** An Executor bound to one inventory host, running through the shared pool. */
export function createSshExecutor(pool: SshPool, host: InventoryHost): Executor {
  return {
    kind: 'ssh',
    target: host.name,
    exec: (cmd, options) => pool.exec(host, cmd, options),
  };
}
