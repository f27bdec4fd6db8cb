import { ErrorCode, WhyBlockedError } from '../errors.ts';
import type { LabScenario } from './lab-scenario.ts';
import { seedTelnet } from './scenarios/seed-telnet.ts';
import { triageScenarios } from './scenarios/triage-scenarios.ts';

/** Every scenario `lab up` knows, by name. New scenarios: one file in scenarios/ plus one line here. */
export const labScenarios: ReadonlyMap<string, LabScenario> = new Map(
  [seedTelnet, ...triageScenarios].map((s) => [s.name, s]),
);

export function getLabScenario(name: string, scenarios: ReadonlyMap<string, LabScenario> = labScenarios): LabScenario {
  const scenario = scenarios.get(name);
  if (!scenario) {
    throw new WhyBlockedError(ErrorCode.Usage,
      `unknown lab scenario "${name}". Known scenarios: ${[...scenarios.keys()].join(', ')}.`,
      { details: { scenario: name } });
  }
  return scenario;
}
