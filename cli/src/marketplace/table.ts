// Plain-text tables for the terminal: one header row, columns padded to their widest cell.

/**
 * Formats rows under headers, two spaces between columns, no trailing spaces; ends with a newline.
 *
 * @example
 * formatTable(['name', 'version'], [['robutler-skill-weather', '1.0.0']])
 * // 'name                    version\nrobutler-skill-weather  1.0.0\n'
 */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n') + '\n'
}
