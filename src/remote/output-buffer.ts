/** Collects one output stream up to a byte cap; bytes past the cap are dropped, never buffered. */
export class OutputBuffer {
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #size = 0;
  overflowed = false;

  constructor(limitBytes: number) {
    this.#limit = limitBytes;
  }

  /** Returns false once the cap is exceeded, so the caller can stop the producer. */
  push(chunk: Buffer): boolean {
    const room = this.#limit - this.#size;
    if (chunk.length > room) {
      if (room > 0) this.#chunks.push(chunk.subarray(0, room));
      this.#size = this.#limit;
      this.overflowed = true;
      return false;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    return true;
  }

  // Decoded once at the end so multi-byte characters split across chunks survive.
  text(): string {
    return Buffer.concat(this.#chunks).toString('utf8');
  }
}
