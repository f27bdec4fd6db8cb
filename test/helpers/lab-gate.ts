import { describe } from 'vitest';
import { execFileSync } from 'node:child_process';

/**
 * Lab suites need root, Linux and network namespaces. On a laptop they skip with one loud line;
 * in CI (WHY_BLOCKED_REQUIRE_LAB=1) a missing prerequisite fails the run instead of hiding it.
 */
export function labUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return `platform is ${process.platform}, the lab needs Linux network namespaces`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root (the lab creates network namespaces)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return '`ip netns` is not available (install iproute2: scripts/install-system-deps)';
  }
  return undefined;
}

const reason = labUnavailableReason();
const required = process.env.WHY_BLOCKED_REQUIRE_LAB === '1';
let warned = false;

/** `describe` for suites that need the lab. */
export const describeLab: typeof describe = ((name: string, fn: () => void) => {
  if (reason === undefined) return describe(name, fn);
  if (required) {
    return describe(name, () => {
      throw new Error(`WHY_BLOCKED_REQUIRE_LAB=1 but the lab cannot run: ${reason}`);
    });
  }
  if (!warned) {
    warned = true;
    process.stderr.write(`\n*** LAB TESTS SKIPPED: ${reason}. Set WHY_BLOCKED_REQUIRE_LAB=1 to make this an error. ***\n\n`);
  }
  return describe.skip(name, fn);
}) as typeof describe;
