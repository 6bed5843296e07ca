/**
 * Reads chosen files out of a ZIP archive (a NuGet package is one) without a dependency: the end-of-central-
 * directory record gives the central directory, each entry there gives its local header's offset, method and
 * sizes, and the data is stored (method 0) or raw DEFLATE (method 8). ZIP64 archives and encrypted entries are
 * refused by name. Each extracted file's CRC-32 is checked against the directory's.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { UserError } from '../../util/errors';

interface CentralEntry {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localOffset: number;
}

const EOCD_SIG = 0x06054b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

function findEndRecord(buf: Buffer, file: string): number {
  // The record is 22 bytes plus a comment of at most 65535 bytes, at the end of the file.
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) if (buf.readUInt32LE(i) === EOCD_SIG) return i;
  throw new UserError(`${file}: not a ZIP archive (no end-of-central-directory record)`);
}

function centralDirectory(buf: Buffer, file: string): CentralEntry[] {
  const end = findEndRecord(buf, file);
  const count = buf.readUInt16LE(end + 10);
  let p = buf.readUInt32LE(end + 16);
  if (count === 0xffff || p === 0xffffffff) throw new UserError(`${file}: ZIP64 archives are not supported`);
  const out: CentralEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== CENTRAL_SIG) throw new UserError(`${file}: corrupt ZIP central directory at entry ${i}`);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    out.push({
      flags: buf.readUInt16LE(p + 8),
      method: buf.readUInt16LE(p + 10),
      crc: buf.readUInt32LE(p + 16),
      compressedSize: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      localOffset: buf.readUInt32LE(p + 42),
      name: buf.toString('utf8', p + 46, p + 46 + nameLen),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function entryData(buf: Buffer, e: CentralEntry, file: string): Buffer {
  if (e.flags & 1) throw new UserError(`${file}: ${e.name} is encrypted`);
  const p = e.localOffset;
  if (buf.readUInt32LE(p) !== LOCAL_SIG) throw new UserError(`${file}: corrupt ZIP local header for ${e.name}`);
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const raw = buf.subarray(start, start + e.compressedSize);
  let data: Buffer;
  if (e.method === 0) data = Buffer.from(raw);
  else if (e.method === 8) data = zlib.inflateRawSync(raw);
  else throw new UserError(`${file}: ${e.name} uses ZIP method ${e.method} (only stored and deflate are read)`);
  if (data.length !== e.size || zlib.crc32(data) !== e.crc) throw new UserError(`${file}: ${e.name} fails its CRC-32 check: the archive is corrupt`);
  return data;
}

/** The named entries' bytes, by name; a name the archive lacks is an error naming it. */
export function readZipEntries(file: string, names: readonly string[]): Map<string, Buffer> {
  const buf = fs.readFileSync(file);
  const dir = centralDirectory(buf, file);
  const out = new Map<string, Buffer>();
  for (const name of names) {
    const e = dir.find((d) => d.name === name);
    if (!e) throw new UserError(`${file}: the archive has no ${name}`);
    out.set(name, entryData(buf, e, file));
  }
  return out;
}
