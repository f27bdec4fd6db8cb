import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComparableAnswer } from './compare-with-analyzer.ts';
import type { Backend, IpFamily } from './kernel-oracle.ts';
import type { PacketCase } from './run-differential-case.ts';

/** A minimal kernel-vs-analyzer disagreement, replayed by regressions.test.ts until it agrees. */
export interface Regression {
  description: string;
  seed?: number;
  backend: Backend;
  /** iptables vs ip6tables for the iptables backends; absent = ipv4. */
  family?: IpFamily;
  /** Exactly what is loaded: iptables-save text or an `nft -f` script. */
  rulesetText: string;
  /** `ipset restore` input created before the ruleset loads (`-m set` rules). */
  ipsets?: string;
  probe: PacketCase;
  /** The kernel's answer when recorded; the replay re-measures it rather than trusting this. */
  kernel: ComparableAnswer;
  analyzer: ComparableAnswer;
  analyzerRaw?: unknown;
}

export function writeRegression(dir: string, regression: Regression): string {
  mkdirSync(dir, { recursive: true });
  const name = `${regression.backend}${regression.family === 'ipv6' ? '6' : ''}-seed${regression.seed ?? 'fixture'}-${regression.probe.packet.proto}-${regression.probe.packet.dport ?? regression.probe.packet.icmpType ?? 0}.json`;
  const file = join(dir, name);
  writeFileSync(file, `${JSON.stringify(regression, null, 2)}\n`);
  return file;
}

export function readRegressions(dir: string): Array<{ file: string; regression: Regression }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, regression: JSON.parse(readFileSync(join(dir, f), 'utf8')) as Regression }));
}
