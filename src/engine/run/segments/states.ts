import type * as ort from 'onnxruntime-node';

/**
 * What a run kept before segment k, for later runs to start there: the tensors read from k on,
 * keyed by the chain of segment graphs before k and the feeds those read. A run of a session opened
 * for other probes whose first k segments are the same graphs (an intervention after a scan)
 * resumes from it.
 */
export interface KeptState { model: string; run: number; tensors: Map<string, ort.Tensor> }

/** States by key, oldest first; tensors shared by states (masks, rotary caches) count once. */
export class StateCache {
  private readonly map = new Map<string, KeptState>();
  private readonly refs = new Map<ort.Tensor, number>();
  private bytes = 0;
  /** Set by each model opened (see SegmentedSession.open). */
  budget = 0;
  private runs = 0;
  private unshared = 0;
  /** Open sessions per model identity: a model's states go with its last. */
  private readonly holders = new Map<string, number>();

  get(key: string): KeptState | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Run numbers are compared across models: keep() spares the states of the run making room. */
  nextRun(): number {
    return ++this.runs;
  }

  /** Tells apart, in state keys, segments opened on a first run (they have no shared key). */
  nextUnsharedId(): number {
    return this.unshared++;
  }

  /** The state resumed from is this run's own now: the last to go. */
  resumedBy(key: string, st: KeptState, run: number): void {
    this.map.delete(key);
    this.map.set(key, Object.assign(st, { run }));
  }

  /**
   * Keeps a state while the budget allows, making room by dropping other runs' states, oldest first.
   * A run's own earlier states stay: the first blocks are where massive activations appear and what
   * a block click or an intervention most often asks for next.
   */
  keep(key: string, st: KeptState): void {
    this.drop(key);
    const added = () => [...new Set(st.tensors.values())].reduce((a, t) => a + (this.refs.has(t) ? 0 : byteSize(t)), 0);
    for (const [k, old] of this.map) {
      if (this.bytes + added() <= this.budget) break;
      if (old.run !== st.run) this.drop(k);
    }
    const bytes = added();
    if (this.bytes + bytes > this.budget) return;
    this.map.set(key, st);
    for (const t of new Set(st.tensors.values())) this.refs.set(t, (this.refs.get(t) ?? 0) + 1);
    this.bytes += bytes;
  }

  private drop(key: string): void {
    const st = this.map.get(key);
    if (!st) return;
    this.map.delete(key);
    for (const t of new Set(st.tensors.values())) {
      const n = (this.refs.get(t) ?? 1) - 1;
      if (n > 0) { this.refs.set(t, n); continue; }
      this.refs.delete(t);
      this.bytes -= byteSize(t);
    }
  }

  hold(model: string): void {
    this.holders.set(model, (this.holders.get(model) ?? 0) + 1);
  }

  /** With the model's last session, its states go. */
  letGo(model: string): void {
    const left = (this.holders.get(model) ?? 1) - 1;
    if (left > 0) { this.holders.set(model, left); return; }
    this.holders.delete(model);
    for (const [k, st] of this.map) if (st.model === model) this.drop(k);
  }
}

function byteSize(t: ort.Tensor): number {
  const d = t.data as unknown;
  return ArrayBuffer.isView(d) ? d.byteLength : 0;
}

/** FNV-1a over the tensor's bytes, with its type and dims: cheap next to any segment's run. */
export function fingerprint(t: ort.Tensor): string {
  const d = t.data as unknown;
  let h = 0x811c9dc5;
  if (ArrayBuffer.isView(d)) {
    const u = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    const aligned = u.byteOffset % 4 === 0;
    const n = aligned ? u.byteLength >> 2 : 0;
    const words = new Uint32Array(u.buffer, aligned ? u.byteOffset : 0, n);
    for (let i = 0; i < n; i++) h = Math.imul(h ^ words[i], 0x01000193);
    for (let i = n * 4; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193);
  }
  return `${t.type}[${t.dims.join(',')}]${(h >>> 0).toString(16)}`;
}
