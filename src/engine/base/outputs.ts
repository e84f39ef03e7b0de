import { closeSync, constants, existsSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { EngineError } from './errors';
import { fileError, realOrSelf } from './files';
import { printable } from './text';

/**
 * Results are written only where they cannot destroy an input: never onto the model, its weight
 * files, its tokenizer or config, an input file of the run, or another output of the same run —
 * after following every link, and by inode, so hard links are caught too. Writes go through a
 * temporary file renamed into place, so an interrupted write never leaves half a file.
 */

export interface Protected { file: string; what: string }

/** Files next to a model that describe it; an output must never replace one of them. */
const SIDECARS = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'preprocessor_config.json', 'config.json', 'generation_config.json', 'genai_config.json', 'vocab.json', 'merges.txt', 'tokenizer.model'];

/**
 * The model, its external weight files (locations as written in the graph, present or not) and its
 * sidecars. The extension knows the weight files from inspect; the CLI reads them from the model.
 */
export function modelFiles(modelPath: string, weightFiles: string[]): Protected[] {
  const out: Protected[] = [{ file: modelPath, what: 'model' }];
  const dir = path.dirname(path.resolve(modelPath));
  for (const d of [dir, path.dirname(dir)]) for (const name of SIDECARS) {
    const f = path.join(d, name);
    if (existsSync(f)) out.push({ file: f, what: `model's ${name}` });
  }
  for (const w of weightFiles) out.push({ file: path.resolve(dir, w), what: `model's weight file ${printable(w)}` });
  return out;
}

/**
 * The files an engine call names besides its first model: its other models, images, feed tensors
 * and corpus files. Read from the call itself, whatever front end built it, so the one rule (never
 * write onto an input) holds for the command line and the extension alike.
 */
export function filesNamedBy(call: { file: string; options?: object }): { models: string[]; inputs: Protected[] } {
  const o = (call.options ?? {}) as {
    files?: string[]; images?: string[]; image?: string; feeds?: Record<string, string>;
    text?: unknown; meanText?: unknown; evalText?: unknown;
  };
  const inputs: Protected[] = [];
  for (const image of [...(o.images ?? []), ...(o.image ? [o.image] : [])]) inputs.push({ file: image, what: 'input image' });
  for (const [name, file] of Object.entries(o.feeds ?? {})) inputs.push({ file, what: `tensor file for the input ${printable(name)}` });
  for (const corpus of [o.text, o.meanText, o.evalText]) {
    const file = (corpus as { file?: unknown } | undefined)?.file;
    if (typeof file === 'string') inputs.push({ file, what: 'input text file' });
  }
  return { models: [...new Set([call.file, ...(o.files ?? [])])], inputs };
}

interface Identity { real: string; dev?: number; ino?: number }

function identity(file: string): Identity {
  const abs = path.resolve(file);
  let real = realOrSelf(abs);
  if (real === abs && !existsSync(abs)) real = path.join(realOrSelf(path.dirname(abs)), path.basename(abs));
  let st: Stats | undefined;
  try { st = statSync(abs); } catch { /* not there yet */ }
  return { real, dev: st?.dev, ino: st?.ino };
}

const same = (a: Identity, b: Identity) => a.real === b.real || (a.ino !== undefined && a.ino === b.ino && a.dev === b.dev && a.ino !== 0);

/** Refuses outputs that resolve to an input or to each other. `targets` are (label, path) pairs, e.g. ['--out', f]. */
export function checkOutputs(targets: [string, string][], inputs: Protected[]): void {
  const ids = targets.map(([, f]) => identity(f));
  const inputIds = inputs.map((p) => ({ ...p, id: identity(p.file) }));
  targets.forEach(([label, file], k) => {
    let st: Stats | undefined;
    try { st = statSync(file); } catch { /* a new file */ }
    if (st?.isDirectory()) throw new EngineError('unsafe-output', `${label} ${printable(file)} is a folder; give a file name for the output.`);
    const hit = inputIds.find((p) => same(p.id, ids[k]));
    if (hit) throw new EngineError('unsafe-output', `${label} ${printable(file)} is the ${hit.what}${hit.id.real !== path.resolve(file) ? ` (${printable(hit.id.real)})` : ''}; writing there would destroy it. Choose another output file.`);
    for (let j = 0; j < k; j++) {
      if (same(ids[j], ids[k])) throw new EngineError('unsafe-output', `${targets[j][0]} and ${label} both name ${printable(ids[k].real)}; one would overwrite the other. Give them different files.`);
    }
  });
}

/**
 * Writes text atomically: a temporary file beside the target, flushed, then renamed over it (the
 * real file when the target is a link, which stays a link). Devices and pipes (/dev/stdout) are
 * written directly, since they cannot be replaced.
 */
export function writeFileAtomic(file: string, text: string | Uint8Array, what = 'output file'): void {
  const target = realOrSelf(path.resolve(file));
  let st: Stats | undefined;
  try { st = statSync(target); } catch { /* new file */ }
  if (st && !st.isFile()) {
    if (st.isDirectory()) throw new EngineError('unsafe-output', `The ${what} ${printable(file)} is a folder; give a file name.`);
    try { writeFileSync(target, text); return; } catch (e) { throw fileError(e, file, what, 'unsafe-output'); }
  }
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, st ? st.mode & 0o777 : 0o644);
    const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) try { closeSync(fd); } catch { /* already failing */ }
    try { unlinkSync(tmp); } catch { /* never created */ }
    if ((e as NodeJS.ErrnoException)?.code === 'ENOENT') {
      // The folder is there but no file can be made in it: a kernel file system (/proc, /sys).
      if (existsSync(path.dirname(target))) {
        throw new EngineError('unsafe-output', `The ${what} ${printable(file)} cannot be written: no file can be created in ${printable(path.dirname(target))} (a system folder such as /proc or /sys). Choose a file in an ordinary folder.`);
      }
      throw new EngineError('unsafe-output', `The folder of the ${what} ${printable(file)} does not exist; create it first or choose another file.`);
    }
    throw fileError(e, file, what, 'unsafe-output');
  }
}

/** checkOutputs + writeFileAtomic for one file (the extension's save dialogs). */
export function writeResult(file: string, content: string | Uint8Array, inputs: Protected[], what = 'output file'): void {
  checkOutputs([[`The ${what}`, file]], inputs);
  writeFileAtomic(file, content, what);
}
