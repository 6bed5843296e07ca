import { defineMessage, v } from './message';

/**
 * `alignment devices --json` (src/cli/main.ts): what the engine's device probe found on this machine, as one JSON
 * line. The launch form's host runs the bundled CLI and reads this, so only the engine loads onnxruntime.
 */

export type ProbedDevice = 'cpu' | 'cuda' | 'webgpu';

export interface DeviceProbeResult {
  readonly device: ProbedDevice;
  /** A one-node session ran on it and returned the right result. */
  readonly available: boolean;
  /** The provider's library ships inside onnxruntime-node (CUDA's is downloaded at install). */
  readonly bundled: boolean;
  /** Why it is unavailable (onnxruntime's message, one line). */
  readonly reason?: string;
  /** What to do to make it work, when it is unavailable. */
  readonly install?: string;
}

export interface DevicesReport {
  /** Every device the engine knows, in its own order. */
  readonly devices: DeviceProbeResult[];
  /** What a run spec's `device: "auto"` does here: the order it tries, and the device it picks (absent: none works). */
  readonly auto: { readonly order: ProbedDevice[]; readonly device?: ProbedDevice };
}

const probedDevice = v.literal<ProbedDevice>('cpu', 'cuda', 'webgpu');

/** CLI -> host: the device probe's result. */
export const DevicesReportMsg = defineMessage(
  'devices/report',
  v.object<DevicesReport>({
    devices: v.array(
      v.object<DeviceProbeResult>({ device: probedDevice, available: v.boolean(), bundled: v.boolean(), reason: v.optional(v.string()), install: v.optional(v.string()) }),
      16,
    ),
    auto: v.object<DevicesReport['auto']>({ order: v.array(probedDevice, 16), device: v.optional(probedDevice) }),
  }),
);
