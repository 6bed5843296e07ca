/**
 * Models from the Hugging Face Hub: the revision endpoint pins a branch or tag to a commit and lists the files with
 * their LFS SHA-256, and each file comes from the resolve endpoint at that commit (so a push during the download
 * cannot mix two versions). Only what the engine loads is fetched: config, tokenizer and generation files and the
 * safetensors weights; pickle (.bin/.pt), ONNX, GGUF and the other formats are skipped. Each file resumes and is
 * verified by {@link downloadFile}; a `.alignment-download.json` written last marks the folder complete.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { downloadFile, HttpStatusError } from './httpDownload';
import { writeFileDurable } from '../../util/durable';
import { UserError } from '../../util/errors';

export const HUB_ENDPOINT = 'https://huggingface.co';

/** Small chat models that load in the engine, offered first in the picker. */
export const CURATED_MODELS: readonly { readonly repo: string; readonly note: string }[] = [
  { repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', note: '135M · llama · 270 MB' },
  { repo: 'HuggingFaceTB/SmolLM2-360M-Instruct', note: '360M · llama · 720 MB' },
  { repo: 'Qwen/Qwen2.5-0.5B-Instruct', note: '0.5B · qwen2 · 990 MB' },
  { repo: 'Qwen/Qwen3-0.6B', note: '0.6B · qwen3 · 1.5 GB' },
];

/** The marker written after every file arrived and checked out. */
export const DOWNLOAD_MARKER = '.alignment-download.json';

export interface HubFile {
  readonly name: string;
  readonly size?: number;
  /** The LFS object id (the file's SHA-256) where the file is stored in LFS. */
  readonly sha256?: string;
}

export interface HubDownloadOptions {
  readonly repo: string;
  /** Branch, tag or commit; default `main`. */
  readonly revision?: string;
  readonly endpoint?: string;
  /** A Hub access token (from SecretStorage), for gated and private repos. */
  readonly token?: string;
  /** The folder the model lands in. */
  readonly dir: string;
  readonly signal?: AbortSignal;
  /** Progress over the whole download. */
  readonly onProgress?: (p: { file: string; fileIndex: number; files: number; bytes: number; totalBytes: number }) => void;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly maxRetries?: number;
}

export interface HubDownloadResult {
  readonly dir: string;
  readonly commit: string;
  readonly files: readonly string[];
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const WANTED = /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|tokenizer\.model|vocab\.json|merges\.txt|chat_template\.jinja|.*\.safetensors|model\.safetensors\.index\.json)$/;

/** Checks a repo id (`owner/name`); the message says what a valid one looks like. */
export function checkRepoId(repo: string): string {
  const r = repo.trim();
  if (!REPO_ID.test(r) || r.includes('..')) throw new UserError(`"${repo}" is not a Hub model id: expected owner/name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct`);
  return r;
}

/** The folder name a repo downloads into: `owner--name`. */
export function repoFolderName(repo: string): string {
  return checkRepoId(repo).replace('/', '--');
}

function explainStatus(e: HttpStatusError, repo: string, revision: string, token: boolean): UserError {
  if (e.status === 401 || e.status === 403) {
    return new UserError(token
      ? `${repo} refused the Hub token (HTTP ${e.status}): the model may be gated — accept its license on the Hub with the token's account — or the token lacks read access.`
      : `${repo} needs a Hub token (HTTP ${e.status}): it is gated or private. Accept its license on the Hub, then run "Alignment: Set Hugging Face Token".`);
  }
  if (e.status === 404) return new UserError(`${repo} at revision "${revision}" was not found on the Hub (HTTP 404): check the model id and revision.`);
  return e;
}

/** The revision's commit and the files the engine needs, with their sizes and LFS checksums. */
export async function listHubFiles(opts: HubDownloadOptions): Promise<{ commit: string; files: HubFile[] }> {
  const repo = checkRepoId(opts.repo);
  const revision = opts.revision ?? 'main';
  const url = `${opts.endpoint ?? HUB_ENDPOINT}/api/models/${repo}/revision/${encodeURIComponent(revision)}?blobs=true`;
  const res = await (opts.fetch ?? fetch)(url, { headers: authHeaders(opts.token), ...(opts.signal ? { signal: opts.signal } : {}) });
  if (!res.ok) throw explainStatus(new HttpStatusError(res.status, url, res.statusText), repo, revision, !!opts.token);
  const body: unknown = await res.json().catch(() => undefined);
  const info = parseRevision(body, url);
  const files = info.files.filter((f) => WANTED.test(f.name));
  if (!files.some((f) => f.name === 'config.json')) throw new UserError(`${repo} has no config.json: it is not a transformers model.`);
  if (!files.some((f) => f.name.endsWith('.safetensors'))) throw new UserError(`${repo} has no safetensors weights (only ${info.files.filter((f) => /\.(bin|pt|pth|gguf|onnx)$/.test(f.name)).map((f) => f.name).join(', ') || 'other formats'}); the engine loads safetensors only.`);
  return { commit: info.commit, files };
}

function parseRevision(body: unknown, url: string): { commit: string; files: HubFile[] } {
  const o = body as { sha?: unknown; siblings?: unknown } | undefined;
  if (!o || typeof o.sha !== 'string' || !Array.isArray(o.siblings)) throw new UserError(`${url}: not a Hub revision answer (no sha and siblings)`);
  const files: HubFile[] = [];
  for (const s of o.siblings as unknown[]) {
    const f = s as { rfilename?: unknown; size?: unknown; lfs?: { sha256?: unknown; size?: unknown } };
    if (typeof f.rfilename !== 'string' || f.rfilename.split('/').some((p) => p === '..' || p === '')) continue;
    const sha256 = typeof f.lfs?.sha256 === 'string' ? f.lfs.sha256 : undefined;
    const size = typeof f.lfs?.size === 'number' ? f.lfs.size : typeof f.size === 'number' ? f.size : undefined;
    files.push({ name: f.rfilename, ...(size !== undefined ? { size } : {}), ...(sha256 !== undefined ? { sha256 } : {}) });
  }
  return { commit: o.sha, files };
}

function authHeaders(token: string | undefined): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * Downloads the model into `opts.dir`, resuming what an earlier, interrupted download left, and marks the folder
 * complete. Files already there with the right size and checksum are kept.
 */
export async function downloadHubModel(opts: HubDownloadOptions): Promise<HubDownloadResult> {
  const repo = checkRepoId(opts.repo);
  const { commit, files } = await listHubFiles(opts);
  const totalBytes = files.reduce((n, f) => n + (f.size ?? 0), 0);
  let done = 0;
  for (const [i, f] of files.entries()) {
    const dest = path.join(opts.dir, ...f.name.split('/'));
    // `dest` only ever appears verified (downloadFile renames it into place after the checks), so a file of the
    // listed size is an earlier download's; anything else is fetched again.
    const complete = f.size !== undefined && fs.existsSync(dest) && fs.statSync(dest).size === f.size;
    if (!complete) {
      fs.rmSync(dest, { force: true });
      await downloadFile({
        url: `${opts.endpoint ?? HUB_ENDPOINT}/${repo}/resolve/${commit}/${f.name.split('/').map(encodeURIComponent).join('/')}`,
        dest,
        headers: authHeaders(opts.token),
        ...(f.sha256 !== undefined ? { digest: { algorithm: 'sha256' as const, hex: f.sha256 } } : {}),
        ...(f.size !== undefined ? { size: f.size } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
        ...(opts.sleep ? { sleep: opts.sleep } : {}),
        ...(opts.maxRetries !== undefined ? { maxRetries: opts.maxRetries } : {}),
        onBytes: (b) => opts.onProgress?.({ file: f.name, fileIndex: i, files: files.length, bytes: done + b, totalBytes }),
      }).catch((e: unknown) => {
        throw e instanceof HttpStatusError ? explainStatus(e, repo, opts.revision ?? 'main', !!opts.token) : e;
      });
    }
    done += f.size ?? 0;
  }
  writeFileDurable(path.join(opts.dir, DOWNLOAD_MARKER), JSON.stringify({ repo, revision: opts.revision ?? 'main', commit, files: files.map((f) => f.name), at: new Date().toISOString() }, null, 2) + '\n');
  return { dir: opts.dir, commit, files: files.map((f) => f.name) };
}
