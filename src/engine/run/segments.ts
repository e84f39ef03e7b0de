import { create, toBinary } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, type GraphProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from 'onnx-buf';
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { EngineError } from '../base/errors';
import { makeValueInfo } from '../model/onnx/build';
import { DT, onnxTypeOf } from '../model/onnx/dtype';
import { outerReads } from '../model/onnx/graph';

/**
 * A patched model cut into consecutive segments of blocks, each its own ONNX Runtime session over
 * the same weight files. Runs hand the residual stream and whatever else later blocks read (masks,
 * positions, rotary caches, attention sums) from one segment to the next, so that
 *  - results come out block by block, long before the pass ends;
 *  - a run can stop between two segments (Cancel) without killing anything;
 *  - a request about block L runs blocks 0…L only, and a run whose inputs differ from the last one
 *    only from block L on (an intervention at L) starts there, from the states kept of the last run.
 * Every node lands in exactly one segment, so the weights are read once, as by one whole session.
 */

/** One segment: its blocks [from, to), its nodes and what crosses its borders. */
export interface SegmentPlan {
  from: number;
  to: number;
  nodes: NodeProto[];
  /** Tensors it reads that an earlier segment or the caller's feeds provide. */
  inputs: string[];
  /** Tensors it makes that later segments read, or that the graph outputs. */
  outputs: string[];
  initializers: TensorProto[];
}

/** Everything a node reads, subgraphs' reads of the enclosing scope included. */
function readsOf(n: NodeProto): string[] {
  const r = n.input.filter(Boolean);
  for (const a of n.attribute) for (const sg of a.g ? [a.g] : a.graphs) r.push(...outerReads(sg));
  return r;
}

/**
 * Assigns each node the first segment whose blocks need it (walking back from each segment's
 * targets: its blocks' outputs and exposed tensors); what only the graph's other outputs need
 * (final norm, LM head, caches) goes to the earliest segment its inputs allow. Dead nodes are dropped.
 */
export function planSegments(g: GraphProto, targets: string[][], blocksPerSegment: number): SegmentPlan[] {
  const blocks = targets.length;
  const size = Math.max(1, Math.min(blocksPerSegment, blocks));
  const producer = new Map<string, number>();
  g.node.forEach((n, i) => n.output.forEach((o) => { if (o) producer.set(o, i); }));
  const reads = g.node.map(readsOf);
  const live = new Uint8Array(g.node.length);
  const walk = (start: string[], mark: (i: number) => boolean) => {
    const stack = [...start];
    while (stack.length) {
      const i = producer.get(stack.pop()!);
      if (i === undefined || !mark(i)) continue;
      stack.push(...reads[i]);
    }
  };
  walk(g.output.map((o) => o.name), (i) => (live[i] ? false : (live[i] = 1, true)));
  const seg = new Int32Array(g.node.length).fill(-1);
  const ranges: [number, number][] = [];
  for (let from = 0; from < blocks; from += size) ranges.push([from, Math.min(blocks, from + size)]);
  ranges.forEach(([from, to], k) => walk(targets.slice(from, to).flat(), (i) => (seg[i] >= 0 ? false : (seg[i] = k, true))));
  // Leftovers go after their producers; surgery appends nodes, so the list is not in topological order.
  const place = (root: number) => {
    const stack: [number, boolean][] = [[root, false]];
    while (stack.length) {
      const [i, expanded] = stack.pop()!;
      if (seg[i] >= 0) continue;
      if (!expanded) {
        stack.push([i, true]);
        for (const t of reads[i]) { const j = producer.get(t); if (j !== undefined && seg[j] < 0) stack.push([j, false]); }
        continue;
      }
      seg[i] = reads[i].reduce((k, t) => Math.max(k, seg[producer.get(t) ?? -1] ?? 0), 0);
    }
  };
  g.node.forEach((_, i) => { if (seg[i] < 0 && live[i]) place(i); });
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const graphOutputs = new Set(g.output.map((o) => o.name));
  const readBy = new Map<string, number>();
  g.node.forEach((_, i) => { if (seg[i] >= 0) for (const t of reads[i]) readBy.set(t, Math.max(readBy.get(t) ?? -1, seg[i])); });
  return ranges.map(([from, to], k) => {
    const nodes = g.node.filter((_, i) => seg[i] === k);
    const made = new Set(nodes.flatMap((n) => n.output.filter(Boolean)));
    const read = new Set(g.node.flatMap((_, i) => (seg[i] === k ? reads[i] : [])));
    const inputs = [...read].filter((t) => !made.has(t) && !inits.has(t));
    const outputs = [...made].filter((t) => graphOutputs.has(t) || (readBy.get(t) ?? -1) > k);
    const initializers = [...read].filter((t) => !made.has(t) && inits.has(t)).map((t) => inits.get(t)!);
    return { from, to, nodes, inputs, outputs, initializers };
  });
}

/**
 * The first tensor a segment reads that nothing provides — no node makes it and it is no graph
 * input or initializer — with the node that reads it: the graph is broken (a node or input lost),
 * and ONNX Runtime would refuse it as one graph too.
 */
export function unprovidedRead(g: GraphProto, plans: SegmentPlan[]): { tensor: string; node: string } | undefined {
  const inputs = new Set(g.input.map((i) => i.name));
  const made = new Set(plans.flatMap((p) => p.nodes.flatMap((n) => n.output.filter(Boolean))));
  for (const p of plans) {
    for (const t of p.inputs) {
      if (inputs.has(t) || made.has(t)) continue;
      const n = p.nodes.find((x) => readsOf(x).includes(t));
      return { tensor: t, node: n?.name || `#${n ? g.node.indexOf(n) : '?'} (${n?.opType ?? '?'})` };
    }
  }
  return undefined;
}

const TO_INT64 = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
const TO_BOOL = new Set(['Equal', 'Less', 'LessOrEqual', 'Greater', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
/** Ops whose output takes the type of an input other than the first. */
const TYPE_FROM_INPUT: Record<string, number> = { Where: 1, ScatterND: 0, Expand: 0, Reshape: 0 };

/**
 * The element type of every border tensor the graph does not declare, by the ONNX type rules of
 * its producer (most ops keep their first input's type). Lets every segment's session open at
 * once instead of on the first run; what stays unknown is typed from the tensor on that run.
 */
function inferElemTypes(g: GraphProto, wanted: Set<string>): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of [...g.input, ...g.valueInfo, ...g.output]) if (v.type?.value.case === 'tensorType' && v.type.value.value.elemType) types.set(v.name, v.type.value.value.elemType);
  for (const t of g.initializer) types.set(t.name, t.dataType);
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) if (o) producer.set(o, n);
  const typeOf = (root: string): number | undefined => {
    const stack = [root];
    while (stack.length) {
      const t = stack[stack.length - 1];
      if (types.has(t)) { stack.pop(); continue; }
      const n = producer.get(t);
      if (!n) { stack.pop(); types.set(t, 0); continue; }
      const ms = n.domain === 'com.microsoft';
      const op = n.domain && n.domain !== 'ai.onnx' && !ms ? '' : n.opType;
      const slot = n.output.indexOf(t);
      let result: number | undefined;
      if (TO_INT64.has(op)) result = DT.INT64;
      else if (TO_BOOL.has(op)) result = DT.BOOL;
      else if (op === 'Cast') result = Number(n.attribute.find((a) => a.name === 'to')?.i ?? 0);
      else if (op === 'Constant') result = n.attribute.find((a) => a.name === 'value')?.t?.dataType ?? (n.attribute.some((a) => a.name.startsWith('value_int')) ? DT.INT64 : n.attribute.some((a) => a.name.startsWith('value_float')) ? DT.FLOAT : 0);
      else if (op === 'ConstantOfShape') result = n.attribute.find((a) => a.name === 'value')?.t?.dataType ?? DT.FLOAT;
      else if (op === 'CastLike') { const x = n.input[1]; if (!types.has(x)) { stack.push(x); continue; } result = types.get(x); }
      else if (ms) {
        // Contrib ops compute in the type of their first floating-point input (token ids come first in some).
        const pending = n.input.filter((x) => x && !types.has(x));
        if (pending.length) { stack.push(...pending); continue; }
        result = n.input.map((x) => (x ? types.get(x) : 0)).find((e) => e === DT.FLOAT || e === DT.FLOAT16 || e === DT.DOUBLE || e === DT.BFLOAT16);
      }
      else if (op === 'TopK' && slot === 1) result = DT.INT64;
      else if (op && (slot === 0 || op === 'Split' || op === 'TopK') && !['If', 'Loop', 'Scan', 'QuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearMatMul', 'QLinearConv', 'DequantizeLinear', 'DynamicQuantizeLinear', 'OneHot', 'EyeLike', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial'].includes(op)) {
        const x = n.input[TYPE_FROM_INPUT[op] ?? 0];
        if (x && !types.has(x)) { stack.push(x); continue; }
        result = x ? types.get(x) : 0;
      }
      types.set(t, result ?? 0);
      stack.pop();
    }
    return types.get(root) || undefined;
  };
  const out = new Map<string, number>();
  for (const t of wanted) { const e = typeOf(t); if (e) out.set(t, e); }
  return out;
}

/** The segment as a model of its own: same opsets, functions and metadata, its nodes only. */
function segmentModel(model: ModelProto, p: SegmentPlan, declared: Map<string, ValueInfoProto>, inferred: Map<string, number>, given: Map<string, ort.Tensor>): Uint8Array {
  const g = model.graph!;
  const inputInfo = p.inputs.map((name) => {
    const v = declared.get(name);
    if (v?.type?.value.case === 'tensorType' && v.type.value.value.shape) return v;
    const t = given.get(name);
    const elemType = (v?.type?.value.case === 'tensorType' ? v.type.value.value.elemType : 0) || (t && onnxTypeOf(t.type)) || inferred.get(name);
    if (!elemType) throw new EngineError('runtime', `Internal: segment ${p.from}–${p.to - 1} reads ${name}, whose type is unknown.`);
    // Symbolic sizes (the session must accept any sequence length, as the whole graph does), of
    // the rank the tensor has when it is at hand; otherwise the rank is left open.
    return makeValueInfo(name, elemType, t?.dims.map((_, i) => `${name}__${i}`));
  });
  const outputInfo = p.outputs.map((name) => declared.get(name) ?? makeValueInfo(name));
  const names = new Set([...p.inputs, ...p.outputs, ...p.nodes.flatMap((n) => n.output)]);
  const graph = create(GraphProtoSchema, {
    ...g, node: p.nodes, input: inputInfo, output: outputInfo, initializer: p.initializers,
    valueInfo: g.valueInfo.filter((v) => names.has(v.name) && !p.inputs.includes(v.name) && !p.outputs.includes(v.name)),
    sparseInitializer: [],
  });
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, { ...model, graph }));
}

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

/**
 * The segment ONNX Runtime is running now, if any: one native run cannot be interrupted, so a
 * cancelled call ends when it returns. The engine process tells its client how long that should be.
 */
export const segmentClock = { startedAt: null as number | null, lastMs: null as number | null };

/**
 * About how long until the running segment returns: 0 when none runs, null when no segment of this
 * run has finished yet to judge by (the first one also loads lazily created sessions).
 */
export function segmentRemainingMs(now = performance.now()): number | null {
  if (segmentClock.startedAt === null) return 0;
  return segmentClock.lastMs === null ? null : Math.max(0, segmentClock.lastMs - (now - segmentClock.startedAt));
}

export type CreateSession = (bytes: Uint8Array) => Promise<ort.InferenceSession>;

/**
 * Sessions by the bytes of their segment's graph (and the model file and session options): two
 * sessions of one model opened for different probes (a scan's and an intervention's) share every
 * segment whose graph is the same, so the weights of those blocks are loaded once, not per session.
 */
const shared = new Map<string, { session: Promise<ort.InferenceSession>; refs: number }>();

function acquire(key: string, bytes: Uint8Array, create: CreateSession): Promise<ort.InferenceSession> {
  let e = shared.get(key);
  if (!e) {
    const session = create(bytes);
    e = { session, refs: 0 };
    shared.set(key, e);
    session.catch(() => { if (shared.get(key)?.session === session) shared.delete(key); });
  }
  e.refs++;
  return e.session;
}

async function releaseShared(key: string): Promise<void> {
  const e = shared.get(key);
  if (!e || --e.refs > 0) return;
  shared.delete(key);
  await (await e.session.catch(() => undefined))?.release();
}

/**
 * What a run kept before segment k, for later runs to start there: the tensors read from k on,
 * keyed by the chain of segment graphs before k and the feeds those read. A run of a session opened
 * for other probes whose first k segments are the same graphs (an intervention after a scan) resumes from it.
 */
interface KeptState { model: string; run: number; tensors: Map<string, ort.Tensor> }
/** States by key, oldest first; tensors shared by states (masks, rotary caches) count once. */
const states = { map: new Map<string, KeptState>(), refs: new Map<ort.Tensor, number>(), bytes: 0, budget: 0 };

/**
 * Keeps a state while the budget allows, making room by dropping other runs' states, oldest first.
 * A run's own earlier states stay: the first blocks are where massive activations appear and what
 * a block click or an intervention most often asks for next.
 */
function keepState(key: string, st: KeptState): void {
  dropState(key);
  const added = () => [...new Set(st.tensors.values())].reduce((a, t) => a + (states.refs.has(t) ? 0 : byteSize(t)), 0);
  for (const [k, old] of states.map) {
    if (states.bytes + added() <= states.budget) break;
    if (old.run !== st.run) dropState(k);
  }
  const bytes = added();
  if (states.bytes + bytes > states.budget) return;
  states.map.set(key, st);
  for (const t of new Set(st.tensors.values())) states.refs.set(t, (states.refs.get(t) ?? 0) + 1);
  states.bytes += bytes;
}

function dropState(key: string): void {
  const st = states.map.get(key);
  if (!st) return;
  states.map.delete(key);
  for (const t of new Set(st.tensors.values())) {
    const n = (states.refs.get(t) ?? 1) - 1;
    if (n > 0) { states.refs.set(t, n); continue; }
    states.refs.delete(t);
    states.bytes -= byteSize(t);
  }
}

let runs = 0;
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
  private static alive = new Map<string, number>();

  private constructor(private readonly model: ModelProto, readonly plans: SegmentPlan[], private readonly createSession: CreateSession, private readonly identity: string) {
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
   * sessions and states); `stateBudget` bounds the memory of the states kept between runs.
   */
  static async open(model: ModelProto, plans: SegmentPlan[], createSession: CreateSession, o: { identity: string; stateBudget: number }): Promise<SegmentedSession> {
    const s = new SegmentedSession(model, plans, createSession, o.identity);
    states.budget = o.stateBudget;
    SegmentedSession.alive.set(o.identity, (SegmentedSession.alive.get(o.identity) ?? 0) + 1);
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
    return (this.sessions[k] = acquire(key, bytes, this.createSession));
  }

  /** A segment opened on a first run has no key at open: the chain after it is this object's own. */
  private updatePrefixes(): void {
    let chain = this.identity;
    this.prefixes = this.plans.map((_, k) => {
      const here = chain;
      chain = digest(`${chain}|${this.segmentKeys[k] ?? `unshared:${k}:${SegmentedSession.nextId++}`}`);
      return here;
    });
  }
  private static nextId = 0;

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
      const st = states.map.get(keys[k]);
      if (st && this.needed[k].every((t) => st.tensors.has(t))) { start = k; resumed = st; break; }
    }
    const env = new Map<string, ort.Tensor>(Object.entries(feeds));
    const run = ++runs;
    if (resumed) {
      for (const [n, t] of resumed.tensors) env.set(n, t);
      // The state resumed from is this run's own now: the last to go.
      states.map.delete(keys[start]);
      states.map.set(keys[start], Object.assign(resumed, { run }));
    }
    const outputs: Record<string, ort.Tensor> = {};
    const whole = this.plans.length === 1;
    segmentClock.lastMs = null;
    for (let k = start; k <= last; k++) {
      if (o.signal?.aborted) throw new EngineError('cancelled', 'Cancelled.');
      const p = this.plans[k];
      if (k > start && !states.map.has(keys[k])) this.keep(k, keys[k], env, run);
      if (!this.sessions[k]) { await this.open(k, segmentModel(this.model, p, this.declared, this.inferred, env)); this.updatePrefixes(); }
      const session = await this.sessions[k]!;
      segmentClock.startedAt = performance.now();
      let out: ort.InferenceSession.OnnxValueMapType;
      try {
        out = await session.run(whole ? feeds : Object.fromEntries(p.inputs.map((t) => [t, env.get(t)!])));
      } finally {
        segmentClock.lastMs = performance.now() - segmentClock.startedAt;
        segmentClock.startedAt = null;
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
    keepState(key, { model: this.identity, run, tensors });
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
    const left = (SegmentedSession.alive.get(this.identity) ?? 1) - 1;
    if (left > 0) SegmentedSession.alive.set(this.identity, left);
    else {
      SegmentedSession.alive.delete(this.identity);
      for (const [k, st] of states.map) if (st.model === this.identity) dropState(k);
    }
    const keys = this.segmentKeys.splice(0);
    this.sessions.fill(undefined);
    for (const k of keys) if (k) await releaseShared(k);
  }
}
function byteSize(t: ort.Tensor): number {
  const d = t.data as unknown;
  return ArrayBuffer.isView(d) ? d.byteLength : 0;
}

/** FNV-1a over the tensor's bytes, with its type and dims: cheap next to any segment's run. */
function fingerprint(t: ort.Tensor): string {
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
