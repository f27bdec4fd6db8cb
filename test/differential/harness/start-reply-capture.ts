import { fileURLToPath } from 'node:url';
import type { Lab } from './create-lab.ts';
import { startLineProcess } from './line-process.ts';
import { inNetns } from './run-command.ts';

/** A frame the firewall sent (RST, ICMP error, echo reply, …), as seen on its egress interface. */
export interface ObservedReply {
  src: string;
  dst: string;
  proto: number;
  icmpType?: number;
  icmpCode?: number;
  tcpFlags?: string[];
}

export interface ReplyCapture {
  /** Frames transmitted since the previous drain. */
  drain(): Promise<ObservedReply[]>;
  close(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./capture-replies.py', import.meta.url));

export async function startReplyCapture(lab: Lab): Promise<ReplyCapture> {
  const process = startLineProcess(inNetns(lab.fw, ['python3', '-u', SCRIPT, lab.egressIface]));
  const banner = await process.nextLine();
  if (banner !== 'ready') throw new Error(`reply capture did not start: ${banner}`);
  return {
    async drain() {
      const reply = await process.request('drain');
      if (!reply.startsWith('[')) throw new Error(`reply capture failed: ${reply}`);
      return JSON.parse(reply) as ObservedReply[];
    },
    close: () => process.close(),
  };
}
