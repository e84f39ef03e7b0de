import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { EngineError } from '../engine/base/errors';
import { firstFew, printable } from '../engine/base/text';
import { MAIN_PARTS, partOf } from '../engine/model/folder';
import { loadModel } from '../engine/model/onnx/load';
import { HubUnreachable, repoInfo, type HubFile } from './api';
import { downloadFile, type OnBytes } from './download';
import { hubEnv, parseHubRef, refText, repoFolder, type HubEnv, type HubRef } from './ref';

/** What a Hub model became on this machine: a folder of the cache's snapshot to open as any model folder. */
export interface Fetched { folder: string; commit: string; variant: string; variants: string[]; files: string[]; notes: string[] }

/** The small files a model folder reads beside its graphs. */
const SIDECARS = new Set(['config.json', 'generation_config.json', 'genai_config.json', 'tokenizer.json', 'tokenizer_config.json',
  'special_tokens_map.json', 'preprocessor_config.json']);

export interface FetchOptions { variant?: string; onBytes?: OnBytes; tokenHint: string; env?: HubEnv }

/**
 * hf://OWNER/NAME[@REVISION] into the standard cache: the chosen variant's graphs, the weight files
 * those graphs name (read from the graphs once they are here), and the sidecars beside them — never
 * a repository's other variants. Offline (HF_HUB_OFFLINE=1) or when the Hub cannot be reached, the
 * cached snapshot of the revision, with a note.
 */
export async function fetchModel(spec: string, o: FetchOptions): Promise<Fetched> {
  const r = parseHubRef(spec);
  const e = o.env ?? hubEnv();
  if (e.offline) return fromCache(e, r, o.variant, 'HF_HUB_OFFLINE is set');
  let info;
  try {
    info = await repoInfo(e, r, o.tokenHint);
  } catch (err) {
    if (err instanceof HubUnreachable) return fromCache(e, r, o.variant, err.message);
    throw err;
  }
  const { commit, files } = info;
  const byPath = new Map(files.map((f) => [f.path, f]));
  const graphs = files.filter((f) => f.path.endsWith('.onnx'));
  if (!graphs.length) {
    throw new EngineError('not-found', `${refText(r)} holds no .onnx file (it holds ${firstFew(files.map((f) => printable(f.path)))}); open an ONNX export of the model.`);
  }
  const dir = modelDir(graphs.map((g) => g.path));
  const { variant, variants, chosen } = chooseVariant(graphs.filter((g) => dirOf(g.path) === dir), o.variant, r);
  const bytes = o.onBytes ?? (() => undefined);
  const got: string[] = [];
  const fetch1 = async (f: HubFile) => { got.push(f.path); return downloadFile(e, r, commit, f, bytes, o.tokenHint); };
  const sidecars = files.filter((f) => SIDECARS.has(path.posix.basename(f.path)) && [dir, dirOf(dir), ''].includes(dirOf(f.path)));
  for (const f of sidecars) await fetch1(f);
  const notes: string[] = [];
  for (const g of chosen) {
    const local = await fetch1(g);
    // The weight files are what the graph names: read it now that it is here (its weights are not needed for that).
    for (const name of new Set(loadModel(local).externalFiles.map((x) => x.file))) {
      const f = byPath.get(path.posix.join(dirOf(g.path), name));
      if (f) await fetch1(f);
      else notes.push(`${printable(g.path)} names the weight file ${printable(name)}, which ${refText(r)} does not hold.`);
    }
  }
  writeRef(e, r, commit);
  return { folder: snapshotDir(e, r, commit, dir), commit, variant, variants, files: got, notes };
}

/** onnx/ where the repository has one (transformers.js, onnx-community), else the root, else the first folder of graphs. */
function modelDir(paths: string[]): string {
  const dirs = [...new Set(paths.map(dirOf))].sort();
  return dirs.includes('onnx') ? 'onnx' : dirs.includes('') ? '' : dirs[0];
}

const dirOf = (p: string) => (p.includes('/') ? path.posix.dirname(p) : '');

/** The variant's graphs (every part with its suffix), as folder.ts chooses among local files. */
function chooseVariant(graphs: HubFile[], wanted: string | undefined, r: HubRef): { variant: string; variants: string[]; chosen: HubFile[] } {
  const parts = graphs.map((g) => ({ g, p: partOf(g.path) }));
  const main = MAIN_PARTS.find((m) => parts.some((x) => x.p?.part === m));
  if (!main) return { variant: '', variants: [], chosen: graphs };
  const variants = [...new Set(parts.filter((x) => x.p?.part === main).map((x) => x.p!.variant))].sort();
  const variant = wanted ?? (variants.includes('') ? '' : variants[0]);
  if (!variants.includes(variant)) {
    throw new EngineError('bad-argument', `${refText(r)} has no variant "${printable(variant)}"; it has ${variants.map((v) => v || 'plain').join(', ')}.`);
  }
  return { variant, variants, chosen: parts.filter((x) => x.p?.variant === variant).map((x) => x.g) };
}

function snapshotDir(e: HubEnv, r: HubRef, commit: string, dir: string): string {
  return path.join(repoFolder(e, r), 'snapshots', commit, ...(dir ? dir.split('/') : []));
}

function writeRef(e: HubEnv, r: HubRef, commit: string): void {
  if (r.revision === commit) return;
  const ref = path.join(repoFolder(e, r), 'refs', r.revision);
  mkdirSync(path.dirname(ref), { recursive: true });
  writeFileSync(ref, commit);
}

/** The cached snapshot of the revision (offline, or the Hub out of reach), said in a note. */
function fromCache(e: HubEnv, r: HubRef, variant: string | undefined, why: string): Fetched {
  const ref = path.join(repoFolder(e, r), 'refs', r.revision);
  const commit = /^[0-9a-f]{40}$/.test(r.revision) ? r.revision : existsSync(ref) ? readFileSync(ref, 'utf8').trim() : undefined;
  const snap = commit ? path.join(repoFolder(e, r), 'snapshots', commit) : undefined;
  if (!commit || !snap || !existsSync(snap)) {
    throw new EngineError('not-found', `${why}, and nothing of ${refText(r)} is in the cache (${printable(e.cache)}). Run once with the Hub reachable${e.offline ? ' (unset HF_HUB_OFFLINE)' : ''}.`);
  }
  const dir = existsSync(path.join(snap, 'onnx')) && statSync(path.join(snap, 'onnx')).isDirectory() ? 'onnx' : '';
  const cached = readdirSync(path.join(snap, dir)).filter((f) => f.endsWith('.onnx'));
  const note = `${why}: using the cached snapshot ${commit.slice(0, 7)} of ${refText(r)}.`;
  return { folder: path.join(snap, dir), commit, variant: variant ?? '', variants: [], files: cached, notes: [note] };
}
