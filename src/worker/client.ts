import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { cancelled, EngineError } from '../engine/base/errors';
import type { Progress } from '../engine/model/results';
import type { EngineCalls, EngineMethod, ToWorker, WorkerMessage, WorkerRequest } from '../shared/protocol';

interface Pending { request: WorkerRequest; resolve: (v: unknown) => void; reject: (e: Error) => void; onProgress?: (p: Progress) => void }

export interface Call<T> { id: number; result: Promise<T> }

/** How long a cancelled call may keep the engine busy before the engine process is killed. */
export const CANCEL_GRACE_MS = 400;
/**
 * The longest wait for the model run in progress after a cancel (one segment of blocks), which
 * the engine estimates from the segments before it. With the grace this bounds a cancelled run to
 * one second: a segment that ends within it keeps the loaded model for the next call; a longer one
 * (a long block of a wide model, a runaway Loop) is killed, and the next call loads the model again.
 */
export const CANCEL_SEGMENT_WAIT_MS = 600;
const STDERR_TAIL = 2000;

/**
 * Talks to the engine, which runs in its own process: inference never shares a thread (or a heap)
 * with the caller. Cancelling a call rejects it at once and asks the engine to stop at its next
 * check, the next border between segments of blocks. The engine answers how long the segment in
 * progress should still take; the client waits that long (up to CANCEL_SEGMENT_WAIT_MS, or that
 * cap when the engine cannot tell yet) plus CANCEL_GRACE_MS, and only then kills the process (one ONNX Runtime run cannot be interrupted;
 * killing a process is safe where tearing down a thread under a native call is not). Calls still
 * waiting are then replayed on a fresh engine.
 */
export class EngineClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Sent to the engine and not yet answered, cancelled or not: what keeps it busy. */
  private readonly inFlight = new Set<number>();
  private stderrTail = '';
  /** Calls whose cancellation the engine acknowledged, with its estimate, and who waits for the end. */
  private readonly stopping = new Map<number, (withinMs: number | null) => void>();

  /** `segmentWaitMs`: the longest wait for the model run in progress after a cancel (see CANCEL_SEGMENT_WAIT_MS). */
  constructor(private readonly workerPath = path.join(__dirname, 'worker.js'), private readonly segmentWaitMs = CANCEL_SEGMENT_WAIT_MS) {}

  call<M extends EngineMethod>(method: M, args: EngineCalls[M]['args'], onProgress?: (p: Progress) => void): Call<EngineCalls[M]['result']> {
    const id = this.nextId++;
    const request = { kind: 'request', id, method, args } as WorkerRequest;
    const result = new Promise<EngineCalls[M]['result']>((resolve, reject) => {
      this.pending.set(id, { request, resolve: resolve as (v: unknown) => void, reject, onProgress });
    });
    this.send(request);
    return { id, result };
  }

  /**
   * Cancels one call: its promise rejects now; the engine stops at its next border between blocks
   * (see the class comment). Resolves 'restarted' when the engine had to be killed (its sessions
   * are gone; the next call reloads).
   */
  async cancel(id: number): Promise<'none' | 'stopped' | 'restarted'> {
    const p = this.pending.get(id);
    if (!p) return 'none';
    this.pending.delete(id);
    p.reject(cancelled());
    const child = this.child;
    if (!child || !this.inFlight.has(id)) return 'stopped';
    // Wait for the engine's answer (or its end of the call), then as long as it says it needs.
    const started = performance.now();
    const answer = await new Promise<{ withinMs: number | null } | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), CANCEL_GRACE_MS);
      this.stopping.set(id, (withinMs) => { clearTimeout(timer); resolve({ withinMs }); });
      child.send({ kind: 'cancel', id } as ToWorker);
    });
    // No answer: the engine is stuck. An answer without an estimate: its first segment is running.
    const limit = answer ? Math.min(this.segmentWaitMs, answer.withinMs === null ? Infinity : answer.withinMs * 1.5) + CANCEL_GRACE_MS : CANCEL_GRACE_MS;
    const waitMs = limit - (performance.now() - started);
    if (this.inFlight.has(id) && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.stopping.set(id, () => { clearTimeout(timer); resolve(); });
      });
    }
    this.stopping.delete(id);
    const busy = this.child === child && this.inFlight.has(id);
    if (busy) await this.restart(child);
    this.updateRef();
    return busy ? 'restarted' : 'stopped';
  }

  async dispose(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.failAll(new EngineError('cancelled', 'The engine was shut down.'));
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.ref();
      child.kill('SIGKILL');
      await exited;
    }
  }

  /**
   * Ends the engine at once, synchronously: for a front end that is itself about to exit (a signal,
   * a closed output), where an asynchronous dispose would never complete.
   */
  killNow(): void {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  get running(): boolean {
    return !!this.child;
  }

  /** The engine's process id (for diagnostics and tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private send(msg: ToWorker): void {
    const child = this.ensureChild();
    if (msg.kind === 'request') this.inFlight.add(msg.id);
    child.send(msg);
    this.updateRef();
  }

  /** Kills a busy engine and replays the calls that were waiting behind the cancelled one. */
  private async restart(child: ChildProcess): Promise<void> {
    this.child = undefined;
    this.inFlight.clear();
    const exited = new Promise((r) => child.once('exit', r));
    child.ref();
    child.kill('SIGKILL');
    for (const p of this.pending.values()) this.send(p.request);
    await exited;
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    this.stderrTail = '';
    // Advanced serialization carries typed arrays; ELECTRON_RUN_AS_NODE makes VS Code's own
    // binary run the engine as plain Node.
    const child = fork(this.workerPath, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', GLIBC_TUNABLES: engineTunables(process.env.GLIBC_TUNABLES) },
      execArgv: [],
    });
    child.stderr?.on('data', (d: Buffer) => { this.stderrTail = (this.stderrTail + d.toString()).slice(-STDERR_TAIL); });
    child.on('message', (m: WorkerMessage) => { if (this.child === child) this.onMessage(m); });
    child.on('error', (e) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.inFlight.clear();
      this.failAll(new EngineError('worker-crashed', `The engine could not start (${e.message}). Your files are unchanged; run the command again.`));
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.inFlight.clear();
      const why = lastErrorLine(this.stderrTail);
      this.failAll(new EngineError('worker-crashed', `The engine stopped unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}${why ? `: ${why}` : ''}). Your files are unchanged; run the command again.`));
    });
    this.child = child;
    return child;
  }

  /** Keep the caller's process alive while the engine has work, and only then. */
  private updateRef(): void {
    const c = this.child as (ChildProcess & { channel?: { ref(): void; unref(): void } }) | undefined;
    if (!c) return;
    if (this.inFlight.size || this.pending.size) { c.ref(); c.channel?.ref(); } else { c.unref(); c.channel?.unref(); }
  }

  private onMessage(m: WorkerMessage): void {
    if (m.kind === 'ready') return;
    const p = this.pending.get(m.id);
    if (m.kind === 'progress') { p?.onProgress?.(m.progress); return; }
    if (m.kind === 'stopping') { this.stopping.get(m.id)?.(m.withinMs); return; }
    this.inFlight.delete(m.id);
    this.stopping.get(m.id)?.(0);
    if (p) {
      this.pending.delete(m.id);
      if (m.kind === 'result') p.resolve(m.result);
      else p.reject(new EngineError(m.error.code, m.error.message, m.error.facts));
    }
    this.updateRef();
  }

  private failAll(e: EngineError): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }
}

/**
 * glibc's malloc asks for transparent huge pages for its large blocks: a segmented run frees each
 * block's attention temporaries (hundreds of MB to GB at long inputs) and maps them again for the
 * next block, and faulting those in by 2 MB pages instead of 4 KB ones is measurably faster (a
 * 2048-token scan of the 1.1B model: 19.3 s → 17.1 s). Other systems ignore the variable.
 */
export function engineTunables(existing?: string): string {
  return existing?.includes('glibc.malloc.hugetlb') ? existing : [existing, 'glibc.malloc.hugetlb=1'].filter(Boolean).join(':');
}

/** The line of a crash report that says what went wrong (an Error line, else the last line). */
function lastErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => /^\w*Error\b|^Uncaught|^Error:/.test(l)) ?? lines.at(-1) ?? '').slice(0, 300);
}
