import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { EngineError, option, type ErrorCode } from './errors';
import { printable } from './text';
import { LIMITS } from './limits';

/**
 * Every file the engine reads besides the model goes through here: it must be a regular file of a
 * sane size (a FIFO would hang the read, /dev/zero would never end), and operating-system errors
 * become sentences that say which file and what to do, never "EACCES: …".
 */

/** Sizes beyond which a sidecar or input file is refused, before it is read. */
export const FILE_LIMITS = {
  /** tokenizer.json: the largest real ones (Gemma 3, 262k tokens) are about 33 MB. */
  tokenizer: 256 * 2 ** 20,
  /** preprocessor_config.json, tokenizer_config.json, config.json: a few KB in practice. */
  config: 4 * 2 ** 20,
  /** Prompt, text and prompt-list files. */
  text: 64 * 2 ** 20,
  /** PNG / JPEG images. */
  image: 256 * 2 ** 20,
} as const;

const SENTENCES: Record<string, (what: string, file: string) => string> = {
  ENOENT: (w, f) => `The ${w} ${f} does not exist.`,
  EACCES: (w, f) => `Permission denied for the ${w} ${f}: check its permissions (and those of its folders).`,
  EPERM: (w, f) => `The operating system does not allow access to the ${w} ${f}.`,
  EISDIR: (w, f) => `The ${w} ${f} is a folder; give the path of a file.`,
  ENOTDIR: (w, f) => `A part of the path of the ${w} ${f} is a file, not a folder.`,
  ELOOP: (w, f) => `The ${w} ${f} is a symbolic link that loops back on itself.`,
  ENAMETOOLONG: (w, f) => `The path of the ${w} ${f} is too long.`,
  EMFILE: (w) => `Too many files are open to read the ${w}; close some programs and try again.`,
  ENFILE: (w) => `Too many files are open to read the ${w}; close some programs and try again.`,
  ENOSPC: (w, f) => `The disk is full: the ${w} ${f} could not be written. Free some space and try again.`,
  EDQUOT: (w, f) => `The disk quota is exhausted: the ${w} ${f} could not be written.`,
  EROFS: (w, f) => `The ${w} ${f} is on a read-only file system.`,
  EIO: (w, f) => `The disk reported an input/output error on the ${w} ${f}.`,
  EBUSY: (w, f) => `The ${w} ${f} is busy (in use by another program).`,
  ETXTBSY: (w, f) => `The ${w} ${f} is busy (in use by another program).`,
  EXDEV: (w, f) => `The ${w} ${f} cannot be moved across file systems.`,
  ENXIO: (w, f) => `The ${w} ${f} is a device or socket with nothing behind it.`,
};

/** A system error (err.code like 'EACCES') as an EngineError naming the file; other errors pass through. */
export function fileError(e: unknown, file: string, what: string, code: ErrorCode = 'bad-file'): Error {
  if (e instanceof EngineError) return e;
  const sys = (e as NodeJS.ErrnoException)?.code;
  const shown = printable(file);
  // A link whose target is gone (a Hugging Face cache whose blob never arrived) is listed by ls: "does not exist" would puzzle.
  const link = sys === 'ENOENT' || sys === 'ELOOP' ? brokenLink(file) : undefined;
  const sentence = link ? `The ${what} ${shown} is ${link}.`
    : sys && SENTENCES[sys] ? SENTENCES[sys](what, shown) : `The ${what} ${shown} could not be read (${sys ?? printable((e as Error)?.message ?? String(e))}).`;
  return new EngineError(sys === 'ENOENT' ? 'not-found' : code, sentence);
}

/**
 * What is wrong with `file` when it is a symbolic link that leads nowhere: "a link to X, which does
 * not exist" or "a symbolic link that loops back on itself"; undefined for anything else (a
 * working link, a plain file, no entry at all).
 */
export function brokenLink(file: string): string | undefined {
  try {
    if (!lstatSync(file).isSymbolicLink()) return undefined;
  } catch {
    return undefined;
  }
  try {
    statSync(file);
    return undefined;
  } catch (e) {
    const sys = (e as NodeJS.ErrnoException)?.code;
    if (sys === 'ELOOP') return 'a symbolic link that loops back on itself';
    if (sys !== 'ENOENT' && sys !== 'ENOTDIR') return undefined;
    let target = '';
    try { target = readlinkSync(file); } catch { /* raced away: said without its target */ }
    return `a link to ${target ? printable(target) : 'a file'}, which does not exist`;
  }
}

/** "a", "a and b", "a, b and c". */
export function listed(items: string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** stat that follows links, with system errors mapped. */
export function statFile(file: string, what: string): Stats {
  try {
    return statSync(file);
  } catch (e) {
    throw fileError(e, file, what);
  }
}

/** The kind of a non-regular file, for messages. */
export function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Refuses anything but a regular file no larger than maxBytes; returns its stats. */
export function requireRegularFile(file: string, what: string, maxBytes: number): Stats {
  const st = statFile(file, what);
  if (!st.isFile()) throw new EngineError('bad-file', `The ${what} ${printable(file)} is ${kindOf(st)}, not a regular file; give a regular file.`);
  if (st.size > maxBytes) throw new EngineError('bad-file', `The ${what} ${printable(file)} is ${mb(st.size)}; ${what} files over ${mb(maxBytes)} are refused.`);
  return st;
}

/** Reads a checked regular file's bytes. */
export function readChecked(file: string, what: string, maxBytes: number): Buffer {
  requireRegularFile(file, what, maxBytes);
  try {
    return readFileSync(file);
  } catch (e) {
    throw fileError(e, file, what);
  }
}

/**
 * Strict UTF-8: invalid bytes are reported with their offset, unless the caller opted in to
 * replacement (then they become U+FFFD, as a lenient reader would do silently).
 */
export function decodeUtf8(bytes: Uint8Array, what: string, replaceInvalid = false): string {
  if (replaceInvalid) return new TextDecoder('utf-8').decode(bytes);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new EngineError('bad-prompt', `The ${what} is not valid UTF-8 (first invalid byte at offset ${at}). Save it as UTF-8, or allow replacement of invalid bytes (${option('replaceInvalidUtf8')}).`);
  }
}

/** Byte offset of the first byte that does not start or continue a valid UTF-8 sequence. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) {
      const x = b[i + k];
      let lo = 0x80, hi = 0xbf;
      if (k === 1 && c === 0xe0) lo = 0xa0;
      if (k === 1 && c === 0xed) hi = 0x9f;
      if (k === 1 && c === 0xf0) lo = 0x90;
      if (k === 1 && c === 0xf4) hi = 0x8f;
      if (x === undefined || x < lo || x > hi) return i;
    }
    i += n + 1;
  }
  return -1;
}

/** A text input file (prompt, corpus, prompt list) read strictly: regular, bounded, UTF-8, not binary. */
export function readTextFile(file: string, what: string, replaceInvalid = false): string {
  const bytes = readChecked(file, what, FILE_LIMITS.text);
  return textOf(bytes, what, replaceInvalid);
}

/**
 * The first `maxBytes` of a text file, cut after its last line break inside them (or its last
 * space, or a character boundary), so that what is returned is whole lines of the file: a corpus is
 * read only as far as the tokens a run needs (a 100 MB file costs what its first 64 KB do).
 */
export function readTextPrefix(file: string, what: string, maxBytes: number, replaceInvalid = false): { text: string; complete: boolean } {
  const st = requireRegularFile(file, what, Infinity);
  const want = Math.min(st.size, maxBytes);
  const buf = Buffer.alloc(want);
  let got = 0;
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    while (got < want) {
      const n = readSync(fd, buf, got, want - got, got);
      if (n === 0) break;
      got += n;
    }
  } catch (e) {
    throw fileError(e, file, what);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const complete = got >= st.size;
  let end = got;
  if (!complete) {
    const nl = buf.lastIndexOf(0x0a, got - 1);
    const sp = buf.lastIndexOf(0x20, got - 1);
    end = nl > 0 ? nl + 1 : sp > 0 ? sp + 1 : utf8Boundary(buf, got);
  }
  return { text: textOf(buf.subarray(0, end), what, replaceInvalid), complete };
}

/** The largest offset ≤ end that does not split a UTF-8 sequence. */
function utf8Boundary(b: Uint8Array, end: number): number {
  let lead = end - 1;
  while (lead > 0 && end - lead < 4 && (b[lead] & 0xc0) === 0x80) lead--;
  const c = b[lead];
  const length = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  return lead + length > end ? lead : end;
}

/** Text from bytes already read (standard input, files). A NUL byte marks a binary file. */
export function textOf(bytes: Uint8Array, what: string, replaceInvalid = false): string {
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new EngineError('bad-prompt', `The ${what} looks binary (a NUL byte at offset ${nul}); give a text file.`);
  return decodeUtf8(bytes, what, replaceInvalid);
}

/** JSON from a sidecar file; parse errors never echo the file's content. */
export function readJsonFile(file: string, what: string, maxBytes: number = FILE_LIMITS.config): unknown {
  const bytes = readChecked(file, what, maxBytes);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new EngineError('bad-file', `The ${what} ${printable(file)} is not UTF-8 text (first invalid byte at offset ${firstInvalidUtf8(bytes)}); it is not a JSON file.`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    const at = /position (\d+)/.exec((e as Error).message)?.[1];
    throw new EngineError('bad-file', `The ${what} ${printable(file)} is not valid JSON${at !== undefined ? ` (the error is at character ${at})` : ''}. Restore the file that came with the model.`);
  }
}

/** The path with every link resolved; the path itself when it does not exist (yet). */
export function realOrSelf(file: string): string {
  try {
    return realpathSync.native(file);
  } catch {
    return path.resolve(file);
  }
}

function mb(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GB` : `${(n / 2 ** 20).toFixed(1)} MB`;
}

/** The PNG and JPEG images of a folder, sorted; a folder with none, or too many for one run, is refused. */
export function imagesInFolder(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch (e) { throw fileError(e, dir, 'image folder'); }
  const found = names.filter((n) => /\.(png|jpe?g)$/i.test(n)).sort().map((n) => path.join(dir, n));
  if (!found.length) throw new EngineError('bad-argument', `No PNG or JPEG images in ${printable(dir)}.`);
  if (found.length > LIMITS.count) throw new EngineError('bad-argument', `${printable(dir)} holds ${found.length.toLocaleString('en-US')} images; one run takes at most ${LIMITS.count.toLocaleString('en-US')}. Use a folder with fewer.`);
  return found;
}

/**
 * A Git LFS pointer (what a clone without git-lfs, or a download of the repository's raw view,
 * leaves in place of a large file): the size of the file it stands for, else undefined.
 */
export function lfsPointerSize(head: Uint8Array): number | undefined {
  if (head.length > 1024) return undefined;
  const text = Buffer.from(head).toString('latin1');
  if (!text.startsWith('version https://git-lfs.github.com/spec/')) return undefined;
  const size = /^size (\d+)$/m.exec(text);
  return size ? Number(size[1]) : 0;
}

/** Reads a small file's bytes to check for a Git LFS pointer (see lfsPointerSize); larger files are not pointers. */
export function lfsPointerSizeOf(file: string, size: number): number | undefined {
  if (size > 1024) return undefined;
  try {
    return lfsPointerSize(readFileSync(file));
  } catch {
    return undefined;
  }
}

/** What a Git LFS pointer in place of a file means and what to do, in one sentence. */
export function lfsPointerMessage(name: string, pointerBytes: number, standsFor: number, what: string): string {
  const size = standsFor >= 2 ** 30 ? `${(standsFor / 2 ** 30).toFixed(1)} GB` : `${(standsFor / 2 ** 20).toFixed(1)} MB`;
  return `${name} is a Git LFS pointer (a ${pointerBytes}-byte text file standing for ${size}), not the ${what}. ` +
    'Fetch the real file: git lfs pull in its clone (git lfs install first), or download it again from the Hub.';
}
