/**
 * A loopback server that answers like the Hugging Face Hub's two model endpoints, for download tests:
 *   GET /api/models/<owner>/<name>/revision/<rev>?blobs=true  -> { sha, siblings: [{ rfilename, size, lfs? }] }
 *   GET /<owner>/<name>/resolve/<commit>/<file>              -> the bytes, honouring `Range: bytes=N-` (206)
 * Repos can be gated (401 without the right bearer token), a file can drop its connection after some bytes on its
 * first requests, or be served corrupted (its listed sha256 is of the real bytes).
 */
import * as crypto from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubRepoFixture {
  readonly files: Record<string, Uint8Array | string>;
  /** Files stored in LFS (listed with sha256); default: every .safetensors file. */
  readonly lfs?: readonly string[];
  readonly gatedToken?: string;
  /** file -> bytes after which the connection is destroyed, for the first `times` requests of it. */
  readonly drop?: Record<string, { after: number; times: number }>;
  /** Files whose served bytes differ from the listed checksum. */
  readonly corrupt?: readonly string[];
}

export interface HubServer {
  readonly endpoint: string;
  /** Requests seen, as "METHOD path range". */
  readonly log: string[];
  close(): Promise<void>;
}

const COMMIT = 'a'.repeat(40);

export async function startHubServer(repos: Record<string, HubRepoFixture>): Promise<HubServer> {
  const log: string[] = [];
  const drops = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    log.push(`${req.method} ${url.pathname} ${req.headers.range ?? ''}`.trim());
    const rev = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const repoId = rev?.[1] ?? resolve?.[1];
    const repo = repoId ? repos[repoId] : undefined;
    if (!repo || (rev && rev[2] !== 'main')) return void res.writeHead(404, 'Repository Not Found').end('{"error":"Repository not found"}');
    if (repo.gatedToken && req.headers.authorization !== `Bearer ${repo.gatedToken}`) return void res.writeHead(401, 'Unauthorized').end('{"error":"gated"}');
    const bytes = (name: string): Buffer => Buffer.from(repo.files[name] as Uint8Array | string);
    if (rev) {
      const lfs = repo.lfs ?? Object.keys(repo.files).filter((f) => f.endsWith('.safetensors'));
      const siblings = Object.keys(repo.files).map((name) => ({
        rfilename: name,
        size: bytes(name).length,
        ...(lfs.includes(name) ? { lfs: { sha256: crypto.createHash('sha256').update(bytes(name)).digest('hex'), size: bytes(name).length } } : {}),
      }));
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: repoId, sha: COMMIT, siblings }));
    }
    const name = decodeURIComponent((resolve as RegExpExecArray)[3]);
    if (resolve?.[2] !== COMMIT || !(name in repo.files)) return void res.writeHead(404, 'Entry Not Found').end();
    let body = bytes(name);
    if (repo.corrupt?.includes(name)) body = Buffer.from(body.map((b, i) => (i === 0 ? b ^ 0xff : b)));
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, { 'content-length': String(slice.length), ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
    const drop = repo.drop?.[name];
    const seen = drops.get(name) ?? 0;
    if (drop && seen < drop.times) {
      drops.set(name, seen + 1);
      res.write(slice.subarray(0, Math.max(0, drop.after - start)), () => res.destroy());
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    log,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
