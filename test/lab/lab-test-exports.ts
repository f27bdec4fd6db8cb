// What the lab suites import from src/lab, in one place.
export { startLab, stopLab, findLabState, listLabs, type Lab, type LabScenario } from '../../src/lab/index.ts';
export { seedTelnet as seedTelnetScenario } from '../../src/lab/scenarios/seed-telnet.ts';
