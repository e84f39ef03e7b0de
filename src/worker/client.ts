import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { EngineError } from '../engine/errors';
import type { Progress } from '../engine/types';
import type { EngineCalls, EngineMethod, ToWorker, WorkerMessage } from '../shared/protocol';

interface Pending { resolve: (v: unknown) => void; reject: (e: Error) => void; onProgress?: (p: Progress) => void }

export interface Call<T> { id: number; result: Promise<T> }

/**
 * Talks to the engine worker. Cancelling a call rejects it at once; the worker stops the work at
 * its next check (between model runs) and keeps its sessions. The worker is never terminated under
 * a running ONNX Runtime call: tearing a thread down there can crash the whole process.
 */
export class EngineClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly workerPath = path.join(__dirname, 'worker.js')) {}

  call<M extends EngineMethod>(method: M, args: EngineCalls[M]['args'], onProgress?: (p: Progress) => void): Call<EngineCalls[M]['result']> {
    const id = this.nextId++;
    const result = new Promise<EngineCalls[M]['result']>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
    });
    const w = this.ensureWorker();
    // Keep the process alive while calls are pending, and only then.
    w.ref();
    w.postMessage({ kind: 'request', id, method, args } as ToWorker);
    return { id, result };
  }

  /** Cancels one call: its promise rejects now; the worker abandons the work between runs. */
  async cancel(id: number): Promise<void> {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.worker?.postMessage({ kind: 'cancel', id } as ToWorker);
    if (this.pending.size === 0) this.worker?.unref();
    p.reject(new EngineError('cancelled', 'Cancelled.'));
  }

  async dispose(): Promise<void> {
    await this.shutdown(new EngineError('cancelled', 'The engine was shut down.'));
  }

  get running(): boolean {
    return !!this.worker;
  }

  private async shutdown(reason: EngineError): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    this.failAll(reason);
    if (w) await w.terminate();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.workerPath);
    w.on('message', (m: WorkerMessage) => this.onMessage(m));
    w.on('error', (e) => {
      if (this.worker === w) this.worker = undefined;
      this.failAll(new EngineError('worker-crashed', `The engine worker crashed (${e.message}). Your files are unchanged; run the command again.`));
    });
    w.on('exit', (code) => {
      if (this.worker !== w) return;
      this.worker = undefined;
      this.failAll(new EngineError('worker-crashed', `The engine worker stopped unexpectedly (exit code ${code}). Your files are unchanged; run the command again.`));
    });
    this.worker = w;
    return w;
  }

  private onMessage(m: WorkerMessage): void {
    if (m.kind === 'ready') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') { p.onProgress?.(m.progress); return; }
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (m.kind === 'result') p.resolve(m.result);
    else p.reject(new EngineError(m.error.code, m.error.message));
  }

  private failAll(e: EngineError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }
}
