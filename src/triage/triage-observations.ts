import type {
  CaptureData, ConnectData, FirewallData, ListenerData, LocalConnectData, PersistenceData, ReachData, TcpWrappersData,
} from './evidence-types.ts';
import type { EvidenceItem, ProbeName } from './report-types.ts';

/** The evidence, typed per probe; a probe that failed contributes nothing but its failure. */
export interface Observations {
  reach?: ReachData;
  /** From the connect probe, or from the connect the capture probe triggered. */
  connect?: ConnectData;
  listener?: ListenerData;
  local?: LocalConnectData;
  wrappers?: TcpWrappersData;
  firewall?: FirewallData;
  capture?: CaptureData;
  persistence?: PersistenceData;
  /** Did any probe on the target itself produce data? */
  targetInspected: boolean;
  failed: ProbeName[];
}

const targetProbes: ProbeName[] = ['listener', 'local-connect', 'tcp-wrappers', 'firewall', 'capture', 'persistence'];

export function observe(evidence: EvidenceItem[], failedProbes: ProbeName[]): Observations {
  const dataOf = <T>(probe: ProbeName): T | undefined => {
    const e = evidence.find((x) => x.probe === probe && x.data !== undefined && x.error === undefined);
    return e?.data as T | undefined;
  };
  const capture = dataOf<CaptureData>('capture');
  const connect = dataOf<ConnectData>('connect') ?? capture?.connect;
  const listener = dataOf<ListenerData>('listener');
  const firewall = dataOf<FirewallData>('firewall');
  const o: Observations = {
    targetInspected: evidence.some((e) => targetProbes.includes(e.probe) && e.data !== undefined && e.error === undefined),
    failed: [...new Set([...failedProbes, ...evidence.filter((e) => e.error !== undefined).map((e) => e.probe)])],
  };
  const reach = dataOf<ReachData>('reach');
  const local = dataOf<LocalConnectData>('local-connect');
  const wrappers = dataOf<TcpWrappersData>('tcp-wrappers');
  const persistence = dataOf<PersistenceData>('persistence');
  if (reach) o.reach = reach;
  if (connect) o.connect = connect;
  if (listener) o.listener = listener;
  if (local) o.local = local;
  if (wrappers) o.wrappers = wrappers;
  if (firewall) o.firewall = firewall;
  if (capture) o.capture = capture;
  if (persistence) o.persistence = persistence;
  return o;
}
