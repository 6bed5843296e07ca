/**
 * A loopback server that answers like NuGet's v3 API for one package version, for GPU-support install tests:
 *   /v3/index.json                                   service index (RegistrationsBaseUrl, PackageBaseAddress)
 *   /reg/<id>/<version>.json                         registration leaf -> catalogEntry
 *   /catalog/<id>.<version>.json                     catalog entry: packageHash (base64 SHA-512) of the nupkg
 *   /flat/<id>/<version>/<id>.<version>.nupkg        the package (a ZIP), with Range support
 * The nupkg can drop its connection on its first requests, or be served with a flipped byte.
 */
import * as crypto from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';

/** A ZIP archive of `files` with DEFLATE entries (what `dotnet pack` writes). */
export function makeZip(files: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const comp = zlib.deflateRawSync(data);
    const n = Buffer.from(name, 'utf8');
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(comp.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(comp.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, comp);
    centrals.push(central, n);
    offset += 30 + n.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export interface NugetServer {
  readonly index: string;
  readonly log: string[];
  close(): Promise<void>;
}

export async function startNugetServer(pkg: { id: string; version: string; nupkg: Buffer; drop?: { after: number; times: number }; corrupt?: boolean }): Promise<NugetServer> {
  const id = pkg.id.toLowerCase();
  const v = pkg.version.toLowerCase();
  const hash = crypto.createHash('sha512').update(pkg.nupkg).digest('base64');
  const log: string[] = [];
  let drops = 0;
  let base = '';
  const server: Server = createServer((req, res) => {
    const p = req.url ?? '/';
    log.push(`${p} ${req.headers.range ?? ''}`.trim());
    const json = (o: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(o));
    if (p === '/v3/index.json') return json({ version: '3.0.0', resources: [{ '@id': `${base}/reg/`, '@type': 'RegistrationsBaseUrl/3.6.0' }, { '@id': `${base}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }] });
    if (p === `/reg/${id}/${v}.json`) return json({ catalogEntry: `${base}/catalog/${id}.${v}.json`, packageContent: `${base}/flat/${id}/${v}/${id}.${v}.nupkg` });
    if (p === `/catalog/${id}.${v}.json`) return json({ id: pkg.id, version: pkg.version, packageHash: hash, packageHashAlgorithm: 'SHA512' });
    if (p !== `/flat/${id}/${v}/${id}.${v}.nupkg`) return void res.writeHead(404, 'Not Found').end();
    const body = pkg.corrupt ? Buffer.from(pkg.nupkg.map((b, i) => (i === 100 ? b ^ 1 : b))) : pkg.nupkg;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, { 'content-length': String(slice.length) });
    if (pkg.drop && drops < pkg.drop.times) {
      drops++;
      res.write(slice.subarray(0, Math.max(0, pkg.drop.after - start)), () => res.destroy());
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { index: `${base}/v3/index.json`, log, close: () => new Promise<void>((r) => server.close(() => r())) };
}
