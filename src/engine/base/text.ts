/**
 * Strings that come from a model or a file (op types, node and input names, dim names, token
 * texts, file names) are shown in terminals and in VS Code. Control characters in them could move
 * the cursor, rewrite lines or hide text, so they are escaped before anything prints them.
 */

// C0 and C1 controls, DEL, and the bidirectional overrides and isolates that can reorder what is shown.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_KEEP_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string) => {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
};

/** One model- or file-controlled string, every control character escaped (newlines included). */
export function printable(s: string): string {
  return s.replace(CONTROL, escape);
}

/** A whole message or report about to reach a terminal: keeps its own line breaks and tabs. */
export function terminalSafe(s: string): string {
  return s.replace(CONTROL_KEEP_LINES, escape);
}

/** JSON text: JSON.stringify escapes C0 but not C1 or bidi controls; \u escapes keep it valid JSON. */
export function jsonSafe(json: string): string {
  return json.replace(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The first `shown` of a long list, then how many more: "a, b, c and 4 more" (names are given escaped). */
export function firstFew(items: string[], shown = 3): string {
  const head = items.slice(0, shown).join(', ');
  return items.length > shown ? `${head} and ${(items.length - shown).toLocaleString('en-US')} more` : head;
}

const sizeUnit = (bytes: number) => (bytes >= 2 ** 30 ? { div: 2 ** 30, digits: 2, name: 'GB' } : { div: 2 ** 20, digits: 1, name: 'MB' });

/** A size as the Hub's pages and file managers say it: MB to a tenth, from 1 GB in GB to a hundredth. */
export function sizeText(bytes: number): string {
  const u = sizeUnit(bytes);
  return `${(bytes / u.div).toFixed(u.digits)} ${u.name}`;
}

/** "1.2 of 3.4 MB": a part of a size, in the whole's unit. */
export function sizePart(part: number, whole: number): string {
  const u = sizeUnit(whole);
  return `${(part / u.div).toFixed(u.digits)} of ${sizeText(whole)}`;
}
