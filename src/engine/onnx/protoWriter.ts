/**
 * A minimal protocol-buffers wire-format writer (proto3 encoding rules), enough to serialize the ONNX messages
 * in onnxProto.ts without a protobuf dependency.
 *
 * Wire types used: 0 = varint (int32/int64/enum/bool), 2 = length-delimited (bytes, strings, sub-messages,
 * packed repeated scalars), 5 = 32-bit (float).
 *
 * The output is a list of parts: plain byte arrays for small fields (cheap to grow; allocating a typed array
 * per message made encoding ~40 us per node) and large byte fields (tensor data) kept by reference. A nested
 * message gets a placeholder part for its length, filled in when the message ends, so nothing is encoded twice;
 * everything is copied exactly once, in `finish()`.
 */
const BIG = 1024;

export class ProtoWriter {
  private readonly parts: (number[] | Uint8Array)[] = [];
  private cur: number[] = [];
  /** Bytes in `parts` (excluding `cur`). */
  private partsSize = 0;

  constructor() {
    this.parts.push(this.cur);
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.partsSize + this.cur.length;
  }

  /** Closes the current small part and opens a new one after `part`. */
  private pushPart(part: number[] | Uint8Array): void {
    this.partsSize += this.cur.length + part.length;
    this.parts.push(part);
    this.cur = [];
    this.parts.push(this.cur);
  }

  /** Unsigned/two's-complement varint. Negative numbers are written as 10-byte 64-bit two's complement. */
  varint(value: number | bigint): void {
    if (typeof value === 'number' && value >= 0 && value <= 0xffffffff && Number.isInteger(value)) {
      let v = value;
      while (v >= 0x80) {
        this.cur.push((v & 0x7f) | 0x80);
        v = Math.floor(v / 128);
      }
      this.cur.push(v);
      return;
    }
    let v = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
    if (v < 0n) v = BigInt.asUintN(64, v);
    while (v >= 0x80n) {
      this.cur.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.cur.push(Number(v));
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** int32 / int64 / enum / bool field (wire type 0). */
  int(field: number, value: number | bigint): void {
    this.tag(field, 0);
    this.varint(value);
  }

  /** float field (wire type 5, little-endian IEEE-754 single). */
  float(field: number, value: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(Float32Array.of(value).buffer);
    this.cur.push(b[0], b[1], b[2], b[3]);
  }

  /** bytes field (wire type 2). Large arrays are referenced, not copied, until finish(). */
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    if (data.length >= BIG) this.pushPart(data);
    else for (let i = 0; i < data.length; i++) this.cur.push(data[i]);
  }

  /** string field, UTF-8 encoded. */
  string(field: number, value: string): void {
    let ascii = true;
    for (let i = 0; i < value.length; i++) {
      if (value.charCodeAt(i) >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (!ascii) {
      this.bytes(field, Buffer.from(value, 'utf8'));
      return;
    }
    this.tag(field, 2);
    this.varint(value.length);
    for (let i = 0; i < value.length; i++) this.cur.push(value.charCodeAt(i));
  }

  /** Embedded message: `write` appends the message's fields; its length is patched in afterwards. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    this.tag(field, 2);
    const lenPart: number[] = [];
    this.pushPart(lenPart); // empty for now; partsSize excludes it until filled
    const start = this.length;
    write(this);
    let n = this.length - start;
    while (n >= 0x80) {
      lenPart.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    lenPart.push(n);
    this.partsSize += lenPart.length;
  }

  /** Packed repeated varints (int64/int32). */
  packedInts(field: number, values: readonly (number | bigint)[]): void {
    if (values.length === 0) return;
    this.message(field, (w) => {
      for (const v of values) w.varint(v);
    });
  }

  /** Packed repeated floats. */
  packedFloats(field: number, values: readonly number[]): void {
    if (values.length === 0) return;
    this.bytes(field, new Uint8Array(Float32Array.from(values).buffer));
  }

  /** The serialized bytes (one copy of everything written). */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}
