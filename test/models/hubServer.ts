import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A Hugging Face Hub on 127.0.0.1, speaking the API as its clients use it (HUB.md): model info with
 * blobs, resolve/<revision>/<path> with X-Repo-Commit and ETag, a 302 to a CDN path for LFS files with
 * X-Linked-Etag and X-Linked-Size, Range requests, 401 with X-Error-Code for unknown and gated
 * repositories, 404 for an unknown revision. Real sockets: a cut connection is a destroyed socket.
 */
export interface HubRepo { commit: string; files: Map<string, Buffer>; token?: string }
export interface Served { method: string; url: string; range?: string; bytes: number }

const lfs = (p: string) => /\.(onnx|onnx_data|onnx\.data)(_\d+)?$/.test(p);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const gitBlob = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export class HubServer {
  readonly repos = new Map<string, HubRepo>();
  readonly served: Served[] = [];
  /** LFS contents (by sha256) whose next download is cut half-way. */
  readonly cutOnce = new Set<string>();
  /** LFS contents (by sha256) whose next download sends half and then nothing, the connection held open: a stalled link the user cancels. */
  readonly stallOnce = new Set<string>();
  /** Paths served with one byte changed (an integrity failure). */
  readonly corrupt = new Set<string>();
  /** Tokens the Hub knows, and whose they are (GET /api/whoami-v2). */
  readonly users = new Map<string, string>();
  private server?: Server;
  endpoint = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((ok) => this.server?.close(ok));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, this.endpoint);
    const record: Served = { method: req.method!, url: url.pathname, ...(req.headers.range ? { range: req.headers.range } : {}), bytes: 0 };
    this.served.push(record);
    const info = /^\/api\/models\/([^/]+)\/([^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (url.pathname === '/api/whoami-v2') {
      const user = this.users.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!user) { res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"Invalid credentials in Authorization header"}'); return; }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ type: 'user', name: user }));
    } else if (info) {
      const repo = this.access(res, `${info[1]}/${info[2]}`, req, decodeURIComponent(info[3]));
      if (!repo) return;
      const siblings = [...repo.files].map(([p, b]) => ({
        rfilename: p, size: b.length, blobId: gitBlob(b), ...(lfs(p) ? { lfs: { sha256: sha256(b), size: b.length, pointerSize: 134 } } : {}),
      }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `${info[1]}/${info[2]}`, sha: repo.commit, siblings }));
    } else if (resolve) {
      const repo = this.access(res, `${resolve[1]}/${resolve[2]}`, req, decodeURIComponent(resolve[3]));
      if (!repo) return;
      const p = decodeURIComponent(resolve[4]);
      const b = repo.files.get(p);
      if (!b) { res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end(); return; }
      if (lfs(p)) {
        res.writeHead(302, { location: `/cdn/${sha256(b)}`, 'x-linked-etag': `"${sha256(b)}"`, 'x-linked-size': String(b.length), 'x-repo-commit': repo.commit }).end();
      } else {
        this.send(req, res, this.corrupt.has(p) ? flip(b) : b, record, { etag: `"${gitBlob(b)}"`, 'x-repo-commit': repo.commit });
      }
    } else if (cdn) {
      for (const repo of this.repos.values()) {
        for (const [p, b] of repo.files) {
          if (sha256(b) !== cdn[1]) continue;
          const body = this.corrupt.has(p) ? flip(b) : b;
          if (this.stallOnce.delete(cdn[1])) {
            res.writeHead(200, { 'content-length': String(body.length) });
            res.write(body.subarray(0, body.length >> 1), () => { record.bytes = body.length >> 1; });
            return;
          }
          if (this.cutOnce.delete(cdn[1])) {
            // Half the file, then the connection dies: what a dropped Wi-Fi does to a 5 GB download.
            res.writeHead(200, { 'content-length': String(body.length) });
            res.write(body.subarray(0, body.length >> 1), () => { record.bytes = body.length >> 1; res.destroy(); });
            return;
          }
          this.send(req, res, body, record, {});
          return;
        }
      }
      res.writeHead(404).end();
    } else {
      res.writeHead(404).end();
    }
  }

  /** The repository, if it exists, the revision is known and the caller may read it; else the Hub's refusal, sent. */
  private access(res: ServerResponse, id: string, req: IncomingMessage, revision: string): HubRepo | undefined {
    const repo = this.repos.get(id);
    if (!repo) { res.writeHead(401, { 'x-error-code': 'RepoNotFound' }).end('Repository not found'); return undefined; }
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) { res.writeHead(401, { 'x-error-code': 'GatedRepo' }).end('Access restricted'); return undefined; }
    if (revision !== 'main' && revision !== repo.commit) { res.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end('Invalid rev id'); return undefined; }
    return repo;
  }

  private send(req: IncomingMessage, res: ServerResponse, b: Buffer, record: Served, headers: Record<string, string>): void {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    if (m && from >= b.length) { res.writeHead(416).end(); return; }
    const body = b.subarray(from);
    res.writeHead(m ? 206 : 200, { ...headers, 'content-length': String(body.length), ...(m ? { 'content-range': `bytes ${from}-${b.length - 1}/${b.length}` } : {}) });
    record.bytes = body.length;
    res.end(body);
  }
}

function flip(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[c.length >> 1] ^= 0xff;
  return c;
}
