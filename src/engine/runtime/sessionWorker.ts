/**
 * Worker-thread side of {@link RuntimeSession}: owns one onnxruntime InferenceSession and runs it, so
 * the caller's event loop never blocks on `session.run()` (which holds its thread for the whole step).
 *
 * Resident tensors: inputs kept here between runs (parameters, optimizer moments). A run's `carry` map
 * turns chosen outputs into the next run's inputs without copying them to the caller, so training state
 * crosses the thread boundary only when asked for (checkpoints, getParams).
 */

import { parentPort } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { executionProviders, loadOrt, resolveDeviceWith } from './devices';
import { DeviceUnavailableError, looksLikeOutOfMemory, type RuntimeErrorKind } from './errors';
import type { DType, HostTensor } from './tensor';
import type { CreateResult, WorkerRequest, WorkerResponse } from './workerProtocol';

const port = parentPort;
if (!port) throw new Error('sessionWorker.ts must run inside a worker thread');

let ort: typeof Ort | undefined;
let session: Ort.InferenceSession | undefined;
const resident = new Map<string, Ort.Tensor>();

const ORT_TYPES: Record<DType, Ort.Tensor.Type> = {
  float32: 'float32', float64: 'float64', float16: 'float16', int64: 'int64', int32: 'int32', uint8: 'uint8', int8: 'int8', bool: 'bool',
};

function toOrt(o: typeof Ort, name: string, t: HostTensor): Ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  if (!type) throw new BadInput(`input '${name}': unsupported dtype ${String(t.dtype)}`);
  // onnxruntime's bool tensors take a Uint8Array of 0/1.
  return new o.Tensor(type, t.data as Ort.Tensor.DataTypeMap[typeof type], [...t.shape]);
}

function fromOrt(name: string, t: Ort.Tensor): HostTensor {
  const dtype = t.type as DType;
  if (!(dtype in ORT_TYPES)) throw new Error(`output '${name}' has dtype ${t.type}, which the engine does not exchange`);
  const data = t.type === 'bool' ? new Uint8Array((t.data as Uint8Array).buffer, (t.data as Uint8Array).byteOffset, (t.data as Uint8Array).length) : t.data;
  return { dtype, shape: [...t.dims], data: data as HostTensor['data'] };
}

class BadInput extends Error {}

/** onnxruntime session log level: failures are thrown as explained errors, so stderr gets fatal messages only unless ALIGNMENT_ORT_LOG asks. */
function ortLogSeverity(): 0 | 1 | 2 | 3 | 4 {
  const levels = { verbose: 0, info: 1, warning: 2, error: 3 } as const;
  const v = process.env['ALIGNMENT_ORT_LOG'];
  return v && v in levels ? levels[v as keyof typeof levels] : 4;
}

function fail(id: number, kind: RuntimeErrorKind, e: unknown): WorkerResponse {
  const message = e instanceof Error ? e.message : String(e);
  return { id, ok: false, error: { kind: looksLikeOutOfMemory(message) && kind !== 'bad-input' ? 'out-of-memory' : kind, message } };
}

/** A response and the buffers to transfer (not copy) with it. */
interface Reply {
  response: WorkerResponse;
  transfer: ArrayBuffer[];
}

type RequestOf<K extends WorkerRequest['op']> = Extract<WorkerRequest, { op: K }>;

function reply(response: WorkerResponse, transfer: ArrayBuffer[] = []): Reply {
  return { response, transfer };
}

/** Loads onnxruntime on first use, resolves the device and creates the session. */
async function createSession(req: RequestOf<'create'>): Promise<Reply> {
  try {
    ort ??= loadOrt();
    const { device, probes } = await resolveDeviceWith(ort, req.options.device);
    session = await ort.InferenceSession.create(req.model, {
      executionProviders: executionProviders(device),
      intraOpNumThreads: req.options.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: req.options.graphOptimization,
      enableCpuMemArena: req.options.memoryArena,
      // onnxruntime's memory pattern replays the first run's allocations as one block, which it allocates on the
      // second run: a second first-touch run (the engine benchmark's step took 2.9 s on runs 1 and 2, 1.2 s from
      // run 3 on) and no faster steady state (1.14-1.21 s per step without it, 1.21-1.26 s with it).
      enableMemPattern: false,
      logSeverityLevel: ortLogSeverity(),
      ...(req.options.profilePrefix ? { enableProfiling: true, profileFilePrefix: req.options.profilePrefix } : {}),
    });
    const result: CreateResult = { device, probes, inputNames: [...session.inputNames], outputNames: [...session.outputNames] };
    return reply({ id: req.id, ok: true, result });
  } catch (e) {
    if (e instanceof DeviceUnavailableError) {
      return reply({ id: req.id, ok: false, error: { kind: 'device', message: e.message, device: e.device, reason: e.reason, howToFix: e.howToFix } });
    }
    return reply(fail(req.id, 'session-create', e));
  }
}

/**
 * The run's feeds: each model input from the request, else from the resident tensors. Throws {@link BadInput}
 * for a fed, carried or fetched name the model does not have, or an input neither fed nor resident.
 */
function checkedFeeds(o: typeof Ort, s: Ort.InferenceSession, req: RequestOf<'run'>): Record<string, Ort.Tensor> {
  const feeds: Record<string, Ort.Tensor> = {};
  for (const name of Object.keys(req.feeds)) {
    if (!s.inputNames.includes(name)) throw new BadInput(`'${name}' is not an input of this model (inputs: ${s.inputNames.join(', ')})`);
  }
  for (const name of s.inputNames) {
    const given = req.feeds[name];
    if (given) feeds[name] = toOrt(o, name, given);
    else {
      const r = resident.get(name);
      if (!r) throw new BadInput(`input '${name}' was neither fed nor resident (inputs: ${s.inputNames.join(', ')})`);
      feeds[name] = r;
    }
  }
  for (const [out, inp] of Object.entries(req.carry ?? {})) {
    if (!s.outputNames.includes(out)) throw new BadInput(`carry: '${out}' is not an output of this model`);
    if (!s.inputNames.includes(inp)) throw new BadInput(`carry: '${inp}' is not an input of this model`);
  }
  for (const f of req.fetch ?? []) {
    if (!s.outputNames.includes(f)) throw new BadInput(`fetch: '${f}' is not an output of this model (outputs: ${s.outputNames.join(', ')})`);
  }
  return feeds;
}

/** Runs the session, keeps the carried outputs resident and sends back the fetched ones. */
async function runAndCollect(s: Ort.InferenceSession, feeds: Record<string, Ort.Tensor>, req: RequestOf<'run'>): Promise<Reply> {
  const t0 = performance.now();
  const out = await s.run(feeds);
  const runMs = performance.now() - t0;
  const carried = new Set(Object.keys(req.carry ?? {}));
  for (const [outName, inName] of Object.entries(req.carry ?? {})) {
    const t = out[outName];
    if (t) resident.set(inName, t);
  }
  const names = req.fetch ?? s.outputNames.filter((n) => !carried.has(n));
  const result: Record<string, HostTensor> = {};
  const transfer: ArrayBuffer[] = [];
  for (const n of names) {
    const t = out[n];
    if (!t) continue;
    const h = fromOrt(n, t);
    result[n] = h;
    // Carried outputs are still needed here: send a copy of those, transfer the rest.
    if (carried.has(n)) result[n] = { ...h, data: h.data.slice() as HostTensor['data'] };
    else if (h.data.buffer instanceof ArrayBuffer && !transfer.includes(h.data.buffer)) transfer.push(h.data.buffer);
  }
  return reply({ id: req.id, ok: true, result, runMs }, transfer);
}

async function runSession(req: RequestOf<'run'>): Promise<Reply> {
  if (!session || !ort) return reply(fail(req.id, 'disposed', new Error('no session')));
  const s = session;
  let feeds: Record<string, Ort.Tensor>;
  try {
    feeds = checkedFeeds(ort, s, req);
  } catch (e) {
    return reply(fail(req.id, 'bad-input', e));
  }
  try {
    return await runAndCollect(s, feeds, req);
  } catch (e) {
    return reply(fail(req.id, 'run', e));
  }
}

function setResident(req: RequestOf<'setResident'>): Reply {
  try {
    if (!ort) throw new Error('no session');
    for (const [name, t] of Object.entries(req.tensors)) resident.set(name, toOrt(ort, name, t));
    return reply({ id: req.id, ok: true, result: null });
  } catch (e) {
    return reply(fail(req.id, 'bad-input', e));
  }
}

/** Copies of the named resident tensors (they stay resident). */
function getResident(req: RequestOf<'getResident'>): Reply {
  const result: Record<string, HostTensor> = {};
  for (const n of req.names) {
    const t = resident.get(n);
    if (!t) return reply(fail(req.id, 'bad-input', new Error(`no resident tensor '${n}' (have: ${[...resident.keys()].join(', ')})`)));
    const h = fromOrt(n, t);
    result[n] = { ...h, data: h.data.slice() as HostTensor['data'] };
  }
  return reply({ id: req.id, ok: true, result });
}

function endProfiling(req: RequestOf<'endProfiling'>): Reply {
  try {
    if (!session) throw new Error('no session');
    session.endProfiling();
    return reply({ id: req.id, ok: true, result: null });
  } catch (e) {
    return reply(fail(req.id, 'run', e));
  }
}

async function dispose(req: RequestOf<'dispose'>): Promise<Reply> {
  resident.clear();
  const s = session;
  session = undefined;
  if (s) await s.release();
  return reply({ id: req.id, ok: true, result: null });
}

async function handle(req: WorkerRequest): Promise<Reply> {
  switch (req.op) {
    case 'create':
      return createSession(req);
    case 'run':
      return runSession(req);
    case 'setResident':
      return setResident(req);
    case 'getResident':
      return getResident(req);
    case 'endProfiling':
      return endProfiling(req);
    case 'dispose':
      return dispose(req);
  }
}

// Requests are handled one at a time, in order (a session is not re-entrant).
let queue: Promise<void> = Promise.resolve();
port.on('message', (req: WorkerRequest) => {
  queue = queue.then(async () => {
    let out: Reply;
    try {
      out = await handle(req);
    } catch (e) {
      out = { response: fail(typeof req?.id === 'number' ? req.id : -1, 'run', e), transfer: [] };
    }
    port.postMessage(out.response, out.transfer);
  });
});
