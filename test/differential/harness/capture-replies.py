"""Reply capture for the differential harness (runs inside the firewall namespace).

Binds an AF_PACKET socket to the firewall's egress interface and, on each "drain" line from stdin,
prints one JSON line listing the IPv4/IPv6 frames the firewall transmitted since the previous drain.
Outgoing frames reach packet sockets synchronously inside dev_queue_xmit, so a drain issued after
the probe's counters are final sees every reply that probe caused. Stdlib only.
"""
import json
import socket
import struct
import sys

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TCP_FLAG_NAMES = [(0x01, "FIN"), (0x02, "SYN"), (0x04, "RST"), (0x08, "PSH"), (0x10, "ACK"), (0x20, "URG")]


def describe6(frame):
    ip = frame[14:]
    if len(ip) < 40:
        return None
    proto = ip[6]
    out = {"src": socket.inet_ntop(socket.AF_INET6, ip[8:24]), "dst": socket.inet_ntop(socket.AF_INET6, ip[24:40]), "proto": proto}
    l4 = ip[40:]
    if proto == 58 and len(l4) >= 2:
        out["icmpType"], out["icmpCode"] = l4[0], l4[1]
    elif proto == 6 and len(l4) >= 14:
        out["tcpFlags"] = [name for bit, name in TCP_FLAG_NAMES if l4[13] & bit]
    return out


def describe(frame):
    if len(frame) >= 54 and frame[12:14] == b"\x86\xdd":
        return describe6(frame)
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    proto = ip[9]
    out = {"src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]), "proto": proto}
    l4 = ip[ihl:]
    if proto == 1 and len(l4) >= 2:
        out["icmpType"], out["icmpCode"] = l4[0], l4[1]
    elif proto == 6 and len(l4) >= 14:
        out["tcpFlags"] = [name for bit, name in TCP_FLAG_NAMES if l4[13] & bit]
    return out


def main():
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((sys.argv[1], 0))
    s.setblocking(False)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if line.strip() != "drain":
            continue
        frames = []
        while True:
            try:
                frame, addr = s.recvfrom(65535)
            except BlockingIOError:
                break
            if addr[2] == PACKET_OUTGOING:
                described = describe(frame)
                if described is not None:
                    frames.append(described)
        sys.stdout.write(json.dumps(frames) + "\n")
        sys.stdout.flush()


main()
