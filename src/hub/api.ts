import { EngineError } from '../engine/base/errors';
import { printable } from '../engine/base/text';
import { refText, type HubEnv, type HubRef } from './ref';

/** One file of a repository at a commit: its path, size and, for LFS files, the sha256 the Hub announces. */
export interface HubFile { path: string; size: number; blobId?: string; sha256?: string }

export interface RepoInfo { commit: string; files: HubFile[] }

/** The Hub could not be reached at all (no answer): the caller may fall back to the cache. */
export class HubUnreachable extends Error {}

export function authHeaders(e: HubEnv): Record<string, string> {
  return e.token ? { authorization: `Bearer ${e.token}` } : {};
}

/** The repository at a revision: its commit and every file (GET /api/models/…/revision/…?blobs=true). */
export async function repoInfo(e: HubEnv, r: HubRef, tokenHint: string): Promise<RepoInfo> {
  const url = `${e.endpoint}/api/models/${r.owner}/${r.name}/revision/${encodeURIComponent(r.revision)}?blobs=true`;
  let res: Response;
  try {
    res = await fetch(url, { headers: authHeaders(e) });
  } catch (err) {
    throw new HubUnreachable(`${e.endpoint} cannot be reached (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
  }
  if (!res.ok) throw hubError(res, r, tokenHint);
  type Sibling = { rfilename: string; size?: number; blobId?: string; lfs?: { sha256?: string; oid?: string; size?: number } };
  const body = await res.json() as { sha?: string; siblings?: Sibling[] };
  if (typeof body.sha !== 'string' || !Array.isArray(body.siblings)) throw new EngineError('bad-file', `${e.endpoint} answered for ${refText(r)} without a commit and a file list: is HF_ENDPOINT a Hugging Face Hub?`);
  return {
    commit: body.sha,
    files: body.siblings.map((s) => ({
      path: s.rfilename, size: s.lfs?.size ?? s.size ?? 0, ...(s.blobId ? { blobId: s.blobId } : {}),
      ...(s.lfs?.sha256 ?? s.lfs?.oid ? { sha256: (s.lfs.sha256 ?? s.lfs.oid)!.replace(/^sha256:/, '') } : {}),
    })),
  };
}

/** The Hub's refusals in one sentence each, by its X-Error-Code. */
export function hubError(res: Response, r: HubRef, tokenHint: string): EngineError {
  const code = res.headers.get('x-error-code') ?? '';
  const repo = refText({ ...r, revision: 'main' });
  if (code === 'GatedRepo' || (res.status === 403)) {
    return new EngineError('bad-argument', `${repo} is a gated repository: accept its conditions on the Hub, then ${tokenHint}.`);
  }
  if (code === 'RevisionNotFound') return new EngineError('not-found', `${repo} has no revision "${printable(r.revision)}" (a branch, tag or commit).`);
  if (code === 'EntryNotFound') return new EngineError('not-found', `A file of ${repo} is missing on the Hub at ${printable(r.revision)}.`);
  if (res.status === 401 || code === 'RepoNotFound' || res.status === 404) {
    return new EngineError('not-found', `${repo} is not a model repository on ${new URL(res.url).host}, or it is private (then ${tokenHint}).`);
  }
  return new EngineError('runtime', `The Hub answered ${res.status} ${res.statusText} for ${repo}.`);
}
