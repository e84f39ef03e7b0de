import { EngineError } from '../errors';
import type { TextTokenizer } from '../tokenizer';
import { rng } from './random';

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

/** Splits a text into token sequences of `length` (each starting with the tokenizer's own prefix, e.g. <s>). */
export function sequencesFromText(text: string, tok: TextTokenizer, length: number, max: number): number[][] {
  if (!text.trim()) throw new EngineError('bad-prompt', 'The text is empty: give some text to run the model on.');
  if (length < 2) throw new EngineError('bad-argument', 'Sequences need at least 2 tokens.');
  const prefix = tok.encode('');
  const body = tok.encode(text).slice(prefix.length);
  const step = length - prefix.length;
  const out: number[][] = [];
  for (let i = 0; i + step <= body.length && out.length < max; i += step) out.push([...prefix, ...body.slice(i, i + step)]);
  // A short text still yields one (shorter) sequence rather than nothing.
  if (!out.length) out.push([...prefix, ...body]);
  return out;
}

/** N random id sequences sharing the first token: the input set for models without a tokenizer. */
export function randomSequences(n: number, length: number, vocab: number, first: number, seed = 1): number[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => [first, ...Array.from({ length: length - 1 }, () => Math.floor(r() * vocab))]);
}
