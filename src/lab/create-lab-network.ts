import type { LabPlan } from './plan-lab.ts';
import { settleAll } from './settle-all.ts';
import { runChecked } from './run-command.ts';

export interface NetworkContext {
  plan: LabPlan;
  ip: string;
  sysctl: string;
  signal?: AbortSignal;
  /** Called with each namespace / the root veth BEFORE it is created, so teardown knows about it. */
  record(kind: 'namespace' | 'rootVeth', name: string): void;
}

function batch(ip: string, ns: string | undefined, lines: string[], signal: AbortSignal | undefined): Promise<unknown> {
  const argv = ns === undefined ? [ip, '-batch', '-'] : [ip, '-n', ns, '-batch', '-'];
  return runChecked(argv, { input: `${lines.join('\n')}\n`, ...(signal ? { signal } : {}) });
}

/**
 * Namespaces, one bridge per segment in a switch namespace, a veth per host interface, and one
 * root-side veth on the management segment. The root namespace only gains that veth, its
 * address and routes to router-reached lab segments; nothing else on the machine changes.
 */
export async function createLabNetwork(ctx: NetworkContext): Promise<void> {
  const { plan, ip, signal } = ctx;
  const opt = signal ? { signal } : {};
  const namespaces = [plan.switchNs, ...plan.hosts.map((h) => h.ns)];
  for (const ns of namespaces) ctx.record('namespace', ns);
  await settleAll(namespaces.map((ns) => runChecked([ip, 'netns', 'add', ns], opt)));

  ctx.record('rootVeth', plan.rootVeth);
  const veths = plan.hosts.flatMap((h) => h.interfaces.map((i) =>
    `link add ${i.ifname} netns ${h.ns} type veth peer name ${i.peer} netns ${plan.switchNs}`));
  await batch(ip, undefined, [...veths, `link add ${plan.rootVeth} type veth peer name ${plan.rootPeer} netns ${plan.switchNs}`], signal);

  const switchLines = [
    'link set lo up',
    ...plan.bridges.flatMap((b) => [`link add ${b.bridge} type bridge stp_state 0`, `link set ${b.bridge} up`]),
    ...plan.hosts.flatMap((h) => h.interfaces.flatMap((i) => [`link set ${i.peer} master ${i.bridge}`, `link set ${i.peer} up`])),
    `link set ${plan.rootPeer} master ${plan.bridges[0]!.bridge}`,
    `link set ${plan.rootPeer} up`,
  ];
  const rootLines = [
    `addr add ${plan.rootAddress}/26 dev ${plan.rootVeth}`,
    ...(plan.rootAddress6 ? [`addr add ${plan.rootAddress6}/64 dev ${plan.rootVeth} nodad`] : []),
    `link set ${plan.rootVeth} up`,
    ...plan.rootRoutes.map((r) => `route add ${r.to} via ${r.via} dev ${plan.rootVeth}`),
  ];
  await settleAll([
    batch(ip, plan.switchNs, switchLines, signal),
    batch(ip, undefined, rootLines, signal),
    ...plan.hosts.map((h) => batch(ip, h.ns, [
      'link set lo up',
      ...h.interfaces.flatMap((i) => [
        `addr add ${i.ipv4}/26 dev ${i.ifname}`,
        ...(i.ipv6 ? [`addr add ${i.ipv6}/64 dev ${i.ifname} nodad`] : []),
        `link set ${i.ifname} up`,
      ]),
      ...h.routes.map((r) => `route add ${r.to} via ${r.via}`),
    ], signal)),
    ...plan.hosts.map((h) => runChecked([ip, 'netns', 'exec', h.ns, ctx.sysctl, '-q', '-w',
      ...Object.entries(h.sysctls).map(([k, v]) => `${k}=${v}`)], opt)),
  ]);
}
