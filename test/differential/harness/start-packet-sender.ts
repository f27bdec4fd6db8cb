import { fileURLToPath } from 'node:url';
import type { Lab } from './create-lab.ts';
import { startLineProcess } from './line-process.ts';
import { inNetns } from './run-command.ts';

/**
 * A packet as the firewall namespace receives it. `inIface` is the firewall's interface name.
 * IPv6 when the addresses are (then `icmpv6` is ICMPv6, protocol 58).
 */
export interface ProbePacket {
  proto: 'tcp' | 'udp' | 'icmp' | 'icmpv6' | number;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  tcpFlags?: string[];
  icmpType?: number;
  icmpCode?: number;
  inIface: string;
}

export interface PacketSender {
  send(packet: ProbePacket): Promise<void>;
  close(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./send-packets.py', import.meta.url));

/** One long-lived python3 process in the sender namespace; each packet is a JSON line answered by "ok". */
export function startPacketSender(lab: Lab): PacketSender {
  const process = startLineProcess(inNetns(lab.gen, ['python3', '-u', SCRIPT]));
  return {
    async send(packet) {
      const link = lab.links.find((l) => l.fwIface === packet.inIface);
      if (link === undefined) throw new Error(`the lab has no firewall interface ${packet.inIface}`);
      const reply = await process.request(JSON.stringify({ ...packet, iface: link.genIface, dstMac: link.fwMac, srcMac: link.genMac }));
      if (reply !== 'ok') throw new Error(`packet sender failed: ${reply}`);
    },
    close: () => process.close(),
  };
}
