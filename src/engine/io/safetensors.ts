/**
 * safetensors reading and writing (https://huggingface.co/docs/safetensors), the checkpoint format shared with
 * Hugging Face `transformers`, PyTorch and most other tools.
 *
 * File layout:
 *   [8 bytes]  N = header length, unsigned 64-bit little-endian
 *   [N bytes]  UTF-8 JSON header: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] },
 *                                   "__metadata__": { "<key>": "<string value>" } }
 *   [rest]     the byte buffer; offsets are relative to its start; little-endian row-major tensors.
 *
 * In memory, half-precision tensors (F16, BF16) are held as Float32Array (exact: every F16/BF16 value is a
 * float32) and keep their on-disk dtype, so a load + save round-trips bit for bit. BOOL is held as Uint8Array
 * (0/1). I64 as BigInt64Array.
 *
 * Files are read tensor by tensor at their header offsets, never whole (fs.readFileSync refuses files over
 * 2 GiB, and a whole-file buffer would double the memory a load needs); see {@link readSafetensors}.
 *
 * Sharded checkpoints (`model.safetensors.index.json` + `model-0000k-of-0000n.safetensors`) load with
 * {@link loadSafetensorsIndex} / {@link loadSafetensorsFolder} and save with {@link writeSafetensorsSharded}.
 */
import * as buffer from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileDurable } from '../../util/durable';
import { UserError } from '../../util/errors';

/** The dtypes this module reads and writes. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** The in-memory array type for each dtype. */
export type TensorData = Float64Array | Float32Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** One tensor: on-disk dtype, shape and values (see the module comment for the in-memory array types). */
export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

/** A parsed safetensors file. `tensors` keeps the file's header order. */
export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** One header entry, without the data (for inspecting shapes without reading the weights). */
export interface SafetensorsHeaderEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** [begin, end) byte offsets into the data buffer. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsHeaderEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data buffer inside the file (8 + header length). */
  dataStart: number;
}

/** Bytes per element on disk. */
export const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Error for any malformed safetensors input; the message names the file. */
export class SafetensorsError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

/** Headers larger than this are rejected (the reference implementation uses the same bound). */
const MAX_HEADER_BYTES = 100_000_000;

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

/** Number of elements of a shape (1 for a scalar `[]`). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Half-precision conversion.
// IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. bfloat16: the top 16 bits of a float32.
// float32 -> half rounds to nearest, ties to even (what PyTorch's .half() / .bfloat16() do).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** binary16 bits -> number. */
export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24; // subnormal: man * 2^-14 * 2^-10
  if (exp === 0x1f) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** number (rounded to float32 first) -> binary16 bits, round to nearest even, overflow to infinity. */
export function floatToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0); // inf / quiet NaN
  // Unbiased exponent e = exp - 127; half exponent field = e + 15.
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00; // overflow
  if (e >= -14) {
    // Normal half: keep 10 mantissa bits, round on the 13 dropped bits.
    let hm = man >>> 13;
    const rest = man & 0x1fff;
    let he = e + 15;
    if (rest > 0x1000 || (rest === 0x1000 && hm & 1)) {
      hm++;
      if (hm === 0x400) {
        hm = 0;
        he++;
        if (he === 0x1f) return sign | 0x7c00;
      }
    }
    return sign | (he << 10) | hm;
  }
  if (e < -25) return sign; // below half the smallest subnormal: zero
  // Subnormal half: value = m * 2^-24 with m < 1024. Full significand (with implicit 1) is 24 bits at 2^(e-23).
  const full = man | 0x800000;
  const shift = -e - 14 + 13; // bits to drop so that the result is in units of 2^-24
  const hm = full >>> shift;
  const rest = full & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  let r = hm;
  if (rest > half || (rest === half && hm & 1)) r++;
  return sign | r; // r may reach 0x400, which is correctly the smallest normal
}

/** bfloat16 bits -> number. */
export function bf16BitsToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** number (rounded to float32 first) -> bfloat16 bits, round to nearest even. */
export function floatToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return ((b >>> 16) | 0x40) & 0xffff; // quiet NaN
  const lsb = (b >>> 16) & 1;
  return ((b + 0x7fff + lsb) >>> 16) & 0xffff;
}

// ---------------------------------------------------------------------------------------------------------
// Header

/**
 * The header's length-prefixed JSON object: `n` header bytes after the 8-byte length field. Checks that the file
 * is long enough to hold them, that they are UTF-8 and that they parse as a JSON object.
 */
function readHeaderJson(bytes: Uint8Array, source: string, fileSize: number): { json: Record<string, unknown>; n: number } {
  if (fileSize < 8) {
    throw new SafetensorsError(`${source}: not a safetensors file: ${fileSize} bytes, too short for the 8-byte header length (truncated or empty file?)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${source}: not a safetensors file: header length ${n64} bytes exceeds ${MAX_HEADER_BYTES} (wrong file type?)`);
  }
  const n = Number(n64);
  if (8 + n > fileSize) {
    throw new SafetensorsError(`${source}: truncated safetensors file: header says ${n} header bytes but the file has only ${fileSize - 8} after the length field`);
  }
  if (8 + n > bytes.byteLength) {
    throw new SafetensorsError(`${source}: internal error: header bytes not supplied`);
  }
  let json: unknown;
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  if (!text.startsWith('{')) {
    throw new SafetensorsError(`${source}: invalid safetensors header: expected a JSON object starting with '{'`);
  }
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${source}: invalid safetensors header JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsError(`${source}: invalid safetensors header: expected a JSON object`);
  }
  return { json: json as Record<string, unknown>, n };
}

/** The `__metadata__` entry: an object of strings. */
function parseMetadata(raw: unknown, source: string): Record<string, string> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError(`${source}: __metadata__ must be an object of strings`);
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new SafetensorsError(`${source}: __metadata__.${k} must be a string, got ${typeof v}`);
    metadata[k] = v;
  }
  return metadata;
}

/** One tensor's entry: a known dtype, a shape, and data offsets that span exactly its bytes inside the data buffer. */
function parseEntry(raw: unknown, where: string, dataSize: number): SafetensorsHeaderEntry {
  if (typeof raw !== 'object' || raw === null) throw new SafetensorsError(`${where}: header entry must be an object`);
  const r = raw as Record<string, unknown>;
  if (!isDtype(r.dtype)) {
    throw new SafetensorsError(`${where}: unsupported dtype ${JSON.stringify(r.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  if (!Array.isArray(r.shape) || !r.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw new SafetensorsError(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(r.shape)}`);
  }
  const off = r.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && (d as number) >= 0) || off[0] > off[1]) {
    throw new SafetensorsError(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(off)}`);
  }
  const shape = r.shape as number[];
  const want = numel(shape) * DTYPE_BYTES[r.dtype];
  const [b, e] = off as [number, number];
  if (e - b !== want) {
    throw new SafetensorsError(`${where}: data_offsets [${b}, ${e}] span ${e - b} bytes but shape [${shape.join(', ')}] of ${r.dtype} needs ${want}`);
  }
  if (e > dataSize) {
    throw new SafetensorsError(`${where}: data ends at byte ${e} of the data buffer but the file has only ${dataSize} data bytes (truncated file?)`);
  }
  return { dtype: r.dtype, shape: [...shape], dataOffsets: [b, e] };
}

/** The spec requires the data buffer to be fully indexed with no holes or overlaps. */
function checkCoverage(entries: Map<string, SafetensorsHeaderEntry>, source: string, dataSize: number): void {
  const spans = [...entries.entries()].sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let pos = 0;
  for (const [name, ent] of spans) {
    const [b, e] = ent.dataOffsets;
    if (b < pos) throw new SafetensorsError(`${source}: tensor "${name}" overlaps the previous tensor (starts at ${b}, previous ends at ${pos})`);
    if (b > pos) throw new SafetensorsError(`${source}: hole in the data buffer before tensor "${name}" (bytes ${pos}..${b} are not used by any tensor)`);
    pos = e;
  }
  if (pos !== dataSize) {
    throw new SafetensorsError(`${source}: the header describes ${pos} data bytes but the file has ${dataSize} (truncated or trailing data)`);
  }
}

/**
 * Parses and validates the header of a safetensors byte array. `source` (a file path or a label) is named in
 * every error. `fileSize` is the total size when `bytes` holds only a prefix of the file.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, source: string, fileSize = bytes.byteLength): SafetensorsHeader {
  const { json, n } = readHeaderJson(bytes, source, fileSize);
  const dataSize = fileSize - 8 - n;
  const entries = new Map<string, SafetensorsHeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') metadata = parseMetadata(raw, source);
    else entries.set(name, parseEntry(raw, `${source}: tensor "${name}"`, dataSize));
  }
  checkCoverage(entries, source, dataSize);
  return { entries, metadata, dataStart: 8 + n };
}

// ---------------------------------------------------------------------------------------------------------
// Decoding / encoding tensor bytes

/**
 * The in-memory array over `buf` (one tensor's bytes, on-disk layout) for every dtype but F16/BF16, without
 * copying. BOOL bytes are normalized to 0/1 in place. The platform is little-endian (checked at module load).
 */
function viewAs(dtype: Exclude<SafetensorsDtype, 'F16' | 'BF16'>, buf: ArrayBuffer): TensorData {
  switch (dtype) {
    case 'F64':
      return new Float64Array(buf);
    case 'F32':
      return new Float32Array(buf);
    case 'I64':
      return new BigInt64Array(buf);
    case 'I32':
      return new Int32Array(buf);
    case 'I16':
      return new Int16Array(buf);
    case 'I8':
      return new Int8Array(buf);
    case 'U8':
      return new Uint8Array(buf);
    case 'BOOL': {
      const u = new Uint8Array(buf);
      for (let i = 0; i < u.length; i++) u[i] = u[i] ? 1 : 0;
      return u;
    }
  }
}

/** Widens half-precision bytes `src` (an even length, any alignment) into `out[at ..]` as float32 values. */
function halfInto(dtype: 'F16' | 'BF16', src: Uint8Array, out: Float32Array, at: number): void {
  const count = src.byteLength / 2;
  if (dtype === 'F16') {
    for (let i = 0; i < count; i++) out[at + i] = f16BitsToFloat(src[2 * i] | (src[2 * i + 1] << 8));
    return;
  }
  // bfloat16 is the top half of a float32: its bits shift into place exactly.
  const o32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < count; i++) o32[at + i] = (src[2 * i] | (src[2 * i + 1] << 8)) << 16;
}

/** Decodes `bytes` (exactly one tensor's data) into its in-memory array. Always copies. */
function decode(dtype: SafetensorsDtype, bytes: Uint8Array): TensorData {
  if (dtype === 'F16' || dtype === 'BF16') {
    const out = new Float32Array(bytes.byteLength / 2);
    halfInto(dtype, bytes, out, 0);
    return out;
  }
  // Copy into a fresh ArrayBuffer, aligned for the element type.
  const buf = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(buf).set(bytes);
  return viewAs(dtype, buf);
}

function expectedArrayName(dtype: SafetensorsDtype): string {
  switch (dtype) {
    case 'F64':
      return 'Float64Array';
    case 'F32':
    case 'F16':
    case 'BF16':
      return 'Float32Array (or Float64Array, converted)';
    case 'I64':
      return 'BigInt64Array';
    case 'I32':
      return 'Int32Array';
    case 'I16':
      return 'Int16Array';
    case 'I8':
      return 'Int8Array';
    case 'U8':
    case 'BOOL':
      return 'Uint8Array';
  }
}

/** Encodes one tensor's values into little-endian bytes of its dtype. */
function encode(name: string, t: SafeTensor): Uint8Array {
  const n = numel(t.shape);
  if (t.data.length !== n) {
    throw new SafetensorsError(`tensor "${name}": shape [${t.shape.join(', ')}] has ${n} elements but its data has ${t.data.length}`);
  }
  const d = t.data;
  const bad = (): never => {
    throw new SafetensorsError(`tensor "${name}": dtype ${t.dtype} needs a ${expectedArrayName(t.dtype)}, got ${d.constructor.name}`);
  };
  const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  switch (t.dtype) {
    case 'F64':
      return d instanceof Float64Array ? bytesOf(d) : bad();
    case 'F32':
      if (d instanceof Float32Array) return bytesOf(d);
      return d instanceof Float64Array ? bytesOf(Float32Array.from(d)) : bad();
    case 'F16':
    case 'BF16': {
      if (!(d instanceof Float32Array || d instanceof Float64Array)) return bad();
      const h = new Uint16Array(n);
      const conv = t.dtype === 'F16' ? floatToF16Bits : floatToBf16Bits;
      for (let i = 0; i < n; i++) h[i] = conv(d[i]);
      return bytesOf(h);
    }
    case 'I64':
      return d instanceof BigInt64Array ? bytesOf(d) : bad();
    case 'I32':
      return d instanceof Int32Array ? bytesOf(d) : bad();
    case 'I16':
      return d instanceof Int16Array ? bytesOf(d) : bad();
    case 'I8':
      return d instanceof Int8Array ? bytesOf(d) : bad();
    case 'U8':
      return d instanceof Uint8Array ? bytesOf(d) : bad();
    case 'BOOL': {
      if (!(d instanceof Uint8Array)) return bad();
      const u = new Uint8Array(n);
      for (let i = 0; i < n; i++) u[i] = d[i] ? 1 : 0;
      return u;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Public read API

/** Parses a whole safetensors file held in memory. `source` is named in errors. */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes, source);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, ent] of header.entries) {
    const [b, e] = ent.dataOffsets;
    tensors.set(name, { dtype: ent.dtype, shape: ent.shape, data: decode(ent.dtype, bytes.subarray(header.dataStart + b, header.dataStart + e)) });
  }
  return { tensors, metadata: header.metadata };
}

/** Opens `file` for reading; a missing or unreadable file is a SafetensorsError naming it. */
function openOrThrow(file: string): number {
  try {
    return fs.openSync(file, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new SafetensorsError(err.code === 'ENOENT' ? `${file}: file not found` : `${file}: cannot open: ${err.message}`);
  }
}

/**
 * Bytes per fs.readSync call: its length argument is a signed 32-bit integer, and Linux's read() returns at most
 * 2 GiB - 4 KiB at once, so larger tensors are read in pieces.
 */
const READ_CHUNK_BYTES = 1 << 30;
/** Bytes of half-precision data staged at a time while they are widened to float32. */
const HALF_CHUNK_BYTES = 1 << 24;

/** Fills `target` with the file's bytes from `position` on; a short file is a SafetensorsError. */
function readFully(fd: number, file: string, target: Uint8Array, position: number): void {
  let done = 0;
  while (done < target.byteLength) {
    const n = fs.readSync(fd, target, done, Math.min(READ_CHUNK_BYTES, target.byteLength - done), position + done);
    if (n === 0) throw new SafetensorsError(`${file}: unexpected end of file at byte ${position + done} (was the file changed while it was read?)`);
    done += n;
  }
}

/** The header of the open file `fd` (size from fstat, so only the header bytes are read). */
function readHeaderFd(fd: number, file: string): SafetensorsHeader {
  const size = fs.fstatSync(fd).size;
  const lenBuf = Buffer.alloc(8);
  fs.readSync(fd, lenBuf, 0, Math.min(8, size), 0);
  let want = 8;
  if (size >= 8) {
    const n = lenBuf.readBigUInt64LE(0);
    if (n <= BigInt(MAX_HEADER_BYTES)) want = Math.min(size, 8 + Number(n));
  }
  const head = Buffer.alloc(want);
  readFully(fd, file, head.subarray(0, Math.min(want, size)), 0);
  return parseSafetensorsHeader(head, file, size);
}

/**
 * One tensor read from its offsets straight into its own array: the file is never held whole, so a load needs
 * about the weights' in-memory size (F16/BF16 widen to float32 through a 16 MiB staging buffer).
 */
function readTensorFd(fd: number, file: string, dataStart: number, name: string, ent: SafetensorsHeaderEntry): TensorData {
  const [b, e] = ent.dataOffsets;
  const bytes = e - b;
  const position = dataStart + b;
  const memBytes = ent.dtype === 'F16' || ent.dtype === 'BF16' ? 2 * bytes : bytes;
  if (memBytes > buffer.constants.MAX_LENGTH) {
    throw new SafetensorsError(`${file}: tensor "${name}" needs ${memBytes} bytes in memory, more than one array can hold here (${buffer.constants.MAX_LENGTH})`);
  }
  if (ent.dtype === 'F16' || ent.dtype === 'BF16') {
    const out = new Float32Array(bytes / 2);
    const stage = new Uint8Array(Math.min(bytes, HALF_CHUNK_BYTES));
    for (let off = 0; off < bytes; off += stage.byteLength) {
      const part = stage.subarray(0, Math.min(stage.byteLength, bytes - off));
      readFully(fd, file, part, position + off);
      halfInto(ent.dtype, part, out, off / 2);
    }
    return out;
  }
  const buf = new ArrayBuffer(bytes);
  readFully(fd, file, new Uint8Array(buf), position);
  return viewAs(ent.dtype, buf);
}

/**
 * Reads a safetensors file tensor by tensor at the header's offsets (never the whole file at once, so files over
 * 2 GiB load and memory stays near the weights' size). `only`: read just these tensors (all when absent; a name
 * the file lacks is skipped, the caller reports it). Errors name the file.
 */
export function readSafetensors(file: string, only?: ReadonlySet<string>): SafetensorsFile {
  const fd = openOrThrow(file);
  try {
    const header = readHeaderFd(fd, file);
    const tensors = new Map<string, SafeTensor>();
    for (const [name, ent] of header.entries) {
      if (only && !only.has(name)) continue;
      tensors.set(name, { dtype: ent.dtype, shape: ent.shape, data: readTensorFd(fd, file, header.dataStart, name, ent) });
    }
    return { tensors, metadata: header.metadata };
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads only the header of a safetensors file (names, dtypes, shapes), without loading the data. */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  const fd = openOrThrow(file);
  try {
    return readHeaderFd(fd, file);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Public write API

/** Tensors to write: a Map (keeps its order in the header) or a plain record. */
export type TensorsInput = Map<string, SafeTensor> | Record<string, SafeTensor>;

function toEntries(tensors: TensorsInput): [string, SafeTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/**
 * Serializes tensors (+ optional string metadata) to safetensors bytes. Data is laid out by decreasing dtype
 * size then name, so every tensor starts aligned to its element size; the header is padded with spaces to a
 * multiple of 8 bytes, as the reference implementation does.
 */
export function serializeSafetensors(tensors: TensorsInput, metadata?: Record<string, string>): Uint8Array {
  const entries = toEntries(tensors);
  const names = new Set<string>();
  for (const [name] of entries) {
    if (name === '__metadata__') throw new SafetensorsError('a tensor cannot be named "__metadata__"');
    if (names.has(name)) throw new SafetensorsError(`duplicate tensor name "${name}"`);
    names.add(name);
  }
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata "${k}" must be a string, got ${typeof v}`);
    }
  }
  const order = [...entries].sort((a, b) => DTYPE_BYTES[b[1].dtype] - DTYPE_BYTES[a[1].dtype] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let off = 0;
  for (const [name, t] of order) {
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`tensor "${name}": invalid shape ${JSON.stringify(t.shape)}`);
    }
    const bytes = encode(name, t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + bytes.byteLength] };
    blobs.push(bytes);
    off += bytes.byteLength;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.byteLength + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let pos = 8 + json.byteLength;
  for (const b of blobs) {
    out.set(b, pos);
    pos += b.byteLength;
  }
  return out;
}

/** Writes `bytes` to `file` atomically and durably (src/util/durable.ts), creating folders; failures are SafetensorsErrors. */
export function writeFileAtomic(file: string, bytes: Uint8Array | string): void {
  try {
    writeFileDurable(file, bytes);
  } catch (e) {
    throw new SafetensorsError(`${file}: cannot write: ${(e as Error).message}`);
  }
}

/** Writes a safetensors file atomically (an interrupted write never leaves a half-written checkpoint). */
export function writeSafetensors(file: string, tensors: TensorsInput, metadata?: Record<string, string>): void {
  writeFileAtomic(file, serializeSafetensors(tensors, metadata));
}

// ---------------------------------------------------------------------------------------------------------
// Sharded checkpoints

/** The file name Hugging Face uses for the shard index. */
export const SAFETENSORS_INDEX_FILE = 'model.safetensors.index.json';
/** The file name of a single-file checkpoint. */
export const SAFETENSORS_SINGLE_FILE = 'model.safetensors';

/**
 * Loads a sharded checkpoint from its index JSON (`{"metadata": {...}, "weight_map": {tensor: shard file}}`).
 * Every shard named in the map must exist, and every mapped tensor must be in its shard.
 */
export function loadSafetensorsIndex(indexFile: string): SafetensorsFile {
  let index: unknown;
  try {
    index = JSON.parse(fs.readFileSync(indexFile, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new SafetensorsError(`${indexFile}: file not found`);
    throw new SafetensorsError(`${indexFile}: invalid index JSON: ${err.message}`);
  }
  const wm = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) {
    throw new SafetensorsError(`${indexFile}: missing "weight_map" object`);
  }
  const dir = path.dirname(indexFile);
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof shard !== 'string') throw new SafetensorsError(`${indexFile}: weight_map["${name}"] must be a file name`);
    const list = byShard.get(shard) ?? [];
    list.push(name);
    byShard.set(shard, list);
  }
  const missingShards = [...byShard.keys()].filter((s) => !fs.existsSync(path.join(dir, s)));
  if (missingShards.length) {
    throw new SafetensorsError(`${indexFile}: shard file(s) not found: ${missingShards.map((s) => path.join(dir, s)).join(', ')}`);
  }
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [shard, names] of byShard) {
    const shardPath = path.join(dir, shard);
    const f = readSafetensors(shardPath, new Set(names));
    metadata = { ...metadata, ...f.metadata };
    for (const name of names) {
      const t = f.tensors.get(name);
      if (!t) throw new SafetensorsError(`${indexFile}: tensor "${name}" is mapped to ${shardPath} but that shard does not contain it`);
      tensors.set(name, t);
    }
  }
  return { tensors, metadata };
}

/**
 * Loads all weights of a Hugging Face-style folder: `model.safetensors.index.json` if present, else
 * `model.safetensors`, else the only `*.safetensors` file there.
 */
export function loadSafetensorsFolder(dir: string): SafetensorsFile {
  const index = path.join(dir, SAFETENSORS_INDEX_FILE);
  if (fs.existsSync(index)) return loadSafetensorsIndex(index);
  const single = path.join(dir, SAFETENSORS_SINGLE_FILE);
  if (fs.existsSync(single)) return readSafetensors(single);
  let files: string[] = [];
  try {
    files = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  } catch (e) {
    throw new SafetensorsError(`${dir}: cannot read folder: ${(e as Error).message}`);
  }
  if (files.length === 1) return readSafetensors(path.join(dir, files[0]));
  if (files.length === 0) {
    const hasBin = fs.readdirSync(dir).some((f) => f.endsWith('.bin') || f.endsWith('.pt') || f.endsWith('.pth'));
    throw new SafetensorsError(
      `${dir}: no ${SAFETENSORS_SINGLE_FILE} or ${SAFETENSORS_INDEX_FILE} found` +
        (hasBin ? ' (only PyTorch .bin/.pt weights are there: convert them to safetensors, e.g. with transformers\' save_pretrained(safe_serialization=True))' : ''),
    );
  }
  throw new SafetensorsError(`${dir}: several .safetensors files (${files.join(', ')}) but no ${SAFETENSORS_INDEX_FILE} saying which tensor is where`);
}

/**
 * Writes tensors as Hugging Face-style shards of at most `maxShardBytes` each (a tensor bigger than that gets
 * its own shard) plus `model.safetensors.index.json`. With one shard it writes a plain `model.safetensors`.
 * Returns the file names written.
 */
export function writeSafetensorsSharded(dir: string, tensors: TensorsInput, maxShardBytes: number, metadata?: Record<string, string>): string[] {
  const entries = toEntries(tensors);
  const groups: [string, SafeTensor][][] = [];
  let cur: [string, SafeTensor][] = [];
  let curBytes = 0;
  let total = 0;
  for (const e of entries) {
    const b = numel(e[1].shape) * DTYPE_BYTES[e[1].dtype];
    total += b;
    if (cur.length && curBytes + b > maxShardBytes) {
      groups.push(cur);
      cur = [];
      curBytes = 0;
    }
    cur.push(e);
    curBytes += b;
  }
  if (cur.length || groups.length === 0) groups.push(cur);
  if (groups.length === 1) {
    writeSafetensors(path.join(dir, SAFETENSORS_SINGLE_FILE), new Map(groups[0]), metadata);
    fs.rmSync(path.join(dir, SAFETENSORS_INDEX_FILE), { force: true });
    return [SAFETENSORS_SINGLE_FILE];
  }
  const n = groups.length;
  const pad = (i: number): string => String(i).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  const written: string[] = [];
  groups.forEach((g, i) => {
    const name = `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
    writeSafetensors(path.join(dir, name), new Map(g), metadata);
    for (const [t] of g) weightMap[t] = name;
    written.push(name);
  });
  const sortedMap: Record<string, string> = {};
  for (const k of Object.keys(weightMap).sort()) sortedMap[k] = weightMap[k];
  writeFileAtomic(path.join(dir, SAFETENSORS_INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: sortedMap }, null, 2) + '\n');
  // A stale single-file checkpoint beside a new index would be ambiguous for other tools.
  fs.rmSync(path.join(dir, SAFETENSORS_SINGLE_FILE), { force: true });
  written.push(SAFETENSORS_INDEX_FILE);
  return written;
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('safetensors: this module assumes a little-endian platform');
}
