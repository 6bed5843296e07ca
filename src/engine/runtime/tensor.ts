/**
 * Host-side tensors exchanged with the runtime: plain typed arrays + shape, so they cross
 * worker_threads by structured clone / transfer and carry no onnxruntime object.
 */

/** Element types the engine exchanges with onnxruntime (no bf16 at the Node boundary: cast in-graph). */
export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

/** Typed-array storage for each {@link DType} (float16 is raw IEEE half bits in a Uint16Array; bool is 0/1 bytes). */
export interface DTypeStorage {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  uint8: Uint8Array;
  int8: Int8Array;
  bool: Uint8Array;
}

export type TensorData = DTypeStorage[DType];

/** A dense row-major tensor on the host. */
export interface HostTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

const STORAGE: { [K in DType]: new (n: number) => DTypeStorage[K] } = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
  int8: Int8Array,
  bool: Uint8Array,
};

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Builds a tensor, checking that data length matches the shape and the storage type matches dtype. */
export function tensor<K extends DType>(dtype: K, shape: readonly number[], data: DTypeStorage[K]): HostTensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`tensor shape [${shape.join(', ')}] has an invalid dimension ${d}`);
  }
  const n = numel(shape);
  if (data.length !== n) throw new Error(`tensor of shape [${shape.join(', ')}] needs ${n} ${dtype} elements, got ${data.length}`);
  if (!(data instanceof STORAGE[dtype])) {
    throw new Error(`tensor dtype ${dtype} needs a ${STORAGE[dtype].name}, got ${(data as object).constructor.name}`);
  }
  return { dtype, shape: [...shape], data };
}

/** A zero-filled tensor. */
export function zeros<K extends DType>(dtype: K, shape: readonly number[]): HostTensor {
  return tensor(dtype, shape, new STORAGE[dtype](numel(shape)));
}

/** float32 tensor helper. */
export function f32(shape: readonly number[], data: Float32Array | readonly number[]): HostTensor {
  return tensor('float32', shape, data instanceof Float32Array ? data : Float32Array.from(data));
}

/** int64 tensor helper from numbers (token ids, step counters). */
export function i64(shape: readonly number[], data: BigInt64Array | readonly number[]): HostTensor {
  return tensor('int64', shape, data instanceof BigInt64Array ? data : BigInt64Array.from(data, (x) => BigInt(x)));
}

/** Reads a float32 tensor's data, with a clear error when the dtype is something else. */
export function asF32(t: HostTensor, what: string): Float32Array {
  if (t.dtype !== 'float32' || !(t.data instanceof Float32Array)) throw new Error(`${what}: expected float32, got ${t.dtype}`);
  return t.data;
}
