/**
 * Test-only helper: runs emitted model bytes with onnxruntime-node (CPU). Engine code must go through
 * src/engine/runtime; tests may call onnxruntime-node directly.
 */
import * as ort from 'onnxruntime-node';

export type Feed = Float32Array | Float64Array | BigInt64Array | Uint8Array | Int32Array | Uint16Array;
export interface FeedValue {
  data: Feed;
  dims: readonly number[];
}

const ORT_TYPE = (d: Feed): ort.Tensor.Type => {
  if (d instanceof Float32Array) return 'float32';
  if (d instanceof Float64Array) return 'float64';
  if (d instanceof BigInt64Array) return 'int64';
  if (d instanceof Int32Array) return 'int32';
  if (d instanceof Uint16Array) return 'float16';
  return 'bool';
};

/** A loaded model that can be run many times. */
export class OrtModel {
  private constructor(private readonly session: ort.InferenceSession) {}

  /**
   * @param optimization 'basic' for float64 graphs: onnxruntime's extended fusions (e.g. x * sigmoid(x) ->
   *   com.microsoft.QuickGelu) have float32-only kernels.
   */
  static async load(bytes: Uint8Array, optimization: 'basic' | 'all' = 'all'): Promise<OrtModel> {
    return new OrtModel(
      await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: optimization }),
    );
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  async run(feeds: Record<string, FeedValue>): Promise<Record<string, { data: Feed; dims: readonly number[] }>> {
    const t: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) {
      t[k] = new ort.Tensor(ORT_TYPE(v.data), v.data as never, v.dims as number[]);
    }
    const out = await this.session.run(t);
    const r: Record<string, { data: Feed; dims: readonly number[] }> = {};
    for (const [k, v] of Object.entries(out)) r[k] = { data: v.data as Feed, dims: v.dims };
    return r;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
