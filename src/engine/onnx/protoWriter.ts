/**
 * A minimal protocol-buffers wire-format writer (proto3 encoding rules), enough to serialize the ONNX messages
 * in onnxProto.ts without a protobuf dependency.
 *
 * Wire types used: 0 = varint (int32/int64/enum/bool), 2 = length-delimited (bytes, strings, sub-messages,
 * packed repeated scalars), 5 = 32-bit (float).
 *
 * Output is a list of chunks: large byte fields (tensor data) and nested messages are kept by reference and
 * copied exactly once, in `finish()`, so a model with hundreds of MB of initializers is not copied per nesting
 * level.
 */
const BIG = 4096;

export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private chunksLength = 0;
  private buf: Uint8Array = new Uint8Array(64);
  private len = 0;

  /** Total bytes written so far. */
  get length(): number {
    return this.chunksLength + this.len;
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private flushSmall(): void {
    if (this.len === 0) return;
    this.chunks.push(this.buf.slice(0, this.len));
    this.chunksLength += this.len;
    this.len = 0;
  }

  private append(data: Uint8Array): void {
    if (data.length >= BIG) {
      this.flushSmall();
      this.chunks.push(data);
      this.chunksLength += data.length;
    } else {
      this.ensure(data.length);
      this.buf.set(data, this.len);
      this.len += data.length;
    }
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** Unsigned/two's-complement varint. Negative numbers are written as 10-byte 64-bit two's complement. */
  varint(value: number | bigint): void {
    if (typeof value === 'number' && value >= 0 && value < 0x80) {
      this.byte(value);
      return;
    }
    let v = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
    if (v < 0n) v = BigInt.asUintN(64, v);
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** int32 / int64 / enum / bool field (wire type 0). */
  int(field: number, value: number | bigint): void {
    this.tag(field, 0);
    this.varint(value);
  }

  /** float field (wire type 5, little-endian IEEE-754 single). */
  float(field: number, value: number): void {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
  }

  /** bytes field (wire type 2). Large arrays are referenced, not copied, until finish(). */
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.append(data);
  }

  /** string field, UTF-8 encoded. */
  string(field: number, value: string): void {
    this.bytes(field, Buffer.from(value, 'utf8'));
  }

  /** Embedded message: `write` fills a fresh writer whose bytes become this field. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    write(inner);
    this.tag(field, 2);
    this.varint(inner.length);
    inner.flushSmall();
    for (const c of inner.chunks) this.append(c);
  }

  /** Packed repeated varints (int64/int32). */
  packedInts(field: number, values: readonly (number | bigint)[]): void {
    if (values.length === 0) return;
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    this.bytes(field, inner.finish());
  }

  /** Packed repeated floats. */
  packedFloats(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    const data = new Uint8Array(values.length * 4);
    const dv = new DataView(data.buffer);
    values.forEach((v, i) => dv.setFloat32(i * 4, v, true));
    this.bytes(field, data);
  }

  /** The serialized bytes (one copy of everything written). */
  finish(): Uint8Array {
    this.flushSmall();
    if (this.chunks.length === 1) return this.chunks[0].slice();
    const out = new Uint8Array(this.chunksLength);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}
