import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { HubEnv } from './ref';

/** A model of the Hugging Face cache that holds ONNX graphs: what the Activation Explorer lists. */
export interface CachedModel {
  /** OWNER/NAME */
  repo: string;
  /** The branch or tag that points at this snapshot (refs/), else the commit itself. */
  revision: string;
  commit: string;
  /** The snapshot's folder of graphs (its onnx/ where it has one): what the inspector opens. */
  folder: string;
  /** Its .onnx files whose blobs are here. */
  graphs: string[];
}

/**
 * Every snapshot of every model repository in the cache with at least one ONNX graph, as
 * huggingface_hub lays it out (models--OWNER--NAME/snapshots/<commit>, refs/<revision>): the models
 * the Python tools fetched count as much as ours. Unreadable corners are skipped, never thrown.
 */
export function cachedModels(e: HubEnv): CachedModel[] {
  const out: CachedModel[] = [];
  for (const entry of list(e.cache)) {
    const m = /^models--([^-][^/]*?)--(.+)$/.exec(entry);
    if (!m) continue;
    const repoDir = path.join(e.cache, entry);
    const refs = new Map<string, string>();
    for (const ref of listRefs(path.join(repoDir, 'refs'))) refs.set(read(path.join(repoDir, 'refs', ref)), ref);
    for (const commit of list(path.join(repoDir, 'snapshots'))) {
      const snap = path.join(repoDir, 'snapshots', commit);
      const folder = isDir(path.join(snap, 'onnx')) ? path.join(snap, 'onnx') : snap;
      const graphs = list(folder).filter((f) => f.endsWith('.onnx') && existsSync(path.join(folder, f))).sort();
      if (graphs.length) out.push({ repo: `${m[1]}/${m[2]}`, revision: refs.get(commit) ?? commit.slice(0, 7), commit, folder, graphs });
    }
  }
  return out.sort((a, b) => a.repo.localeCompare(b.repo) || a.revision.localeCompare(b.revision));
}

/** refs/ holds branches and tags, some of them nested (refs/pr/1). */
function listRefs(dir: string, prefix = ''): string[] {
  return list(dir).flatMap((n) => (isDir(path.join(dir, n)) ? listRefs(path.join(dir, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}

function list(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

function read(f: string): string {
  try { return readFileSync(f, 'utf8').trim(); } catch { return ''; }
}
