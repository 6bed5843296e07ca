import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { promises as fsp } from 'node:fs';
import type { PreviewRecord } from '../../protocol/datasetPreview';
import { isRecord } from '../../protocol/message';

const MAX_TEXT = 4000;

function clip(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}… (${s.length - MAX_TEXT} more characters)` : s;
}

/** Renders a field's value for reading: strings as-is, message lists as "role: content" lines, the rest as JSON. */
export function fieldText(value: unknown): string {
  if (typeof value === 'string') return value;
  const messages = Array.isArray(value) ? value : isRecord(value) ? [value] : undefined;
  if (messages && messages.every((m) => isRecord(m) && (typeof m.content === 'string' || typeof m.value === 'string'))) {
    return messages
      .map((m) => {
        const r = m as Record<string, unknown>;
        return `${String(r.role ?? r.from ?? '?')}: ${String(r.content ?? r.value)}`;
      })
      .join('\n\n');
  }
  return JSON.stringify(value, null, 2);
}

const PREFERRED = ['id', 'system', 'prompt', 'conversations', 'messages', 'question', 'chosen', 'rejected', 'completion', 'label', 'score'];

/** Turns one parsed record into ordered display fields: well-known preference fields first, then the rest. */
export function recordFields(rec: Record<string, unknown>): { name: string; text: string }[] {
  const names = [...PREFERRED.filter((k) => k in rec), ...Object.keys(rec).filter((k) => !PREFERRED.includes(k))];
  return names.map((name) => ({ name, text: clip(fieldText(rec[name])) }));
}

function toPreview(line: number, raw: unknown, parseError?: string, rawText?: string): PreviewRecord {
  if (parseError !== undefined) return { line, fields: [{ name: 'raw', text: clip(rawText ?? '') }], error: parseError };
  if (!isRecord(raw)) return { line, fields: [{ name: 'value', text: clip(JSON.stringify(raw)) }], error: 'not a JSON object' };
  return { line, fields: recordFields(raw) };
}

/**
 * Reads `count` records starting at record `offset` (0-based, blank lines skipped) of a JSONL file, or
 * elements of a JSON array file. Lines that are not JSON come back with `error` set, never as an exception.
 */
export async function readRecords(file: string, offset: number, count: number): Promise<PreviewRecord[]> {
  if (file.toLowerCase().endsWith('.json')) {
    const parsed: unknown = JSON.parse(await fsp.readFile(file, 'utf8'));
    if (!Array.isArray(parsed)) throw new Error(`${file}: expected a JSON array of records`);
    return parsed.slice(offset, offset + count).map((r, i) => toPreview(offset + i + 1, r));
  }
  const out: PreviewRecord[] = [];
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let lineNo = 0;
  let index = 0;
  try {
    for await (const text of rl) {
      lineNo++;
      if (text.trim() === '') continue;
      if (index++ < offset) continue;
      try {
        out.push(toPreview(lineNo, JSON.parse(text)));
      } catch (e) {
        out.push(toPreview(lineNo, undefined, `line ${lineNo}: not valid JSON (${e instanceof Error ? e.message : String(e)})`, text));
      }
      if (out.length >= count) break;
    }
  } finally {
    rl.close();
  }
  return out;
}
