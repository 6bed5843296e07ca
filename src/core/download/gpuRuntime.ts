/**
 * GPU support for installs that cannot run `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install` (a VSIX): onnxruntime's
 * CUDA execution provider comes from the same NuGet package onnxruntime-node's own installer uses
 * (Microsoft.ML.OnnxRuntime.Gpu.Linux at the installed onnxruntime version), checked against the SHA-512 that
 * NuGet's catalog records for it.
 *
 * onnxruntime loads a provider library from the folder of the libonnxruntime it runs (the runtime path), so the
 * provider libraries go beside a copy of the installed onnxruntime-node package (its JS, binding and
 * libonnxruntime) and onnxruntime-common, in a folder of the extension's storage:
 *
 *   <dest>/node_modules/onnxruntime-node/       the copy, with libonnxruntime_providers_{cuda,shared}.so in its bin
 *   <dest>/node_modules/onnxruntime-common/
 *   <dest>/gpu-runtime.json                     written last: version, package, digest (the install is complete)
 *
 * A session started with ORT_MODULE_ENV (src/util/ortModule.ts) = <dest>/node_modules/onnxruntime-node loads that
 * copy (src/engine/runtime/devices.ts, loadOrt), and with it the provider.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { downloadFile, HttpStatusError } from './httpDownload';
import { readZipEntries } from './zipEntries';
import { writeFileDurable } from '../../util/durable';
import { UserError } from '../../util/errors';

export const NUGET_INDEX = 'https://api.nuget.org/v3/index.json';
export const GPU_PACKAGE = 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
export const GPU_MARKER = 'gpu-runtime.json';
const NATIVE = 'runtimes/linux-x64/native';
/** The provider libraries onnxruntime loads for `cuda` (the shared bridge and the CUDA provider). */
export const CUDA_PROVIDER_LIBS = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'] as const;

export interface GpuInstallOptions {
  /** The onnxruntime-node package folder the extension runs (its package.json gives the version). */
  readonly ortPackageDir: string;
  /** The onnxruntime-common package folder it requires. */
  readonly ortCommonDir: string;
  /** The folder to install into (in the extension's global storage). */
  readonly dest: string;
  readonly nugetIndex?: string;
  readonly platform?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: { stage: string; bytes?: number; totalBytes?: number }) => void;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly maxRetries?: number;
}

export interface GpuRuntime {
  readonly version: string;
  /** What ORT_MODULE_ENV points at. */
  readonly ortModule: string;
}

interface NupkgInfo {
  readonly url: string;
  readonly sha512hex: string;
}

async function getJson(url: string, opts: GpuInstallOptions): Promise<Record<string, unknown>> {
  const res = await (opts.fetch ?? fetch)(url, opts.signal ? { signal: opts.signal } : {});
  if (res.status === 404) throw new UserError(`${url}: not found (HTTP 404): NuGet has no ${GPU_PACKAGE} for this onnxruntime version`);
  if (!res.ok) throw new HttpStatusError(res.status, url, res.statusText);
  const body: unknown = await res.json().catch(() => undefined);
  if (typeof body !== 'object' || body === null) throw new UserError(`${url}: the answer is not JSON`);
  return body as Record<string, unknown>;
}

/** The package's download address and SHA-512, from the NuGet v3 service index, registration and catalog. */
export async function resolveGpuPackage(version: string, opts: GpuInstallOptions): Promise<NupkgInfo> {
  const index = await getJson(opts.nugetIndex ?? NUGET_INDEX, opts);
  const resources = Array.isArray(index['resources']) ? (index['resources'] as { '@id'?: unknown; '@type'?: unknown }[]) : [];
  const find = (type: string): string => {
    const r = resources.find((x) => typeof x['@type'] === 'string' && x['@type'].startsWith(type) && typeof x['@id'] === 'string');
    if (!r) throw new UserError(`${opts.nugetIndex ?? NUGET_INDEX}: the NuGet service index lists no ${type}`);
    return String(r['@id']).replace(/\/?$/, '/');
  };
  const id = GPU_PACKAGE.toLowerCase();
  const v = version.toLowerCase();
  const leaf = await getJson(`${find('RegistrationsBaseUrl')}${id}/${v}.json`, opts);
  const catalogUrl = leaf['catalogEntry'];
  if (typeof catalogUrl !== 'string') throw new UserError(`NuGet registration of ${GPU_PACKAGE} ${version} has no catalogEntry`);
  const catalog = await getJson(catalogUrl, opts);
  if (catalog['packageHashAlgorithm'] !== 'SHA512' || typeof catalog['packageHash'] !== 'string') throw new UserError(`NuGet catalog entry of ${GPU_PACKAGE} ${version} has no SHA512 packageHash`);
  return { url: `${find('PackageBaseAddress/3.0.0')}${id}/${v}/${id}.${v}.nupkg`, sha512hex: Buffer.from(catalog['packageHash'], 'base64').toString('hex') };
}

/** The folder of an installed package (its package.json's), found from its entry point: packages may not export package.json. */
export function packageDirOf(name: string, fromDir?: string): string {
  let dir = path.dirname(require.resolve(name, fromDir ? { paths: [fromDir] } : undefined));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: unknown }).name === name) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new UserError(`cannot find the folder of the ${name} package`);
    dir = up;
  }
}

function copyPackage(from: string, to: string, skip: (rel: string) => boolean): void {
  fs.cpSync(from, to, { recursive: true, dereference: true, filter: (src) => !skip(path.relative(from, src)) });
}

/** The installed GPU runtime for this onnxruntime version, or undefined (none, another version, incomplete). */
export function installedGpuRuntime(dest: string, version: string): GpuRuntime | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dest, GPU_MARKER), 'utf8')) as { version?: unknown };
    const ortModule = path.join(dest, 'node_modules', 'onnxruntime-node');
    return m.version === version && fs.existsSync(ortModule) ? { version, ortModule } : undefined;
  } catch {
    return undefined;
  }
}

/** Downloads, verifies and installs the CUDA provider beside a copy of onnxruntime-node (see the module comment). */
export async function installGpuRuntime(opts: GpuInstallOptions): Promise<GpuRuntime> {
  const platform = opts.platform ?? `${process.platform}/${process.arch}`;
  if (platform !== 'linux/x64') throw new UserError(`GPU support is downloaded for Linux x64 only (onnxruntime publishes its CUDA provider for Node.js there); this is ${platform}. The WebGPU device is built in where the platform has it.`);
  const version = (JSON.parse(fs.readFileSync(path.join(opts.ortPackageDir, 'package.json'), 'utf8')) as { version: string }).version;
  opts.onProgress?.({ stage: `Looking up ${GPU_PACKAGE} ${version}` });
  const pkg = await resolveGpuPackage(version, opts);
  const nupkg = path.join(opts.dest, 'download', `${GPU_PACKAGE.toLowerCase()}.${version}.nupkg`);
  await downloadFile({
    url: pkg.url, dest: nupkg, digest: { algorithm: 'sha512', hex: pkg.sha512hex },
    ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.fetch ? { fetch: opts.fetch } : {}), ...(opts.sleep ? { sleep: opts.sleep } : {}), ...(opts.maxRetries !== undefined ? { maxRetries: opts.maxRetries } : {}),
    onBytes: (bytes, totalBytes) => opts.onProgress?.({ stage: 'Downloading the CUDA provider', bytes, ...(totalBytes !== undefined ? { totalBytes } : {}) }),
  });
  opts.onProgress?.({ stage: 'Installing' });
  const libs = readZipEntries(nupkg, CUDA_PROVIDER_LIBS.map((l) => `${NATIVE}/${l}`));
  fs.rmSync(path.join(opts.dest, GPU_MARKER), { force: true });
  const modules = path.join(opts.dest, 'node_modules');
  fs.rmSync(modules, { recursive: true, force: true });
  const ortModule = path.join(modules, 'onnxruntime-node');
  copyPackage(opts.ortPackageDir, ortModule, (rel) => rel === 'node_modules' || rel.startsWith(`node_modules${path.sep}`));
  copyPackage(opts.ortCommonDir, path.join(modules, 'onnxruntime-common'), () => false);
  const bin = path.join(ortModule, 'bin', 'napi-v6', 'linux', 'x64');
  for (const l of CUDA_PROVIDER_LIBS) fs.writeFileSync(path.join(bin, l), libs.get(`${NATIVE}/${l}`) as Buffer, { mode: 0o755 });
  fs.rmSync(path.dirname(nupkg), { recursive: true, force: true });
  writeFileDurable(path.join(opts.dest, GPU_MARKER), JSON.stringify({ version, package: GPU_PACKAGE, sha512: pkg.sha512hex, at: new Date().toISOString() }, null, 2) + '\n');
  return { version, ortModule };
}
