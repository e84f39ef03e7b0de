/** Token ids typed by a user (the panel's box, VS Code's input box): read and checked the same way on both sides. */

export function parseIds(v: string): number[] {
  return v.split(/[\s,]+/).filter(Boolean).map(Number);
}

/** What is wrong with typed ids, in a sentence shown beside the box; undefined when nothing is. */
export function idsProblem(v: string, vocab: number | null): string | undefined {
  const parts = v.split(/[\s,]+/).filter(Boolean);
  if (!parts.length) return 'Give at least one token id.';
  const bad = parts.find((p) => !/^\d+$/.test(p) || !Number.isSafeInteger(Number(p)));
  if (bad !== undefined) return `"${bad.length > 20 ? `${bad.slice(0, 20)}…` : bad}" is not a token id: use whole numbers separated by commas.`;
  const out = vocab === null ? undefined : parts.find((p) => Number(p) >= vocab);
  return out === undefined ? undefined : `Token id ${out} is outside the model's vocabulary (0–${vocab! - 1}).`;
}
