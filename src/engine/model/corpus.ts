import { EngineError } from '../base/errors';
import { FILE_LIMITS, readTextPrefix } from '../base/files';
import type { TextTokenizer } from './tokenizer';
import { rng } from '../base/random';

/** Built-in evaluation text for perplexity when the user gives none (plain English, our own words). */
export const SAMPLE_TEXT = [
  'Summer is warm. Winter is cold.',
  'The river ran past the old house, and the children played on its bank until the sun went down.',
  'In the morning the city was quiet; only a few people walked to work under the grey sky.',
  'She read the first page of the book twice, then closed it and looked out of the window.',
  'A small bird sat on the tree by the road. It sang for a while and then flew away.',
  'They built the bridge in two years, and for a long time it was the longest in the world.',
  'Once upon a time there lived a king who had three daughters and a great green garden.',
  'Language models learn to predict the next token from the tokens that came before it.',
].join('\n');

/** A text to cut into sequences: in memory, or a file read only as far as the run needs. */
export type Corpus = string | { file: string; what?: string; replaceInvalidUtf8?: boolean };

/** The first read of a corpus; each further read is four times longer, up to the text file limit. */
const FIRST_READ = 64 * 1024;
/**
 * Tokens kept back from the end of a part of the text: the last tokens of a cut text can differ
 * from the whole text's (a word or a run of spaces that continues past the cut), never earlier ones.
 */
const MARGIN = 64;

/**
 * Splits a text into at most `max` token sequences of `length` (each starting with the tokenizer's
 * own prefix, e.g. <s>). Only as much of the text is read and tokenized as those sequences need,
 * so the cost follows count × length, not the size of the file (the first 64 KB, then 4× more
 * while it is not enough). The sequences are the ones the whole text would give.
 */
export function sequencesFromText(corpus: Corpus, tok: TextTokenizer, length: number, max: number): number[][] {
  if (length < 2) throw new EngineError('bad-argument', 'Sequences need at least 2 tokens.');
  const prefix = tok.encode('');
  const step = length - prefix.length;
  const needed = step * max;
  for (let bytes = Math.max(FIRST_READ, needed * 8); ; bytes *= 4) {
    const part = partOf(corpus, bytes);
    if (part.complete && !part.text.trim()) throw new EngineError('bad-prompt', 'The text is empty: give some text to run the model on.');
    const all = tok.encode(part.text).slice(prefix.length);
    const last = part.complete || bytes >= FILE_LIMITS.text;
    if (!last && all.length < needed + MARGIN) continue;
    const body = part.complete ? all : all.slice(0, Math.max(0, all.length - MARGIN));
    const out: number[][] = [];
    for (let i = 0; i + step <= body.length && out.length < max; i += step) out.push([...prefix, ...body.slice(i, i + step)]);
    // A short text still yields one (shorter) sequence rather than nothing.
    if (!out.length) out.push([...prefix, ...body]);
    return out;
  }
}

/** The text's first lines, about `bytes` long, and whether that is all of it. */
function partOf(corpus: Corpus, bytes: number): { text: string; complete: boolean } {
  if (typeof corpus !== 'string') return readTextPrefix(corpus.file, corpus.what ?? 'text file', Math.min(bytes, FILE_LIMITS.text), corpus.replaceInvalidUtf8);
  if (corpus.length <= bytes) return { text: corpus, complete: true };
  const nl = corpus.lastIndexOf('\n', bytes - 1);
  const sp = corpus.lastIndexOf(' ', bytes - 1);
  let end = nl > 0 ? nl + 1 : sp > 0 ? sp + 1 : bytes;
  // Never between the two halves of a surrogate pair.
  if (end === bytes && /[\ud800-\udbff]/.test(corpus[end - 1])) end--;
  return { text: corpus.slice(0, end), complete: false };
}

/** N random id sequences sharing the first token: the input set for models without a tokenizer. */
export function randomSequences(n: number, length: number, vocab: number, first: number, seed = 1): number[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => [first, ...Array.from({ length: length - 1 }, () => Math.floor(r() * vocab))]);
}
