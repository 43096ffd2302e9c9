/** Human output: aligned columns, numbers right-aligned, one header row. */

export type Align = 'left' | 'right';

export interface Column {
  header: string;
  align?: Align;
}

/** Null and undefined show as "-": an unknown value is never printed as a number. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(3);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

export function formatTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string {
  const widths = columns.map((column, i) =>
    Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (values: readonly string[]): string =>
    columns
      .map((column, i) => {
        const value = values[i] ?? '';
        return column.align === 'right' ? value.padStart(widths[i]!) : value.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n');
}
