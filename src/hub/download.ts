import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, createReadStream, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { checkAbort, EngineError } from '../engine/base/errors';
import { printable } from '../engine/base/text';
import { authHeaders, hubError, type HubFile } from './api';
import { repoFolder, type HubEnv, type HubRef } from './ref';

/** Bytes so far and in all, per file. */
export type OnBytes = (file: string, done: number, total: number) => void;

const ATTEMPTS = 5;

/**
 * One file into the cache as huggingface_hub lays it out: blobs/<etag> (the sha256 for LFS files,
 * the git blob id otherwise), written as blobs/<etag>.incomplete first and resumed from its size
 * with a Range request when a connection is cut; LFS files checked against the announced sha256;
 * snapshots/<commit>/<path> a relative link to the blob. A lock under .locks/ keeps two processes
 * sharing the cache from writing the same blob.
 */
export async function downloadFile(e: HubEnv, r: HubRef, commit: string, f: HubFile, onBytes: OnBytes, signal?: AbortSignal): Promise<string> {
  const snapshot = snapshotPath(e, r, commit, f.path);
  if (existsSync(snapshot)) return snapshot;
  return linkSnapshot(e, r, commit, f, await downloadBlob(e, r, f, commit, onBytes, signal));
}

/** The file's blob, downloaded unless it is here (see downloadFile); no snapshot link yet. */
export async function downloadBlob(e: HubEnv, r: HubRef, f: HubFile, commit: string, onBytes: OnBytes, signal?: AbortSignal): Promise<string> {
  const repo = repoFolder(e, r);
  const etag = f.sha256 ?? f.blobId;
  if (!etag || !/^[0-9a-f]{40,64}$/.test(etag)) throw new EngineError('bad-file', `The Hub gave no usable id for ${printable(f.path)}; cannot cache it.`);
  const blob = path.join(repo, 'blobs', etag);
  mkdirSync(path.dirname(blob), { recursive: true });
  if (!existsSync(blob)) await withLock(path.join(e.cache, '.locks', path.basename(repo), `${etag}.lock`), () => fetchBlob(e, r, commit, f, blob, onBytes, signal), signal);
  return blob;
}

/** snapshots/<commit>/<path> → the blob, relatively (a copy where links cannot be made). */
export function linkSnapshot(e: HubEnv, r: HubRef, commit: string, f: HubFile, blob: string): string {
  const snapshot = snapshotPath(e, r, commit, f.path);
  mkdirSync(path.dirname(snapshot), { recursive: true });
  try {
    symlinkSync(path.relative(path.dirname(snapshot), blob), snapshot);
  } catch (err) {
    // Where links cannot be made (some Windows setups), huggingface_hub copies: so do we.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return snapshot;
    copyFileSync(blob, snapshot);
  }
  return snapshot;
}

export const snapshotPath = (e: HubEnv, r: HubRef, commit: string, p: string) => path.join(repoFolder(e, r), 'snapshots', commit, ...p.split('/'));
/** Whether a file is in the revision's snapshot already (a graph is linked there only once its weights are). */
export const inSnapshot = (e: HubEnv, r: HubRef, commit: string, p: string) => existsSync(snapshotPath(e, r, commit, p));

async function fetchBlob(e: HubEnv, r: HubRef, commit: string, f: HubFile, blob: string, onBytes: OnBytes, signal?: AbortSignal): Promise<void> {
  if (existsSync(blob)) return; // another process finished it while we waited for the lock
  const part = `${blob}.incomplete`;
  const url = `${e.endpoint}/${r.owner}/${r.name}/resolve/${commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
  let lastError: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const have = existsSync(part) ? statSync(part).size : 0;
    try {
      await fetchInto(url, e, part, have, f, onBytes, r, signal);
      lastError = undefined;
      break;
    } catch (err) {
      // Cancelled: the .incomplete file stays, and the next download resumes from it.
      checkAbort(signal);
      if (err instanceof EngineError) throw err;
      lastError = err; // a cut connection: the next attempt resumes from what arrived
    }
  }
  if (lastError) {
    const kept = existsSync(part) ? statSync(part).size : 0;
    const resume = kept ? `; run the command again to resume from the ${kept.toLocaleString('en-US')} bytes that arrived` : '';
    throw new EngineError('runtime', `Downloading ${printable(f.path)} failed ${ATTEMPTS} times (${(lastError as Error).message})${resume}.`);
  }
  if (f.sha256) {
    const got = await sha256Of(part);
    if (got !== f.sha256) {
      rmSync(part, { force: true });
      throw new EngineError('bad-file', `${printable(f.path)} arrived with sha256 ${got}, not the ${f.sha256} the Hub announces; it was discarded. Run the command again.`);
    }
  }
  renameSync(part, blob);
}

async function fetchInto(url: string, e: HubEnv, part: string, have: number, f: HubFile, onBytes: OnBytes, r: HubRef, signal?: AbortSignal): Promise<void> {
  const res = await fetch(url, { headers: { ...authHeaders(e), ...(have > 0 ? { range: `bytes=${have}-` } : {}) }, redirect: 'follow', ...(signal ? { signal } : {}) });
  if (res.status === 416 && have > 0) return; // the part is already whole
  if (!res.ok) throw hubError(res, r);
  // 206: the rest, appended; 200: the whole file again (the server ignored the range).
  const append = res.status === 206;
  const total = Number(res.headers.get('x-linked-size') ?? '') || f.size;
  const fd = openSync(part, append ? 'a' : 'w');
  let done = append ? have : 0;
  try {
    const reader = res.body!.getReader();
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      try {
        writeSync(fd, value);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') throw new EngineError('bad-file', `The disk holding the Hub cache (${printable(e.cache)}) is full: ${printable(f.path)} needs ${(total / 2 ** 20).toFixed(0)} MB. Free space or set HF_HUB_CACHE to another disk.`);
        throw err;
      }
      done += value.length;
      onBytes(f.path, done, total);
    }
  } finally {
    closeSync(fd);
  }
  if (f.size && statSync(part).size < f.size) throw new Error(`the connection ended after ${statSync(part).size} of ${f.size} bytes`);
}

function sha256Of(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (c) => h.update(c)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

/**
 * Runs `fn` holding a lock file (created exclusively, holding our pid). A lock whose process is gone
 * is stale and taken over; a live one is waited for.
 */
async function withLock(lock: string, fn: () => Promise<void>, signal?: AbortSignal): Promise<void> {
  mkdirSync(path.dirname(lock), { recursive: true });
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSafe(lock));
      if (!owner || !alive(owner)) { rmSync(lock, { force: true }); continue; }
      checkAbort(signal);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  try {
    await fn();
  } finally {
    try { unlinkSync(lock); } catch { /* already gone */ }
  }
}

function readFileSafe(f: string): string {
  try { return readFileSync(f, 'utf8'); } catch { return ''; }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}
