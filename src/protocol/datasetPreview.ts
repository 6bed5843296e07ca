import { defineMessage, v } from './message';

/** Messages between the host and the Dataset Preview panel (webview/datasetPreview). */

/** One record as the preview shows it: the fields people label (prompt/chosen/rejected...) or the raw JSON. */
export interface PreviewRecord {
  /** 1-based line in the file (JSONL) or element index + 1 (JSON array). */
  line: number;
  /** Ordered (field, text) pairs; conversations are flattened to "role: content" lines. */
  fields: { name: string; text: string }[];
  /** Set when the line is not a valid record; the text then is the raw line (truncated). */
  error?: string;
}

export interface PreviewPage {
  file: string;
  fileName: string;
  total: number;
  offset: number;
  records: PreviewRecord[];
}

const record = v.object<PreviewRecord>({
  line: v.integer(1),
  fields: v.array(v.object<{ name: string; text: string }>({ name: v.string(), text: v.string() })),
  error: v.optional(v.string()),
});

/** webview -> host: the panel's script is loaded and listening. */
export const PreviewReady = defineMessage('preview/ready', v.object<Record<string, never>>({}));
/** webview -> host: show `count` records from `offset` (0-based). */
export const PreviewRequestPage = defineMessage(
  'preview/requestPage',
  v.object<{ offset: number; count: number }>({ offset: v.integer(0), count: v.integer(1, 200) }),
);
/** webview -> host: open the file in an editor at a record's line. */
export const PreviewOpenAt = defineMessage('preview/openAt', v.object<{ line: number }>({ line: v.integer(1) }));
/** host -> webview: a page of records. */
export const PreviewShowPage = defineMessage(
  'preview/showPage',
  v.object<PreviewPage>({
    file: v.string(),
    fileName: v.string(),
    total: v.integer(0),
    offset: v.integer(0),
    records: v.array(record, 200),
  }),
);
/** host -> webview: the file could not be read. */
export const PreviewError = defineMessage('preview/error', v.object<{ message: string }>({ message: v.string() }));
