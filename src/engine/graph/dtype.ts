/** Element types the graph builder supports, and their ONNX / typed-array counterparts. */
import { OnnxDataType } from '../onnx/onnxProto';

export type DType = 'float32' | 'float16' | 'float64' | 'int64' | 'int32' | 'bool';

export const ONNX_DTYPE: Record<DType, number> = {
  float32: OnnxDataType.FLOAT,
  float16: OnnxDataType.FLOAT16,
  float64: OnnxDataType.DOUBLE,
  int64: OnnxDataType.INT64,
  int32: OnnxDataType.INT32,
  bool: OnnxDataType.BOOL,
};

/** Bytes per element. */
export const DTYPE_SIZE: Record<DType, number> = { float32: 4, float16: 2, float64: 8, int64: 8, int32: 4, bool: 1 };

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float16' || d === 'float64';
}

/**
 * Typed arrays accepted as tensor data: float32 -> Float32Array, float64 -> Float64Array,
 * float16 -> Uint16Array (IEEE half bits), int64 -> BigInt64Array, int32 -> Int32Array, bool -> Uint8Array (0/1).
 */
export type TensorData = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array;

/** Rounds a number to the nearest IEEE-754 half and returns its 16-bit pattern (round-to-nearest-even). */
export function floatToHalfBits(value: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // inf / nan
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) !== 0)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) !== 0)) half++;
  if ((half & 0x7c00) === 0x7c00) e = 0x1f; // rounding carried into inf
  return sign | (e === 0x1f ? 0x7c00 : half);
}

/** Decodes a 16-bit IEEE half pattern to a number. */
export function halfBitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Builds a typed array of `dtype` from plain numbers (bool: nonzero -> 1; int64: truncated). */
export function toTypedArray(values: ArrayLike<number>, dtype: DType): TensorData {
  const n = values.length;
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'float16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = floatToHalfBits(values[i]);
      return out;
    }
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(values[i])) throw new Error(`toTypedArray: int64 value ${values[i]} at index ${i} is not finite`);
        out[i] = BigInt(Math.trunc(values[i]));
      }
      return out;
    }
    case 'int32':
      return Int32Array.from(values);
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = values[i] !== 0 ? 1 : 0;
      return out;
    }
  }
}

/** Checks that a typed array matches a dtype, naming `where` in the error. */
export function checkTypedArray(data: TensorData, dtype: DType, where: string): void {
  const ok =
    (dtype === 'float32' && data instanceof Float32Array) ||
    (dtype === 'float64' && data instanceof Float64Array) ||
    (dtype === 'float16' && data instanceof Uint16Array) ||
    (dtype === 'int64' && data instanceof BigInt64Array) ||
    (dtype === 'int32' && data instanceof Int32Array) ||
    (dtype === 'bool' && data instanceof Uint8Array);
  if (!ok) throw new Error(`${where}: data is a ${data.constructor.name}, which does not hold dtype ${dtype}`);
}
