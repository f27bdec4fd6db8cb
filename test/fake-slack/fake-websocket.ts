import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Just enough RFC 6455 for the Socket Mode test: text frames, ping→pong, close.
 * Server frames are unmasked; client frames are masked.
 */
export class FakeWebSocket {
  private buffer = Buffer.alloc(0);
  private readonly listeners: ((text: string) => void)[] = [];
  closed = false;

  constructor(private readonly socket: Duplex) {
    socket.on('data', (chunk: Buffer) => { this.buffer = Buffer.concat([this.buffer, chunk]); this.drain(); });
    socket.on('close', () => { this.closed = true; });
    socket.on('error', () => { this.closed = true; });
  }

  static accept(req: IncomingMessage, socket: Duplex): FakeWebSocket {
    const key = String(req.headers['sec-websocket-key']);
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
    return new FakeWebSocket(socket);
  }

  onText(listener: (text: string) => void): void {
    this.listeners.push(listener);
  }

  send(text: string): void {
    this.writeFrame(0x1, Buffer.from(text));
  }

  close(): void {
    if (this.closed) return;
    this.writeFrame(0x8, Buffer.from([0x03, 0xe8]));
    this.socket.end();
    this.closed = true;
  }

  private writeFrame(opcode: number, payload: Buffer): void {
    if (this.closed) return;
    let header: Buffer;
    if (payload.length < 126) header = Buffer.from([0x80 | opcode, payload.length]);
    else if (payload.length < 65536) { header = Buffer.alloc(4); header[0] = 0x80 | opcode; header[1] = 126; header.writeUInt16BE(payload.length, 2); }
    else { header = Buffer.alloc(10); header[0] = 0x80 | opcode; header[1] = 127; header.writeBigUInt64BE(BigInt(payload.length), 2); }
    this.socket.write(Buffer.concat([header, payload]));
  }

  private drain(): void {
    for (;;) {
      if (this.buffer.length < 2) return;
      const b0 = this.buffer[0] ?? 0;
      const b1 = this.buffer[1] ?? 0;
      let length = b1 & 0x7f;
      let offset = 2;
      if (length === 126) { if (this.buffer.length < 4) return; length = this.buffer.readUInt16BE(2); offset = 4; }
      else if (length === 127) { if (this.buffer.length < 10) return; length = Number(this.buffer.readBigUInt64BE(2)); offset = 10; }
      const masked = (b1 & 0x80) !== 0;
      const maskOffset = offset;
      if (masked) offset += 4;
      if (this.buffer.length < offset + length) return;
      const payload = Buffer.from(this.buffer.subarray(offset, offset + length));
      if (masked) for (let i = 0; i < payload.length; i += 1) payload[i] = (payload[i] ?? 0) ^ (this.buffer[maskOffset + (i % 4)] ?? 0);
      this.buffer = this.buffer.subarray(offset + length);
      const opcode = b0 & 0x0f;
      if (opcode === 0x1) for (const l of this.listeners) l(payload.toString('utf8'));
      else if (opcode === 0x9) this.writeFrame(0xa, payload);
      else if (opcode === 0x8) this.close();
    }
  }
}
