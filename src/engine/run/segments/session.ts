import { toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, type ModelProto, type ValueInfoProto } from 'onnx-buf';
import { createHash } from 'node:crypto';
import type * as ort from 'onnxruntime-node';
import { checkAbort, EngineError } from '../../base/errors';
import { inferElemTypes } from './borderTypes';
import type { SegmentPlan } from './plan';
import type { CreateSession } from './pool';
import { segmentModel } from './segmentModel';
import { fingerprint, type KeptState } from './states';
import { processSegments, type SegmentStore } from './store';

export interface SegmentRunOptions {
  /**
   * First block whose results the caller reads (default 0). A run may start at a later segment
   * than the first, from the states kept of the last run, only up to the one holding this block.
   */
  from?: number;
  /** Last block whose results are needed: later segments are not run. */
  through?: number;
  signal?: AbortSignal;
  /** Called after each segment with the graph outputs collected so far (it may delete what it has read). */
  onSegment?: (plan: SegmentPlan, outputs: Record<string, ort.Tensor>) => void;
}

const digest = (x: Uint8Array | string) => createHash('sha1').update(x).digest('hex');

/**
 * The sessions of a segmented model, opened at once where the types of their border tensors are
 * declared or inferred; any other on the first run, when those tensors exist.
 */
export class SegmentedSession {
  private readonly sessions: (Promise<ort.InferenceSession> | undefined)[];
  /** Per segment, the key of its shared session; per border k, the chain of graphs before it. */
  private readonly segmentKeys: (string | undefined)[];
  private prefixes: string[] = [];
  private readonly declared: Map<string, ValueInfoProto>;
  private readonly inferred: Map<string, number>;
  private readonly lastReader = new Map<string, number>();
  private readonly feedReaders: Map<string, number>;
  private readonly graphOutputs: Set<string>;
  /** Per segment k, what segments from k on read from earlier ones (not the caller's feeds): a state must hold all of it. */
  private readonly needed: string[][];
  private busy: Promise<unknown> = Promise.resolve();
  private released = false;

  private constructor(
    private readonly model: ModelProto,
    readonly plans: SegmentPlan[],
    private readonly createSession: CreateSession,
    private readonly identity: string,
    private readonly store: SegmentStore,
  ) {
    const g = model.graph!;
    this.declared = new Map([...g.input, ...g.valueInfo, ...g.output].map((v) => [v.name, v]));
    this.inferred = plans.length > 1 ? inferElemTypes(g, new Set(plans.flatMap((p) => p.inputs))) : new Map();
    this.sessions = plans.map(() => undefined);
    this.segmentKeys = plans.map(() => undefined);
    plans.forEach((p, k) => { for (const t of p.inputs) this.lastReader.set(t, k); });
    const feeds = new Set(g.input.map((i) => i.name));
    this.feedReaders = new Map();
    plans.forEach((p, k) => { for (const t of p.inputs) if (feeds.has(t) && !this.feedReaders.has(t)) this.feedReaders.set(t, k); });
    this.graphOutputs = new Set(g.output.map((x) => x.name));
    this.needed = plans.map((_, k) => {
      const later = plans.slice(k);
      return [...new Set(later.flatMap((p) => p.inputs))].filter((t) => !this.feedReaders.has(t) && !later.some((q) => q.outputs.includes(t)));
    });
  }

  /**
   * `identity` names the model file and session options (equal identities and graphs share
   * sessions and states); `stateBudget` bounds the memory of the states kept between runs; `store`
   * is where sessions and states are shared, the process's unless a test brings its own.
   */
  static async open(
    model: ModelProto, plans: SegmentPlan[], createSession: CreateSession, o: { identity: string; stateBudget: number; store?: SegmentStore },
  ): Promise<SegmentedSession> {
    const store = o.store ?? processSegments;
    const s = new SegmentedSession(model, plans, createSession, o.identity, store);
    store.states.budget = o.stateBudget;
    store.states.hold(o.identity);
    try {
      // One segment is the whole graph, exactly as patched: every feed, every output.
      const declared = (t: string) => { const v = s.declared.get(t); return v?.type?.value.case === 'tensorType' && !!v.type.value.value.elemType; };
      if (plans.length === 1) await s.open(0, toBinary(ModelProtoSchema, model));
      else for (let k = 0; k < plans.length; k++) {
        if (!plans[k].inputs.every((t) => declared(t) || s.inferred.has(t))) continue;
        try {
          await s.open(k, segmentModel(model, plans[k], s.declared, s.inferred, new Map()));
        } catch (e) {
          // An inferred type ONNX Runtime disagrees with: open this one on the first run, typed by its tensors.
          if (plans[k].inputs.every(declared)) throw e;
          s.sessions[k] = s.segmentKeys[k] = undefined;
        }
      }
    } catch (e) {
      await s.release();
      throw e;
    }
    s.updatePrefixes();
    return s;
  }

  private open(k: number, bytes: Uint8Array): Promise<ort.InferenceSession> {
    const key = `${this.identity}|${digest(bytes)}`;
    this.segmentKeys[k] = key;
    return (this.sessions[k] = this.store.sessions.acquire(key, bytes, this.createSession));
  }

  /** A segment opened on a first run has no key at open: the chain after it is this object's own. */
  private updatePrefixes(): void {
    let chain = this.identity;
    this.prefixes = this.plans.map((_, k) => {
      const here = chain;
      chain = digest(`${chain}|${this.segmentKeys[k] ?? `unshared:${k}:${this.store.states.nextUnsharedId()}`}`);
      return here;
    });
  }

  get segments(): number {
    return this.plans.length;
  }

  /** The segment holding block b. */
  segmentOf(block: number): number {
    const k = this.plans.findIndex((p) => block >= p.from && block < p.to);
    return k < 0 ? this.plans.length - 1 : k;
  }

  /** Runs one call at a time: segments of two calls must not interleave. */
  run(feeds: Record<string, ort.Tensor>, o: SegmentRunOptions = {}): Promise<Record<string, ort.Tensor>> {
    const next = this.busy.then(() => this.runNow(feeds, o));
    this.busy = next.catch(() => {});
    return next;
  }

  private async runNow(feeds: Record<string, ort.Tensor>, o: SegmentRunOptions): Promise<Record<string, ort.Tensor>> {
    if (this.released) throw new EngineError('runtime', 'This model\'s sessions were released (the engine makes room for another model); run the command again to reload it.');
    const last = o.through === undefined ? this.plans.length - 1 : this.segmentOf(o.through);
    const keys = this.stateKeys(feeds);
    // Resume from the latest state these feeds leave unchanged (ONNX Runtime on CPU is deterministic).
    let start = 0;
    let resumed: KeptState | undefined;
    for (let k = Math.min(last, this.segmentOf(o.from ?? 0)); k > 0; k--) {
      const st = this.store.states.get(keys[k]);
      if (st && this.needed[k].every((t) => st.tensors.has(t))) { start = k; resumed = st; break; }
    }
    const env = new Map<string, ort.Tensor>(Object.entries(feeds));
    const run = this.store.states.nextRun();
    if (resumed) {
      for (const [n, t] of resumed.tensors) env.set(n, t);
      this.store.states.resumedBy(keys[start], resumed, run);
    }
    const outputs: Record<string, ort.Tensor> = {};
    const whole = this.plans.length === 1;
    const clock = this.store.clock;
    clock.runStarts();
    for (let k = start; k <= last; k++) {
      checkAbort(o.signal);
      const p = this.plans[k];
      if (k > start && !this.store.states.has(keys[k])) this.keep(k, keys[k], env, run);
      if (!this.sessions[k]) { await this.open(k, segmentModel(this.model, p, this.declared, this.inferred, env)); this.updatePrefixes(); }
      const session = await this.sessions[k]!;
      clock.segmentStarts();
      let out: ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.run(whole ? feeds : Object.fromEntries(p.inputs.map((t) => [t, env.get(t)!])));
      } finally {
        clock.segmentEnds();
      }
      for (const [n, t] of Object.entries(out)) {
        if ((this.lastReader.get(n) ?? -1) > k) env.set(n, t);
        if (this.graphOutputs.has(n)) outputs[n] = t;
      }
      for (const t of p.inputs) if (this.lastReader.get(t) === k) env.delete(t);
      o.onSegment?.(p, outputs);
    }
    return outputs;
  }

  /** Everything made before segment k that it or a later one reads: enough to start a run at k. */
  private keep(k: number, key: string, env: Map<string, ort.Tensor>, run: number): void {
    const tensors = new Map<string, ort.Tensor>();
    for (const [n, x] of env) if (!this.feedReaders.has(n) && (this.lastReader.get(n) ?? -1) >= k) tensors.set(n, x);
    this.store.states.keep(key, { model: this.identity, run, tensors });
  }

  /** Per border k, the chain of graphs before it and a fingerprint of the feeds they read. */
  private stateKeys(feeds: Record<string, ort.Tensor>): string[] {
    const keys: string[] = [];
    const parts: string[] = [];
    const byReader = [...this.feedReaders].sort((a, b) => a[1] - b[1]);
    let j = 0;
    for (let k = 0; k < this.plans.length; k++) {
      while (j < byReader.length && byReader[j][1] < k) {
        const t = feeds[byReader[j][0]];
        parts.push(`${byReader[j][0]}:${t ? fingerprint(t) : '-'}`);
        j++;
      }
      keys.push(`${this.prefixes[k]}#${parts.join('|')}`);
    }
    return keys;
  }

  /** Releases this object's sessions (shared ones when no other session holds them) and, with the model's last, its states. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.store.states.letGo(this.identity);
    const keys = this.segmentKeys.splice(0);
    this.sessions.fill(undefined);
    for (const k of keys) if (k) await this.store.sessions.release(k);
  }
}
