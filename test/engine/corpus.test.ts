import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '@huggingface/tokenizers';
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { sequencesFromText } from '../../src/engine/model/corpus';
import { loadTokenizer, type TextTokenizer } from '../../src/engine/model/tokenizer';
import { tokenizerJson, vocabulary } from '../models/tokenizer';
import { tempDir } from '../fixtures';

/**
 * Issue 25: a corpus is read and tokenized only as far as count × length tokens need. Before, the
 * whole file was read and tokenized: 10 MB of ordinary lines still ran after 120 s for 2 × 64 tokens.
 * The sequences must be exactly the whole text's: the reference here tokenizes the whole text
 * with the tokenizers library directly and cuts it, the plain way.
 */

const root = tempDir('corpus');

/** A GPT-2-style byte-level BPE over the 256 byte symbols and a few merges: multi-byte text, spaces kept. */
function byteLevelJson(): object {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = new Map<number, string>();
  let extra = 0;
  for (let b = 0; b < 256; b++) chars.set(b, String.fromCharCode(bytes.includes(b) ? b : 256 + extra++));
  const vocab: Record<string, number> = { '<|endoftext|>': 0 };
  for (const c of chars.values()) vocab[c] = Object.keys(vocab).length;
  const sp = chars.get(32)!;
  const merges = [[sp, 't'], [`${sp}t`, 'h'], [`${sp}th`, 'e'], ['i', 'n'], [sp, 'a'], ['e', 'r'], ['Ã', '©']];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 0, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false,
      vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
}

function write(dir: string, json: object): string {
  mkdirSync(path.join(root, dir), { recursive: true });
  const f = path.join(root, dir, 'tokenizer.json');
  writeFileSync(f, JSON.stringify(json));
  return f;
}

/** The plain way: the whole text through the tokenizer, then cut (tokenized once per text). */
const whole = new Map<string, { prefix: number[]; body: number[] }>();
function reference(json: object, text: string, length: number, max: number): number[][] {
  const key = `${JSON.stringify(json).length}:${text.length}:${text.slice(0, 100)}`;
  let t = whole.get(key);
  if (!t) {
    const tok = new Tokenizer(json, {});
    const prefix = tok.encode('').ids.map(Number);
    t = { prefix, body: tok.encode(text).ids.map(Number).slice(prefix.length) };
    whole.set(key, t);
  }
  const step = length - t.prefix.length;
  const out: number[][] = [];
  for (let i = 0; i + step <= t.body.length && out.length < max; i += step) out.push([...t.prefix, ...t.body.slice(i, i + step)]);
  return out;
}

/** Lines of varied length, some very long, with multi-byte text and runs of spaces: cuts land everywhere. */
function corpusText(bytes: number, words: string[]): string {
  let s = 1;
  const rnd = () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 2 ** 32; };
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const n = rnd() < 0.05 ? 3000 : 1 + Math.floor(rnd() * 40);
    const line = Array.from({ length: n }, () => words[Math.floor(rnd() * words.length)]).join(rnd() < 0.1 ? '   ' : ' ') + (rnd() < 0.5 ? '.' : ',');
    parts.push(line);
    size += line.length + 1;
  }
  return parts.join('\n');
}

const cases: { name: string; json: object; words: string[] }[] = [
  { name: 'word-level (the planted models\' tokenizer)', json: tokenizerJson(), words: vocabulary().slice(3) },
  { name: 'byte-level BPE', json: byteLevelJson(), words: ['the', 'in', 'a', 'inner', 'café', 'naïve', 'über', 'the\tend', '日本語', 'x'] },
];

describe('a corpus is read only as far as the run needs, and cut as the whole text would be', () => {
  let loaded: { name: string; json: object; tok: TextTokenizer; text: string; file: string }[];
  before(() => {
    loaded = cases.map((c, k) => {
      const text = corpusText(2 ** 20, c.words);
      const file = path.join(root, `corpus-${k}.txt`);
      writeFileSync(file, text);
      return { ...c, tok: loadTokenizer(write(`tok-${k}`, c.json)), text, file };
    });
  });

  for (const [count, length] of [[2, 64], [40, 512], [3, 2]] as const) {
    test(`${count} × ${length} tokens from a 1 MB file and from the same text in memory equal the whole text's`, () => {
      for (const c of loaded) {
        const want = reference(c.json, c.text, length, count);
        assert.equal(want.length, count, `${c.name}: the reference has ${count} sequences`);
        assert.deepEqual(sequencesFromText({ file: c.file }, c.tok, length, count), want, `${c.name}: from the file`);
        assert.deepEqual(sequencesFromText(c.text, c.tok, length, count), want, `${c.name}: from memory`);
      }
    });
  }

  test('more sequences than the text holds: all of them, as the whole text gives', () => {
    const c = loaded[0];
    const small = path.join(root, 'small.txt');
    const text = c.text.slice(0, 5000);
    writeFileSync(small, text);
    const want = reference(c.json, text, 64, 10_000);
    assert.ok(want.length > 5 && want.length < 10_000);
    assert.deepEqual(sequencesFromText({ file: small }, c.tok, 64, 10_000), want);
  });

  test('a file far beyond the text file limit is fine when its first lines hold what is needed', () => {
    const c = loaded[0];
    const huge = path.join(root, 'huge.txt');
    // Sparse: 1 GB long, only the first 100 KB written; a whole read would take 1 GB (and be refused).
    writeFileSync(huge, c.text.slice(0, 100_000));
    const fd = openSync(huge, 'r+');
    ftruncateSync(fd, 2 ** 30);
    closeSync(fd);
    assert.deepEqual(sequencesFromText({ file: huge }, c.tok, 64, 2), reference(c.json, c.text.slice(0, 100_000), 64, 2));
  });

  test('an empty or whitespace-only file is refused as empty', () => {
    const blank = path.join(root, 'blank.txt');
    writeFileSync(blank, ' \n\n  \n');
    assert.throws(() => sequencesFromText({ file: blank }, loaded[0].tok, 64, 2), /The text is empty/);
  });
});
