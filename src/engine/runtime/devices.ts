/**
 * Execution devices: which onnxruntime execution provider runs a session, probing what this machine
 * can really use, and the clear "how to install it" error when it cannot. Never a silent fallback:
 * a request for `cuda` either runs on CUDA or fails with {@link DeviceUnavailableError}.
 */

import { execFile } from 'node:child_process';
import type * as Ort from 'onnxruntime-node';
import { ORT_MODULE_ENV } from '../../util/ortModule';
import { DeviceUnavailableError } from './errors';
import { probeModelBytes } from './probeModel';

/** A concrete device. */
export type DeviceKind = 'cpu' | 'cuda' | 'webgpu';
/** What a run spec asks for: a device, or `auto` = the first that works of cuda, webgpu, cpu. */
export type DeviceRequest = DeviceKind | 'auto';

/** Where a session runs: the device (default `auto`) and onnxruntime's intra-op threads (default: all cores). */
export interface RunnerOptions {
  readonly device?: DeviceRequest;
  readonly threads?: number;
}

/** `o`'s device and threads where they are set (no device, or 0 threads, leaves the session's default). */
export function runnerOptions(o: RunnerOptions): RunnerOptions {
  return { ...(o.device ? { device: o.device } : {}), ...(o.threads ? { threads: o.threads } : {}) };
}

export const DEVICE_KINDS: readonly DeviceKind[] = ['cpu', 'cuda', 'webgpu'];
/** Preference order for `auto`: a CUDA GPU, then any GPU through WebGPU, then the CPU. */
export const AUTO_ORDER: readonly DeviceKind[] = ['cuda', 'webgpu', 'cpu'];

/** Result of trying a device. */
export interface DeviceProbe {
  readonly device: DeviceKind;
  readonly available: boolean;
  /** Whether the provider's library ships inside onnxruntime-node (cuda does not; it is downloaded at install). */
  readonly bundled: boolean;
  /** Why it is unavailable (first line of onnxruntime's message), when it is. */
  readonly reason?: string;
}

/** What to do to make each device work. */
export function howToInstall(device: DeviceKind): string {
  switch (device) {
    case 'cuda':
      return 'in VS Code run "Alignment: Install GPU Support" (it downloads onnxruntime\'s CUDA provider into the extension\'s storage); ' +
        'from a source checkout, `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node` ' +
        '(it downloads libonnxruntime_providers_cuda.so), on a machine with an NVIDIA GPU and driver, the CUDA 12 runtime ' +
        'and cuDNN 9 on the library path (LD_LIBRARY_PATH). Linux x64 and Windows x64 only.';
    case 'webgpu':
      return 'WebGPU (bundled with onnxruntime-node, Dawn) needs a GPU with working drivers: on Linux a Vulkan driver ' +
        '(e.g. `apt install libvulkan1 mesa-vulkan-drivers`, or the NVIDIA driver; check with `vulkaninfo`), Metal on macOS, ' +
        'D3D12 on Windows.';
    case 'cpu':
      return 'the CPU provider ships with onnxruntime-node; reinstall it (`ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`).';
  }
}

/** onnxruntime execution-provider config for a device. */
export function executionProviders(device: DeviceKind): Ort.InferenceSession.ExecutionProviderConfig[] {
  switch (device) {
    case 'cpu':
      return ['cpu'];
    case 'cuda':
      return [{ name: 'cuda', deviceId: 0 }];
    case 'webgpu':
      return [{ name: 'webgpu' }];
  }
}

/** Parses a device request string (e.g. from a run spec), naming the field on error. */
export function parseDeviceRequest(value: unknown, field = 'device'): DeviceRequest {
  if (value === 'auto' || value === 'cpu' || value === 'cuda' || value === 'webgpu') return value;
  throw new Error(`${field}: expected one of "auto", "cpu", "cuda", "webgpu", got ${JSON.stringify(value)}`);
}

function firstLine(message: string): string {
  // onnxruntime prefixes messages with a source location; keep the human part, one line.
  const line = message.split('\n').map((s) => s.trim()).find((s) => s.length > 0) ?? message;
  const assertion = /was false\. (.*)$/.exec(line); // "<check> was false. <human message>"
  if (assertion?.[1]) return assertion[1].slice(0, 400);
  const located = /:\d+ [^ ]+ (.*)$/.exec(line);
  return (located?.[1] ?? line).slice(0, 400);
}

/**
 * Tries `device` by listing onnxruntime's backends and creating + running a one-node session on it.
 * `ort` is the loaded onnxruntime-node module (passed in so the worker and the main thread share this code).
 */
export async function probeDeviceWith(ort: typeof Ort, device: DeviceKind): Promise<DeviceProbe> {
  const listed = ort.listSupportedBackends().find((b) => b.name === device);
  if (!listed) {
    return { device, available: false, bundled: false, reason: `this onnxruntime-node build (${process.platform}-${process.arch}) has no '${device}' provider` };
  }
  if (NATIVE_LOGGING.has(device)) return probeInChild(device, listed.bundled);
  try {
    const session = await ort.InferenceSession.create(probeModelBytes(), {
      executionProviders: executionProviders(device),
      logSeverityLevel: 4,
      graphOptimizationLevel: 'disabled',
    });
    try {
      const x = new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [4]);
      const out = await session.run({ x });
      const y = out['y']?.data;
      if (!(y instanceof Float32Array) || y[3] !== 8) return { device, available: false, bundled: listed.bundled, reason: 'probe session returned a wrong result' };
    } finally {
      await session.release();
    }
    return { device, available: true, bundled: listed.bundled };
  } catch (e) {
    return { device, available: false, bundled: listed.bundled, reason: firstLine(e instanceof Error ? e.message : String(e)) };
  }
}

/**
 * Providers whose native code writes straight to the process's stderr while starting, which no onnxruntime log
 * option silences: Dawn (behind webgpu) prints "Warning: Couldn't load Vulkan ... at operator()
 * (.../BackendVk.cpp:368)" on a machine without Vulkan. They are probed in a child process whose output is
 * captured (shown only when ALIGNMENT_ORT_LOG asks for onnxruntime's log).
 */
const NATIVE_LOGGING: ReadonlySet<DeviceKind> = new Set(['webgpu']);

/** The child's probe: the same one-node session as {@link probeDeviceWith}; argv: onnxruntime path, model (base64), providers (JSON). */
const CHILD_PROBE = `
const ort = require(process.argv[1]);
ort.env.logLevel = 'fatal';
const say = (r) => { process.stdout.write(JSON.stringify(r)); process.exit(0); };
(async () => {
  try {
    const s = await ort.InferenceSession.create(Buffer.from(process.argv[2], 'base64'), { executionProviders: JSON.parse(process.argv[3]), logSeverityLevel: 4, graphOptimizationLevel: 'disabled' });
    const out = await s.run({ x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4]), [4]) });
    const y = out.y && out.y.data;
    say(y && y[3] === 8 ? { ok: true } : { ok: false, message: 'probe session returned a wrong result' });
  } catch (e) {
    say({ ok: false, message: String((e && e.message) || e) });
  }
})();`;

/** Probes `device` in a child node process (see {@link NATIVE_LOGGING}); its stderr never reaches ours. */
function probeInChild(device: DeviceKind, bundled: boolean): Promise<DeviceProbe> {
  const args = ['-e', CHILD_PROBE, require.resolve(ortModuleId()), Buffer.from(probeModelBytes()).toString('base64'), JSON.stringify(executionProviders(device))];
  // ELECTRON_RUN_AS_NODE: when this runs under an editor's Electron binary, the child is plain node.
  const env = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env, timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (process.env['ALIGNMENT_ORT_LOG'] && stderr) process.stderr.write(stderr);
      let said: { ok?: unknown; message?: unknown } | undefined;
      try {
        said = JSON.parse(stdout) as { ok?: unknown; message?: unknown };
      } catch {
        said = undefined;
      }
      if (said?.ok === true) return resolve({ device, available: true, bundled });
      const why = typeof said?.message === 'string' ? said.message : `the probe process failed (${err?.message ?? 'no result'})`;
      resolve({ device, available: false, bundled, reason: firstLine(why) });
    });
  });
}

/**
 * Resolves a request to a working device, or throws {@link DeviceUnavailableError}.
 * `auto` tries {@link AUTO_ORDER} and takes the first that works (cpu always does).
 */
export async function resolveDeviceWith(ort: typeof Ort, request: DeviceRequest): Promise<{ device: DeviceKind; probes: DeviceProbe[] }> {
  const probes: DeviceProbe[] = [];
  const order = request === 'auto' ? AUTO_ORDER : [request];
  for (const d of order) {
    const p = await probeDeviceWith(ort, d);
    probes.push(p);
    if (p.available) return { device: d, probes };
  }
  const last = probes[probes.length - 1] as DeviceProbe;
  if (request === 'auto') {
    throw new DeviceUnavailableError('cpu', probes.map((p) => `${p.device}: ${p.reason ?? 'unavailable'}`).join('; '), howToInstall('cpu'));
  }
  throw new DeviceUnavailableError(request, last.reason ?? 'unavailable', howToInstall(request));
}

/** The onnxruntime-node module this process loads: {@link ORT_MODULE_ENV}'s, else the bundled one. */
function ortModuleId(): string {
  return process.env[ORT_MODULE_ENV] || 'onnxruntime-node';
}

/** Loads onnxruntime-node (only src/engine/runtime may). */
export function loadOrt(): typeof Ort {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require(ortModuleId()) as typeof Ort;
  // onnxruntime logs a failed provider probe to stderr at error level; the failure is already a thrown,
  // explained error here, so keep stderr for fatal messages unless ALIGNMENT_ORT_LOG asks for more.
  const level = process.env['ALIGNMENT_ORT_LOG'];
  ort.env.logLevel = level === 'verbose' || level === 'info' || level === 'warning' || level === 'error' ? level : 'fatal';
  return ort;
}

/** Probes every device on this thread (for `alignment devices`-style reports). */
export async function probeDevices(): Promise<DeviceProbe[]> {
  const ort = loadOrt();
  const out: DeviceProbe[] = [];
  for (const d of DEVICE_KINDS) out.push(await probeDeviceWith(ort, d));
  return out;
}

/** Resolves a device request on this thread; throws {@link DeviceUnavailableError} with install instructions. */
export async function resolveDevice(request: DeviceRequest): Promise<DeviceKind> {
  return (await resolveDeviceWith(loadOrt(), request)).device;
}
