/**
 * Messages between {@link RuntimeSession} (caller thread) and its worker thread. Both ends are this
 * module's own code in the same process, so the channel carries typed arrays by structured clone /
 * transfer; the worker still checks each request's shape before acting on it.
 */

import type { DeviceKind, DeviceProbe, DeviceRequest } from './devices';
import type { RuntimeErrorKind } from './errors';
import type { HostTensor } from './tensor';

/** Session options as sent to the worker. */
export interface WorkerSessionOptions {
  readonly device: DeviceRequest;
  /** Intra-op threads (onnxruntime's pool for one op). */
  readonly threads: number;
  readonly graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
  /** onnxruntime's CPU memory arena on or off (RuntimeSessionOptions.memoryArena). */
  readonly memoryArena: boolean;
  /** Write onnxruntime's JSON profile with this file prefix. */
  readonly profilePrefix?: string;
}

export type WorkerRequest =
  | { readonly op: 'create'; readonly id: number; readonly model: Uint8Array; readonly options: WorkerSessionOptions }
  | {
      readonly op: 'run';
      readonly id: number;
      readonly feeds: Readonly<Record<string, HostTensor>>;
      /** Outputs to send back (default: all that are not carried). */
      readonly fetch?: readonly string[];
      /** output name -> resident input name: the output stays in the worker as next run's input. */
      readonly carry?: Readonly<Record<string, string>>;
    }
  | { readonly op: 'setResident'; readonly id: number; readonly tensors: Readonly<Record<string, HostTensor>> }
  | { readonly op: 'getResident'; readonly id: number; readonly names: readonly string[] }
  | { readonly op: 'endProfiling'; readonly id: number }
  | { readonly op: 'dispose'; readonly id: number };

export interface CreateResult {
  readonly device: DeviceKind;
  readonly probes: readonly DeviceProbe[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

export type WorkerResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown; readonly runMs?: number }
  | { readonly id: number; readonly ok: false; readonly error: { readonly kind: RuntimeErrorKind | 'device'; readonly message: string; readonly device?: DeviceKind; readonly reason?: string; readonly howToFix?: string } };
