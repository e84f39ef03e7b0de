import { checkAbort, EngineError, option } from '../engine/base/errors';
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
export async function repoInfo(e: HubEnv, r: HubRef, signal?: AbortSignal): Promise<RepoInfo> {
  const url = `${e.endpoint}/api/models/${r.owner}/${r.name}/revision/${encodeURIComponent(r.revision)}?blobs=true`;
  const res = await reach(e, url, signal);
  if (!res.ok) throw hubError(res, r);
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

/** A request to the Hub; no answer at all is HubUnreachable, a cancelled one is cancelled. */
async function reach(e: HubEnv, url: string, signal?: AbortSignal): Promise<Response> {
  try {
    return await fetch(url, { headers: authHeaders(e), ...(signal ? { signal } : {}) });
  } catch (err) {
    checkAbort(signal);
    throw new HubUnreachable(`${e.endpoint} cannot be reached (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
  }
}

/** Who the token belongs to (GET /api/whoami-v2), or a sentence saying why it was refused. */
export async function whoami(e: HubEnv): Promise<string> {
  const res = await reach(e, `${e.endpoint}/api/whoami-v2`);
  if (res.status === 401) throw new EngineError('bad-argument', `${new URL(e.endpoint).host} does not accept this token: copy an access token from https://huggingface.co/settings/tokens.`);
  if (!res.ok) throw new EngineError('runtime', `The Hub answered ${res.status} ${res.statusText} when asked whose token this is.`);
  const body = await res.json() as { name?: unknown };
  return typeof body.name === 'string' ? printable(body.name) : 'an account';
}

/** The Hub's refusals in one sentence each, by its X-Error-Code. */
export function hubError(res: Response, r: HubRef): EngineError {
  const code = res.headers.get('x-error-code') ?? '';
  const repo = refText({ ...r, revision: 'main' });
  if (code === 'GatedRepo' || (res.status === 403)) {
    return new EngineError('bad-argument', `${repo} is a gated repository: accept its conditions on the Hub, then ${option('hubToken')}.`, { hub: 'gated' });
  }
  if (code === 'RevisionNotFound') return new EngineError('not-found', `${repo} has no revision "${printable(r.revision)}" (a branch, tag or commit).`);
  if (code === 'EntryNotFound') return new EngineError('not-found', `A file of ${repo} is missing on the Hub at ${printable(r.revision)}.`);
  if (res.status === 401 || code === 'RepoNotFound' || res.status === 404) {
    return new EngineError('not-found', `${repo} is not a model repository on ${new URL(res.url).host}, or it is private (then ${option('hubToken')}).`, { hub: 'not-found' });
  }
  return new EngineError('runtime', `The Hub answered ${res.status} ${res.statusText} for ${repo}.`);
}
