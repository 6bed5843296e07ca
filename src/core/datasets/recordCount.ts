import { createReadStream, promises as fsp } from 'node:fs';

/** What a quick look at a dataset file tells without parsing every record. */
export interface RecordCount {
  /** Non-blank lines of a JSONL file, or elements of a top-level JSON array. */
  records: number;
  bytes: number;
  format: 'jsonl' | 'json-array';
}

const NEWLINE = 0x0a;

/**
 * Counts the records of a `.jsonl` file by streaming its bytes (memory stays flat for 100 MB files): a record
 * is a line holding anything other than whitespace. `.json` files are parsed and must hold an array.
 * Rejects with a message naming the file when it cannot be read or a `.json` file is not an array.
 */
export async function countRecords(file: string, signal?: AbortSignal): Promise<RecordCount> {
  const { size } = await fsp.stat(file);
  if (file.toLowerCase().endsWith('.json')) {
    const parsed: unknown = JSON.parse(await fsp.readFile(file, 'utf8'));
    if (!Array.isArray(parsed)) throw new Error(`${file}: expected a JSON array of records`);
    return { records: parsed.length, bytes: size, format: 'json-array' };
  }
  let records = 0;
  let lineHasContent = false;
  const stream = createReadStream(file, { highWaterMark: 1 << 20, signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === NEWLINE) {
        if (lineHasContent) records++;
        lineHasContent = false;
      } else if (!lineHasContent && b !== 0x20 && b !== 0x09 && b !== 0x0d) {
        lineHasContent = true;
      }
    }
  }
  if (lineHasContent) records++;
  return { records, bytes: size, format: 'jsonl' };
}
