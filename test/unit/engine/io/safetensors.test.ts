import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  bf16BitsToFloat,
  f16BitsToFloat,
  floatToBf16Bits,
  floatToF16Bits,
  loadSafetensorsFolder,
  parseSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  SafeTensor,
  serializeSafetensors,
  writeSafetensors,
  writeSafetensorsSharded,
} from '../../../../src/engine/io/safetensors';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'st-test-'));
}

function allDtypes(): Map<string, SafeTensor> {
  return new Map<string, SafeTensor>([
    ['f64', { dtype: 'F64', shape: [2, 2], data: new Float64Array([1.5, -2.25, Math.PI, 1e-300]) }],
    ['f32', { dtype: 'F32', shape: [3], data: new Float32Array([0.1, -0, 3e38]) }],
    ['f16', { dtype: 'F16', shape: [4], data: new Float32Array([1, -0.5, 65504, 2 ** -24]) }],
    ['bf16', { dtype: 'BF16', shape: [2, 1], data: new Float32Array([1.5, -3 * 2 ** 100]) }],
    ['i64', { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 62n), 7n]) }],
    ['i32', { dtype: 'I32', shape: [1, 1, 2], data: new Int32Array([-5, 2 ** 31 - 1]) }],
    ['u8', { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) }],
    ['mask', { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([42]) }],
    ['empty', { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) }],
  ]);
}

test('round-trips every dtype, shape and metadata through a file, bit for bit', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'a.safetensors');
  const src = allDtypes();
  writeSafetensors(file, src, { format: 'pt', note: 'héllo' });
  const back = readSafetensors(file);
  assert.deepEqual(back.metadata, { format: 'pt', note: 'héllo' });
  assert.deepEqual([...back.tensors.keys()].sort(), [...src.keys()].sort());
  for (const [name, t] of src) {
    const b = back.tensors.get(name)!;
    assert.equal(b.dtype, t.dtype, name);
    assert.deepEqual(b.shape, t.shape, name);
    assert.deepEqual(Array.from(b.data as ArrayLike<number | bigint>), Array.from(t.data as ArrayLike<number | bigint>), name);
  }
  // A second save of what was loaded gives identical bytes.
  const again = serializeSafetensors(back.tensors, back.metadata);
  assert.deepEqual(Buffer.from(again), fs.readFileSync(file));
  // Header is 8-byte aligned and every tensor starts aligned to its element size.
  const h = readSafetensorsHeader(file);
  assert.equal(h.dataStart % 8, 0);
  const sizes: Record<string, number> = { F64: 8, I64: 8, F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1, BOOL: 1 };
  for (const e of h.entries.values()) assert.equal(e.dataOffsets[0] % sizes[e.dtype], 0);
});

test('reads a file laid out by hand exactly as the spec describes', () => {
  // {"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"format":"pt"}} + two floats.
  const header = JSON.stringify({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, __metadata__: { format: 'pt' } });
  const hb = Buffer.from(header);
  const buf = Buffer.alloc(8 + hb.length + 8);
  buf.writeBigUInt64LE(BigInt(hb.length), 0);
  hb.copy(buf, 8);
  buf.writeFloatLE(1.25, 8 + hb.length);
  buf.writeFloatLE(-7, 12 + hb.length);
  const f = parseSafetensors(buf, 'hand');
  assert.deepEqual(Array.from(f.tensors.get('w')!.data as Float32Array), [1.25, -7]);
  assert.deepEqual(f.metadata, { format: 'pt' });
});

test('float16 and bfloat16 conversions round to nearest even and handle specials', () => {
  assert.equal(floatToF16Bits(1), 0x3c00);
  assert.equal(floatToF16Bits(-2), 0xc000);
  assert.equal(floatToF16Bits(65504), 0x7bff);
  assert.equal(floatToF16Bits(65520), 0x7c00); // rounds up to infinity
  assert.equal(floatToF16Bits(2 ** -24), 0x0001); // smallest subnormal
  assert.equal(floatToF16Bits(2 ** -25), 0x0000); // tie rounds to even (zero)
  assert.equal(floatToF16Bits(3 * 2 ** -25), 0x0002); // tie rounds to even (2)
  assert.equal(floatToF16Bits(2 ** -14), 0x0400); // smallest normal
  assert.equal(floatToF16Bits(1 + 2 ** -11), 0x3c00); // tie to even, down
  assert.equal(floatToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie to even, up
  assert.ok(Number.isNaN(f16BitsToFloat(floatToF16Bits(NaN))));
  assert.equal(f16BitsToFloat(0xfc00), -Infinity);
  assert.equal(f16BitsToFloat(0x3555), 0.333251953125);
  // Every finite half value survives half -> float -> half.
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00) continue;
    assert.equal(floatToF16Bits(f16BitsToFloat(h)), h);
  }
  assert.equal(floatToBf16Bits(1), 0x3f80);
  assert.equal(bf16BitsToFloat(0x3f80), 1);
  assert.equal(floatToBf16Bits(1 + 2 ** -8), 0x3f80); // tie to even, down
  assert.equal(floatToBf16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie to even, up
  assert.ok(Number.isNaN(bf16BitsToFloat(floatToBf16Bits(NaN))));
});

test('truncated and invalid files give errors naming the file', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'model.safetensors');
  writeSafetensors(file, allDtypes());
  const bytes = fs.readFileSync(file);
  const cut = path.join(dir, 'cut.safetensors');
  fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 3));
  assert.throws(() => readSafetensors(cut), (e: Error) => e.message.includes(cut) && /truncated/.test(e.message));
  fs.writeFileSync(cut, bytes.subarray(0, 20));
  assert.throws(() => readSafetensors(cut), (e: Error) => e.message.includes(cut) && /truncated/.test(e.message));
  fs.writeFileSync(cut, bytes.subarray(0, 5));
  assert.throws(() => readSafetensors(cut), (e: Error) => e.message.includes(cut) && /too short/.test(e.message));
  const junk = path.join(dir, 'junk.safetensors');
  fs.writeFileSync(junk, Buffer.from('PK\x03\x04 this is a zip file, not safetensors at all'));
  assert.throws(() => readSafetensors(junk), (e: Error) => e.message.includes(junk));
  const badJson = Buffer.alloc(8 + 4);
  badJson.writeBigUInt64LE(4n, 0);
  badJson.write('{"a"', 8);
  assert.throws(() => parseSafetensors(badJson, 'X.safetensors'), /X\.safetensors: invalid safetensors header JSON/);
  const mk = (header: object, dataBytes: number): Buffer => {
    const hb = Buffer.from(JSON.stringify(header));
    const b = Buffer.alloc(8 + hb.length + dataBytes);
    b.writeBigUInt64LE(BigInt(hb.length), 0);
    hb.copy(b, 8);
    return b;
  };
  assert.throws(() => parseSafetensors(mk({ w: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }, 1), 'f'), /tensor "w": unsupported dtype "Q4"/);
  assert.throws(() => parseSafetensors(mk({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), 'f'), /needs 12/);
  assert.throws(() => parseSafetensors(mk({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), 'f'), /hole/);
  assert.throws(() => parseSafetensors(mk({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8), 'f'), /trailing data/);
  assert.throws(
    () => parseSafetensors(mk({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), 'f'),
    /overlaps/,
  );
  assert.throws(() => parseSafetensors(mk({ __metadata__: { n: 3 } }, 0), 'f'), /__metadata__\.n must be a string/);
  assert.throws(() => readSafetensors(path.join(dir, 'nope.safetensors')), /nope\.safetensors: file not found/);
});

test('writing rejects data that does not match dtype or shape', () => {
  assert.throws(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /tensor "w": shape \[3\] has 3 elements but its data has 2/);
  assert.throws(() => serializeSafetensors({ w: { dtype: 'I64', shape: [1], data: new Int32Array(1) } }), /tensor "w": dtype I64 needs a BigInt64Array, got Int32Array/);
});

test('sharded checkpoints save and load; a missing shard names the file', () => {
  const dir = tmpDir();
  const tensors = new Map<string, SafeTensor>();
  for (let i = 0; i < 5; i++) tensors.set(`layer.${i}.w`, { dtype: 'F32', shape: [16], data: Float32Array.from({ length: 16 }, (_, j) => i * 100 + j) });
  const written = writeSafetensorsSharded(dir, tensors, 130);
  assert.ok(written.includes('model.safetensors.index.json'));
  assert.equal(written.length, 4); // 3 shards of <= 2 tensors + index
  const back = loadSafetensorsFolder(dir);
  assert.equal(back.tensors.size, 5);
  assert.deepEqual(Array.from(back.tensors.get('layer.3.w')!.data as Float32Array).slice(0, 2), [300, 301]);
  const shard = path.join(dir, 'model-00002-of-00003.safetensors');
  fs.rmSync(shard);
  assert.throws(() => loadSafetensorsFolder(dir), (e: Error) => e.message.includes(shard) && /not found/.test(e.message));

  const empty = tmpDir();
  assert.throws(() => loadSafetensorsFolder(empty), /no model\.safetensors or model\.safetensors\.index\.json found/);
});

test('F16 and BF16 tensors larger than the 16 MiB staging buffer widen exactly, also at an odd data offset', () => {
  // 9 Mi elements (18 MiB) per tensor: the widening crosses the staging-buffer boundary. Every bit pattern of
  // the half type appears; a 1-byte U8 tensor sorted first puts the half tensors at odd offsets in the data.
  const n = 9 * 2 ** 20;
  const bits = Uint16Array.from({ length: n }, (_, i) => (i * 40503) & 0xffff);
  const dir = tmpDir();
  const file = path.join(dir, 'half.safetensors');
  const header = {
    a_u8: { dtype: 'U8', shape: [1], data_offsets: [0, 1] },
    bf16: { dtype: 'BF16', shape: [n], data_offsets: [1, 1 + 2 * n] },
    f16: { dtype: 'F16', shape: [n], data_offsets: [1 + 2 * n, 1 + 4 * n] },
  };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const half = Buffer.from(bits.buffer);
  fs.writeFileSync(file, Buffer.concat([len, json, Buffer.from([7]), half, half]));
  const back = readSafetensors(file).tensors;
  assert.deepEqual(Array.from(back.get('a_u8')!.data as Uint8Array), [7]);
  const bf = back.get('bf16')!.data as Float32Array;
  const f16 = back.get('f16')!.data as Float32Array;
  let bad = 0;
  for (let i = 0; i < n; i++) {
    const wantBf = bf16BitsToFloat(bits[i]);
    const wantF16 = f16BitsToFloat(bits[i]);
    if (!Object.is(bf[i], wantBf) && !(Number.isNaN(bf[i]) && Number.isNaN(wantBf))) bad++;
    if (!Object.is(f16[i], wantF16) && !(Number.isNaN(f16[i]) && Number.isNaN(wantF16))) bad++;
  }
  assert.equal(bad, 0);
});

test('a sharded load reads from each shard only the tensors its index maps there', () => {
  const dir = tmpDir();
  const tensors = new Map<string, SafeTensor>();
  for (let i = 0; i < 4; i++) tensors.set(`w${i}`, { dtype: 'F32', shape: [4], data: Float32Array.of(i, i, i, i) });
  writeSafetensorsSharded(dir, tensors, 40);
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  const index = JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { weight_map: Record<string, string> };
  delete index.weight_map.w1; // w1 stays in its shard but is no longer part of the checkpoint
  fs.writeFileSync(indexFile, JSON.stringify(index));
  const back = loadSafetensorsFolder(dir);
  assert.deepEqual([...back.tensors.keys()].sort(), ['w0', 'w2', 'w3']);
  assert.deepEqual(Array.from(back.tensors.get('w3')!.data as Float32Array), [3, 3, 3, 3]);
});
