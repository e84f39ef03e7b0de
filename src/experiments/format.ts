/** What every experiment's text and CSV views share: numbers for a terminal, aligned tables, RFC 4180 CSV. */

/** A number in a few characters for terminal tables (the panel's are in webview/dom.ts: thousands separated, "—" for none). */
export const plainNumber = (v: number | null) => {
  if (v === null || Number.isNaN(v)) return 'n/a';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 0.01) return v.toFixed(3);
  return v.toExponential(1);
};

export function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.flatMap((row, i) => {
    const line = row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd();
    return i === 0 ? [line, widths.map((w) => '─'.repeat(w)).join('  ')] : [line];
  });
}

export const pm = (s: { mean: number; std: number }) => `${plainNumber(s.mean)} ± ${plainNumber(s.std)}`;

/** A block's kind in a few characters: "attention", "linear-attention + moe". */
export function mixerLabel(l: { mixer: string; mlp: string }): string {
  return `${l.mixer}${l.mlp === 'moe' ? ' + moe' : ''}`;
}

export type Row = Record<string, string | number | boolean | null | undefined>;

export function toCsv(rows: Row[]): string {
  if (!rows.length) return '';
  const cols = Object.keys(rows[0]);
  const cell = (v: Row[string]) => {
    if (v === null || v === undefined) return '';
    // Token texts come from the model's tokenizer: one starting with = + @ would run as a formula
    // in a spreadsheet, so such text cells get a leading apostrophe (numbers are never touched).
    const s = typeof v === 'string' && /^[=+@\t\r]/.test(v) ? `'${v}` : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [cols.join(','), ...rows.map((r) => cols.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}
