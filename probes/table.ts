// Plain aligned text tables: numbers right-aligned, text left-aligned, two spaces between columns.

export type Cell = string | number | boolean | null;

/** Format a number for a table: fixed decimals, "-" for null. */
export function fmt(value: number | null, decimals = 3): string {
  return value === null ? "-" : value.toFixed(decimals);
}

export function formatTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((row) => row.map((cell) => (cell === null ? "-" : String(cell))));
  const numeric = headers.map((_, c) => rows.every((row) => row[c] === null || typeof row[c] === "number" || /^-?[\d.]+$/.test(String(row[c]))));
  const widths = headers.map((h, c) => Math.max(h.length, ...text.map((row) => row[c].length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...text.map(line)].join("\n") + "\n";
}
