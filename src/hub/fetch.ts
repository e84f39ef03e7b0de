import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { checkAbort, EngineError } from '../engine/base/errors';
import { firstFew, printable } from '../engine/base/text';
import { MAIN_PARTS, partOf } from '../engine/model/folder';
import { loadModel } from '../engine/model/onnx/load';
import { HubUnreachable, repoInfo, type HubFile } from './api';
import { downloadBlob, downloadFile, inSnapshot, linkSnapshot, snapshotPath } from './download';
import { hubEnv, parseHubRef, refText, repoFolder, type HubEnv, type HubRef } from './ref';

/** What a Hub model became on this machine: a folder of the cache's snapshot to open as any model folder. */
export interface Fetched { folder: string; commit: string; variant: string; variants: string[]; files: string[]; notes: string[] }

/** A variant of a Hub model as a picker shows it: what it downloads and how much of it is cached already. */
export interface HubVariant {
  /** '' for the plain export (model.onnx); else the suffix (fp16, q4f16, …). */
  name: string;
  graphs: string[];
  /** The variant's files (graphs, the weight files named after them, sidecars), in bytes. */
  bytes: number;
  /** What is not in the cache yet. */
  missingBytes: number;
}

/** A repository's variants at a revision (from the Hub, or from the cache when offline or out of reach). */
export interface HubListing { repo: string; commit: string; variants: HubVariant[]; notes: string[] }

/** Bytes so far and in all: of the file arriving, and of the whole download. */
export interface DownloadProgress { file: string; done: number; total: number; allDone: number; allTotal: number }

/** The small files a model folder reads beside its graphs. */
const SIDECARS = new Set(['config.json', 'generation_config.json', 'genai_config.json', 'tokenizer.json', 'tokenizer_config.json',
  'special_tokens_map.json', 'preprocessor_config.json']);

export interface FetchOptions { variant?: string; onProgress?: (p: DownloadProgress) => void; env?: HubEnv; signal?: AbortSignal }

/**
 * hf://OWNER/NAME[@REVISION] into the standard cache: the chosen variant's graphs, the weight files
 * those graphs name (read from the graphs once they are here), and the sidecars beside them — never
 * a repository's other variants. Offline (HF_HUB_OFFLINE=1) or when the Hub cannot be reached, the
 * cached snapshot of the revision, with a note. Cancelled (signal), a file stops where it is and
 * the next download resumes it.
 */
export async function fetchModel(spec: string, o: FetchOptions = {}): Promise<Fetched> {
  const r = parseHubRef(spec);
  const e = o.env ?? hubEnv();
  if (e.offline) return fromCache(e, r, o.variant, 'HF_HUB_OFFLINE is set');
  let info;
  try {
    info = await repoInfo(e, r, o.signal);
  } catch (err) {
    if (err instanceof HubUnreachable) return fromCache(e, r, o.variant, err.message);
    throw err;
  }
  const { commit, files } = info;
  const byPath = new Map(files.map((f) => [f.path, f]));
  const { dir, groups } = variantsOf(files, r);
  const { variant, variants, chosen } = chooseVariant(groups, o.variant, r);
  const planned = planOf(files, dir, chosen);
  const missing = (f: HubFile) => !inSnapshot(e, r, commit, f.path);
  const progress = { allDone: 0, allTotal: planned.filter(missing).reduce((n, f) => n + f.size, 0) };
  const got: string[] = [];
  const counted = (f: HubFile) => {
    checkAbort(o.signal);
    got.push(f.path);
    if (!planned.includes(f)) progress.allTotal += f.size;
    const before = progress.allDone;
    return {
      onBytes: (file: string, done: number, total: number) => {
        progress.allDone = before + done;
        o.onProgress?.({ file, done, total, ...progress });
      },
      finished: () => { progress.allDone = before + f.size; },
    };
  };
  const fetch1 = async (f: HubFile) => {
    if (!missing(f)) { got.push(f.path); return; }
    const c = counted(f);
    await downloadFile(e, r, commit, f, c.onBytes, o.signal);
    c.finished();
  };
  for (const f of planned.filter((x) => !x.path.endsWith('.onnx') && !isWeightOf(x, chosen))) await fetch1(f);
  const notes: string[] = [];
  for (const g of chosen) {
    // The graph's blob first: the weight files are what it names (its weights are not needed to read that).
    const linked = !missing(g);
    let blob = snapshotPath(e, r, commit, g.path);
    if (linked) got.push(g.path);
    else {
      const c = counted(g);
      blob = await downloadBlob(e, r, g, commit, c.onBytes, o.signal);
      c.finished();
    }
    for (const name of new Set(loadModel(blob).externalFiles.map((x) => x.file))) {
      const f = byPath.get(path.posix.join(dirOf(g.path), name));
      if (f) await fetch1(f);
      else notes.push(`${printable(g.path)} names the weight file ${printable(name)}, which ${refText(r)} does not hold.`);
    }
    // Linked once its weights are here: a graph in a snapshot is a model that opens (a cancelled download leaves none).
    if (!linked) linkSnapshot(e, r, commit, g, blob);
  }
  writeRef(e, r, commit);
  return { folder: snapshotDir(e, r, commit, dir), commit, variant, variants, files: got, notes };
}

/**
 * The repository's variants with what each downloads (its graphs, the weight files named after
 * them as exporters name them, the sidecars) and how much of that is cached. Offline or with the
 * Hub out of reach: the cached snapshot's variants, with a note.
 */
export async function listVariants(spec: string, o: { env?: HubEnv; signal?: AbortSignal } = {}): Promise<HubListing> {
  const r = parseHubRef(spec);
  const e = o.env ?? hubEnv();
  let commit: string;
  let files: HubFile[];
  const notes: string[] = [];
  try {
    if (e.offline) throw new HubUnreachable('HF_HUB_OFFLINE is set');
    ({ commit, files } = await repoInfo(e, r, o.signal));
  } catch (err) {
    if (!(err instanceof HubUnreachable)) throw err;
    const cached = fromCache(e, r, undefined, err.message);
    commit = cached.commit;
    files = filesIn(path.join(repoFolder(e, r), 'snapshots', commit));
    notes.push(...cached.notes);
  }
  const { dir, groups } = variantsOf(files, r);
  const variants = [...groups].map(([name, graphs]) => {
    const planned = planOf(files, dir, graphs);
    const sum = (fs: HubFile[]) => fs.reduce((n, f) => n + f.size, 0);
    const missing = planned.filter((f) => !inSnapshot(e, r, commit, f.path));
    return { name, graphs: graphs.map((g) => g.path), bytes: sum(planned), missingBytes: sum(missing) };
  });
  return { repo: refText(r), commit, variants, notes };
}

/** The files of a cached snapshot, as the Hub lists them (paths relative to it, sizes of what the links lead to). */
function filesIn(snapshot: string, rel = ''): HubFile[] {
  return readdirSync(path.join(snapshot, rel), { withFileTypes: true }).flatMap((d) => {
    const p = rel ? `${rel}/${d.name}` : d.name;
    const abs = path.join(snapshot, p);
    if (!existsSync(abs)) return []; // a link whose blob is gone
    return statSync(abs).isDirectory() ? filesIn(snapshot, p) : [{ path: p, size: statSync(abs).size }];
  });
}

/** The folder of graphs to read, and its graphs grouped by variant. */
function variantsOf(files: HubFile[], r: HubRef): { dir: string; groups: Map<string, HubFile[]> } {
  const graphs = files.filter((f) => f.path.endsWith('.onnx'));
  if (!graphs.length) {
    throw new EngineError('not-found', `${refText(r)} holds no .onnx file (it holds ${firstFew(files.map((f) => printable(f.path)))}); open an ONNX export of the model.`);
  }
  const dir = modelDir(graphs.map((g) => g.path));
  const here = graphs.filter((g) => dirOf(g.path) === dir);
  const parts = here.map((g) => ({ g, p: partOf(g.path) }));
  const main = MAIN_PARTS.find((m) => parts.some((x) => x.p?.part === m));
  // No part names a model (a single graph of another name): the folder's graphs are one variant.
  if (!main) return { dir, groups: new Map([['', here]]) };
  const names = [...new Set(parts.filter((x) => x.p?.part === main).map((x) => x.p!.variant))].sort();
  return { dir, groups: new Map(names.map((v) => [v, parts.filter((x) => x.p?.variant === v).map((x) => x.g)])) };
}

/** What a variant downloads: the sidecars beside its folder (and above), its graphs, and the weight files named after them. */
function planOf(files: HubFile[], dir: string, graphs: HubFile[]): HubFile[] {
  const sidecars = files.filter((f) => SIDECARS.has(path.posix.basename(f.path)) && [dir, dirOf(dir), ''].includes(dirOf(f.path)));
  return [...sidecars, ...graphs, ...files.filter((f) => isWeightOf(f, graphs))];
}

/** model.onnx_data, model.onnx_data_1 …, model.onnx.data: weight files as exporters name them after their graph. */
function isWeightOf(f: HubFile, graphs: HubFile[]): boolean {
  return graphs.some((g) => f.path.startsWith(g.path) && /^(_data|\.data)(_\d+)?$/.test(f.path.slice(g.path.length)));
}

/** onnx/ where the repository has one (transformers.js, onnx-community), else the root, else the first folder of graphs. */
function modelDir(paths: string[]): string {
  const dirs = [...new Set(paths.map(dirOf))].sort();
  return dirs.includes('onnx') ? 'onnx' : dirs.includes('') ? '' : dirs[0];
}

const dirOf = (p: string) => (p.includes('/') ? path.posix.dirname(p) : '');

/** The variant's graphs (every part with its suffix), as folder.ts chooses among local files. */
function chooseVariant(groups: Map<string, HubFile[]>, wanted: string | undefined, r: HubRef): { variant: string; variants: string[]; chosen: HubFile[] } {
  const variants = [...groups.keys()];
  const variant = wanted ?? (groups.has('') ? '' : variants[0]);
  if (!groups.has(variant)) {
    throw new EngineError('bad-argument', `${refText(r)} has no variant "${printable(variant)}"; it has ${variants.map((v) => v || 'plain').join(', ')}.`);
  }
  return { variant, variants, chosen: groups.get(variant)! };
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
