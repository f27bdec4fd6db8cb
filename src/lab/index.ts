// The lab's public surface: the CLI, tests and the demo use only these.
export { startLab, openLab, type Lab, type LabHost, type LabStep, type StartLabOptions, type LabExecOptions } from './start-lab.ts';
export { stopLab, findLabState, type StopLabOptions } from './stop-lab.ts';
export { listLabs, type LabSummary } from './list-labs.ts';
export { labScenarios, getLabScenario } from './scenario-registry.ts';
export type { LabScenario, LabHostSpec, LabListenerSpec, LabFirewallSpec, LabLoginSpec, FirewallBackend } from './lab-scenario.ts';
export type { LabState } from './lab-state.ts';
export type { RunResult, RunOptions } from './run-command.ts';
