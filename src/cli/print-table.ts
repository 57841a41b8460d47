// Plain-text output for the admin commands: a column table for lists, a "key: value" block for
// one object. Values are flattened to one line each (lists comma-joined, objects as JSON).

/** One cell or field value as a single line; absent values print as "-". */
export function formatValue(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
  if (typeof value === 'object') return Object.keys(value).length === 0 ? '-' : JSON.stringify(value);
  return String(value);
}

export interface Column {
  /** Field of the row object. */
  readonly field: string;
  /** Header text; defaults to the field name in upper case. */
  readonly header?: string;
}

/** Left-aligned columns separated by two spaces, with a header row. */
export function formatTable(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly Column[]): string {
  const headers = columns.map((c) => c.header ?? c.field.toUpperCase());
  const cells = rows.map((row) => columns.map((c) => formatValue(row[c.field])));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(headers), ...cells.map(line)].join('\n');
}

/** "field: value" lines, fields aligned, in the object's own order unless `first` names some to lead. */
export function formatRecord(record: Record<string, unknown>, first: readonly string[] = []): string {
  const fields = [...first.filter((f) => f in record), ...Object.keys(record).filter((f) => !first.includes(f))];
  const width = Math.max(0, ...fields.map((f) => f.length)) + 1;
  return fields.map((f) => `${`${f}:`.padEnd(width)} ${formatValue(record[f])}`).join('\n');
}
