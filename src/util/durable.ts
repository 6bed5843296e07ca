/**
 * Durable file writes, the one implementation every layer uses (checkpoints, run checkpoints, exports, journals).
 *
 * A write is atomic and durable: the bytes go to a temporary file in the target's folder, which is fsynced and
 * renamed over the target, then the folder itself is fsynced. A crash at any point leaves either the old file or
 * the new one, never a mix; once the call returns, the new file survives a power loss. The temporary file is in
 * the same folder so that the rename never crosses file systems (a cross-device rename is a copy, not atomic).
 *
 * This module imports nothing of ours, so that every layer may use it.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Makes the entries of `dir` (a file created or renamed into it) durable. Best effort: some file systems (and
 * Windows) cannot fsync a directory; there a rename is still atomic, and a file's own fsync covers its contents.
 */
export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // No directory fsync here (see above).
  }
}

/**
 * Writes `data` (a string is written as UTF-8) to `file` atomically and durably (see module comment), creating
 * the folder. `mode` is the new file's permission bits before the umask (default 0o666, as `fs.writeFileSync`).
 * On failure the temporary file is removed, the old file is untouched, and the underlying error is rethrown.
 */
export function writeFileDurable(file: string, data: Uint8Array | string, mode = 0o666): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w', mode);
    let off = 0;
    while (off < bytes.byteLength) off += fs.writeSync(fd, bytes, off, bytes.byteLength - off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}
