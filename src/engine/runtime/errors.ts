/**
 * Errors raised by the runtime. Each one says what failed and, for devices, how to get it working;
 * nothing here falls back silently to another device.
 */

import { UserError } from '../../util/errors';
import type { DeviceKind } from './devices';

/** A requested device cannot be used on this machine (a user fixes it: the message says how). */
export class DeviceUnavailableError extends UserError {
  override readonly name = 'DeviceUnavailableError';
  constructor(
    readonly device: DeviceKind,
    /** What onnxruntime said when the device was tried. */
    readonly reason: string,
    /** What the user needs to install or change to use this device. */
    readonly howToFix: string,
  ) {
    super(`device '${device}' is not available: ${reason}\nTo use it: ${howToFix}`);
  }
}

/** What kind of failure a {@link RuntimeError} is. */
export type RuntimeErrorKind = 'out-of-memory' | 'session-create' | 'run' | 'worker-exited' | 'disposed' | 'bad-input';

/** A session failed to load or run. `kind` tells an out-of-memory apart from other failures. */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
  constructor(
    readonly kind: RuntimeErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** True when an onnxruntime / allocator message means memory ran out. */
export function looksLikeOutOfMemory(message: string): boolean {
  return /bad_alloc|out of memory|failed to allocate|allocation failed|cudaErrorMemoryAllocation|CUDA_ERROR_OUT_OF_MEMORY|OOM/i.test(message);
}
