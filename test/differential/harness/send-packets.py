"""Packet sender for the differential harness (runs inside the sender namespace).

Reads one JSON packet per stdin line and writes it as a complete Ethernet frame on an AF_PACKET
socket, so the sender's own IP stack (routing, neighbours, conntrack) never touches it and any
source address can be spoofed. Answers each line with "ok" or "error <reason>" so the caller can
wait for the frame to be on the wire before reading counters. Stdlib only.
"""
import json
import socket
import struct
import sys

TCP_FLAG_BITS = {"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "PSH": 0x08, "ACK": 0x10, "URG": 0x20, "ECE": 0x40, "CWR": 0x80}
PROTO_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def l4_payload(pkt, proto, src, dst):
    if len(src) == 16:
        pseudo = lambda length: src + dst + struct.pack("!I3xB", length, proto)
    else:
        pseudo = lambda length: src + dst + struct.pack("!BBH", 0, proto, length)
    if proto == 6:
        flags = 0
        for name in pkt.get("tcpFlags", ["SYN"]):
            flags |= TCP_FLAG_BITS[name.upper()]
        seq = pkt.get("seq", 1000)
        ack = pkt.get("ack", 0)
        hdr = struct.pack("!HHIIBBHHH", pkt["sport"], pkt["dport"], seq, ack, 5 << 4, flags, 64240, 0, 0)
        csum = checksum(pseudo(len(hdr)) + hdr)
        return hdr[:16] + struct.pack("!H", csum) + hdr[18:]
    if proto == 17:
        body = b"diff"
        hdr = struct.pack("!HHHH", pkt["sport"], pkt["dport"], 8 + len(body), 0)
        csum = checksum(pseudo(8 + len(body)) + hdr + body) or 0xFFFF
        return hdr[:6] + struct.pack("!H", csum) + body
    if proto == 58:
        body = struct.pack("!HH", pkt.get("icmpId", 77), 1) + b"diffdiff"
        hdr = struct.pack("!BBH", pkt.get("icmpType", 128), pkt.get("icmpCode", 0), 0)
        csum = checksum(pseudo(len(hdr) + len(body)) + hdr + body)
        return hdr[:2] + struct.pack("!H", csum) + body
    if proto == 1:
        body = struct.pack("!HH", pkt.get("icmpId", 77), 1) + b"diffdiff"
        hdr = struct.pack("!BBH", pkt.get("icmpType", 8), pkt.get("icmpCode", 0), 0)
        csum = checksum(hdr + body)
        return hdr[:2] + struct.pack("!H", csum) + body
    return b"\0" * 8


def frame6(pkt, proto):
    if proto == 1:
        proto = 58
    src = socket.inet_pton(socket.AF_INET6, pkt["src"])
    dst = socket.inet_pton(socket.AF_INET6, pkt["dst"])
    l4 = l4_payload(pkt, proto, src, dst)
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(l4), proto, 64, src, dst)
    eth = bytes.fromhex(pkt["dstMac"].replace(":", "")) + bytes.fromhex(pkt["srcMac"].replace(":", "")) + b"\x86\xdd"
    return eth + ip + l4


def frame(pkt):
    proto = pkt["proto"]
    proto = PROTO_NUMBERS[proto] if isinstance(proto, str) else int(proto)
    if ":" in pkt["src"]:
        return frame6(pkt, proto)
    src = socket.inet_aton(pkt["src"])
    dst = socket.inet_aton(pkt["dst"])
    l4 = l4_payload(pkt, proto, src, dst)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), pkt.get("ipId", 1), 0x4000, 64, proto, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = bytes.fromhex(pkt["dstMac"].replace(":", "")) + bytes.fromhex(pkt["srcMac"].replace(":", "")) + b"\x08\x00"
    return eth + ip + l4


def main():
    sockets = {}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            pkt = json.loads(line)
            iface = pkt["iface"]
            if iface not in sockets:
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                s.bind((iface, 0))
                sockets[iface] = s
            sockets[iface].send(frame(pkt))
            sys.stdout.write("ok\n")
        except Exception as exc:  # report, keep serving: one bad packet must not kill the batch
            sys.stdout.write("error %s\n" % str(exc).replace("\n", " "))
        sys.stdout.flush()


main()
