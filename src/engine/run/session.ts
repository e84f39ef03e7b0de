import * as ort from 'onnxruntime-node';
import * as path from 'node:path';
import { existsSync, statSync } from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { EngineError } from '../base/errors';
import { checkMemory } from '../model/memory';
import { prepareModel, type PreparedModel } from '../model/inspect';
import { externalizeInlineWeights, pointWeightsAtRealFiles, requireExternalFiles } from '../model/onnx/load';
import { exposeForScan, probeLookup, type Exposure } from './exposure';
import { canonicalProbes, type ProbeName, type ProbeRequest, type ProbeTensor } from './probes';
import type { FeedTensor } from '../model/feeds';
import { halvesToFloats } from '../model/onnx/dtype';
import { printable } from '../base/text';
import { threadsFor } from '../base/limits';
import { planSegments, unprovidedRead } from './segments/plan';
import { SegmentedSession, type SegmentRunOptions } from './segments/session';
import { availableMemory } from '../model/memory';

export interface OpenModel {
  key: string;
  prepared: PreparedModel;
  /** The probe points the session was opened for, canonical (see probes.ts). */
  request: ProbeRequest;
  /** The graph outputs behind a point the request reads; empty where the model has none there (fused attention, another mixer). */
  probe(name: ProbeName): ProbeTensor[];
  /** The graph inputs that edit a point the request edits: stream = where(mask, values, stream). */
  editInputs(name: ProbeName): { mask: string; values: string };
  /** The patched model's sessions, one per segment of blocks (see segments/plan.ts). */
  session: SegmentedSession;
}

/**
 * Blocks per segment unless asked otherwise. One block per segment gives results and Cancel at
 * every block; segmenting costs little (measured by npm run bench:scale's segmented column).
 */
export const DEFAULT_BLOCKS_PER_SEGMENT = 1;
/** Models at least this wide let segment sessions' threads spin (see openModel). */
const SPIN_WIDTH = 1536;

export interface SessionSettings {
  /** Blocks per segment (see segments/plan.ts); Infinity runs the model as one whole graph. */
  blocksPerSegment?: number;
  threads?: number;
  /** Refuse to load when the weights alone are estimated over this (default: memory available now). */
  memoryLimitBytes?: number;
}

/** Builds the patched graph in memory and opens it; the user's files are only read. */
export async function openModel(file: string, probes: ProbeRequest, settings: SessionSettings = {}): Promise<OpenModel> {
  // A misspelt name throws here, before the model is read.
  const request = canonicalProbes(probes);
  const prepared = prepareModel(file);
  requireExternalFiles(prepared.loaded);
  checkMemory(prepared, undefined, settings.memoryLimitBytes);
  const exposure = exposeForScan(prepared, request);
  pointWeightsAtRealFiles(prepared.loaded);
  externalizeInlineWeights(prepared.loaded);
  // The file's bytes are no longer referenced by the graph; let them go before ONNX Runtime loads,
  // so the peak is one copy of the weights (ORT's), not two.
  prepared.loaded.bytes = new Uint8Array(0);
  collectGarbage();
  const plans = planSegments(prepared.loaded.proto.graph!, blockTargets(exposure), settings.blocksPerSegment ?? DEFAULT_BLOCKS_PER_SEGMENT);
  // Said before any session opens, in the same words for one graph and for segments (whose
  // sessions would otherwise fail on a border tensor of unknown type).
  const lost = unprovidedRead(prepared.loaded.proto.graph!, plans);
  if (lost) {
    throw new EngineError('invalid-model', `${printable(path.basename(file))} is not a valid ONNX model: node ${printable(lost.node)} reads `
      + `"${printable(lost.tensor)}", which no node, graph input or initializer provides. Re-export the model.`);
  }
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threadsFor(settings.threads),
    // Failures reach the user as EngineErrors; ONNX Runtime's own log lines would duplicate them.
    logSeverityLevel: 4,
    // Weights stay where they are: the session reads them from the model's own folder.
    extra: { session: { model_external_initializers_file_folder_path: prepared.loaded.weightsDir } },
  };
  // Per-session arenas never shrink: with one session per segment each would keep its own
  // activation peak. Without them, freed activations go back to the system between blocks.
  if (plans.length > 1) {
    options.enableCpuMemArena = false;
    // Each session has its own thread pool, whose threads spin after a run waiting for more work.
    // With one session per block, on a narrow model they spin against the next block's threads
    // (a GPT-2-sized model at 512 tokens: 811 ms spinning, 505 sleeping, 436 as one graph); a wide
    // model's blocks are long enough that spinning inside a run pays (the 1.1B at 2048 tokens:
    // 15.0 s spinning, 17.8 sleeping, 14.4 as one graph).
    if ((prepared.info.hiddenSize ?? 0) < SPIN_WIDTH) (options.extra as { session: Record<string, string> }).session['intra_op.allow_spinning'] = '0';
  }
  const create = async (bytes: Uint8Array) => {
    try {
      return await ort.InferenceSession.create(bytes, options);
    } catch (e) {
      throw runtimeError(e, prepared);
    }
  };
  // Requests on one file with the same options share the segments whose graphs are equal.
  const identity = JSON.stringify([sessionKey(file, { read: [] }), options.intraOpNumThreads, options.enableCpuMemArena ?? true]);
  const session = await SegmentedSession.open(prepared.loaded.proto, plans, create, { identity, stateBudget: stateBudget() });
  return { key: sessionKey(file, request, settings), prepared, request, ...probeLookup(exposure, request), session };
}

/** What each block's segment must compute: its output and the tensors exposed for it. */
function blockTargets(e: Exposure): string[][] {
  return e.blockOutputs.map((out, b) => [
    out,
    ...e.attention[b].flatMap((a) => [a.tensor, a.sums, a.logits, a.values].filter((t): t is string => !!t)),
    ...(e.mlpInputs[b] ? [e.mlpInputs[b]!.input] : []),
  ]);
}

/** Memory for the states kept between runs (see SegmentedSession): a small share of what is free. */
function stateBudget(): number {
  return Math.min(2 ** 30, availableMemory() * 0.04);
}

/**
 * A session on a file exactly as it is (no surgery): the helper parts of a multi-file export, such
 * as embed_tokens.onnx, which are not transformers themselves. ONNX Runtime reads them in place.
 */
export async function openPlain(file: string, settings: SessionSettings = {}): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(path.resolve(file), { executionProviders: ['cpu'], intraOpNumThreads: threadsFor(settings.threads), logSeverityLevel: 4 });
  } catch (e) {
    throw new EngineError('runtime', `ONNX Runtime cannot open ${printable(path.basename(file))}: ${ortCause((e as Error)?.message ?? String(e))}`);
  }
}

/** Equal for equal requests however spelt (see canonicalProbes). */
export function sessionKey(file: string, probes: ProbeRequest, settings: SessionSettings = {}): string {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new EngineError('not-found', `Model file not found: ${abs}`);
  const st = statSync(abs);
  return JSON.stringify([abs, st.size, st.mtimeMs, canonicalProbes(probes), settings.blocksPerSegment ?? DEFAULT_BLOCKS_PER_SEGMENT]);
}

export function toOrtFeeds(feeds: Record<string, FeedTensor>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [k, f] of Object.entries(feeds)) out[k] = new ort.Tensor(f.type as 'float32', f.data as Float32Array, f.dims);
  return out;
}

export async function run(m: OpenModel, feeds: Record<string, FeedTensor>, o: SegmentRunOptions = {}): Promise<Record<string, ort.Tensor>> {
  try {
    return await m.session.run(toOrtFeeds(feeds), o);
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw runtimeError(e, m.prepared);
  }
}

/** Any numeric tensor as float32 (fp16 arrives as raw halves on Node 20). */
export function toFloat32(t: ort.Tensor): Float32Array {
  const d = t.data as unknown;
  if (d instanceof Float32Array) return d;
  if (t.type === 'float16' && d instanceof Uint16Array) return halvesToFloats(d);
  if (ArrayBuffer.isView(d)) return Float32Array.from(d as unknown as ArrayLike<number>, Number);
  throw new EngineError('runtime', `Unexpected tensor type ${t.type}`);
}

function runtimeError(e: unknown, p: PreparedModel): EngineError {
  const msg = (e as Error)?.message ?? String(e);
  const name = printable(path.basename(p.loaded.path));
  const cause = ortCause(msg);
  const custom = /([\w.]+):(\w+)\(-?\d+\) is not a registered function\/op/.exec(msg);
  if (custom) {
    return new EngineError('runtime', `${name} uses the operator ${printable(custom[2])} of the domain ${printable(custom[1])}, which ONNX Runtime does not have, ` +
      'so it cannot run the model (inspect still reads it). Export the model without that custom operator.');
  }
  if (/Could not find an implementation|NOT_IMPLEMENTED|not implemented|No Op registered/i.test(msg)) {
    const op = /No Op registered for (\S+)|for (\w+)\(/.exec(cause);
    return new EngineError('runtime', `ONNX Runtime on CPU cannot run an operator of ${name}${op ? ` (${op[1] ?? op[2]})` : ''}: ${cause} Try an fp32 export of the model, or one made with a standard exporter.`);
  }
  if (/IR version/i.test(msg)) return new EngineError('runtime', `ONNX Runtime cannot load ${name}: ${cause} Re-export the model with an exporter that writes a supported IR version.`);
  if (/opset/i.test(msg) && /Opset \d+|domain_version|opset version/i.test(msg)) return new EngineError('runtime', `ONNX Runtime cannot load ${name}: ${cause} Re-export the model with an officially released opset.`);
  if (/external data|No such file|open file/i.test(msg)) {
    return new EngineError('missing-external-data', `ONNX Runtime cannot read the weights of ${name}: ${cause}`);
  }
  if (/bad_alloc|Failed to allocate|out of memory/i.test(msg)) {
    return new EngineError('out-of-memory', `ONNX Runtime ran out of memory on ${name}. Use a shorter prompt or a smaller model.`);
  }
  return new EngineError('runtime', `ONNX Runtime failed on ${name}: ${cause}`);
}

/**
 * The cause in an ONNX Runtime message, without what only its developers need: the
 * "[ONNXRuntimeError] : 1 : FAIL :" prefix, source locations ("/onnxruntime_src/…/model.cc:202")
 * and the C++ signatures after them, which can be hundreds of characters long.
 */
export function ortCause(msg: string): string {
  let s = msg.replace(/\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*/g, '');
  const loc = /(?:\/?[\w.+-]+\/)*[A-Za-z_][\w+-]*\.(?:cc|h|cpp|hpp|c):\d+\s+/g;
  let out = '';
  let last = 0;
  for (let m = loc.exec(s); m; m = loc.exec(s)) {
    out += s.slice(last, m.index);
    let i = m.index + m[0].length;
    // A C++ signature: identifier characters up to "(", its balanced argument list, an optional " const".
    const head = /^[\w:<>,*&~\s]{1,300}?\(/.exec(s.slice(i));
    if (head && /::|\s/.test(head[0])) {
      let depth = 0;
      let j = i + head[0].length - 1;
      for (; j < s.length; j++) {
        if (s[j] === '(') depth++;
        else if (s[j] === ')' && --depth === 0) break;
      }
      i = j + 1;
      const tail = /^(\s+const)?\s*/.exec(s.slice(i));
      if (tail) i += tail[0].length;
    } else {
      // "tensorprotoutils.cc:594 GetExternalDataInfo TensorProto: …": drop the function name.
      const fn = /^[A-Z]\w*\s+(?=[A-Z])/.exec(s.slice(i));
      if (fn) i += fn[0].length;
    }
    last = i;
    if (out && !/\s$/.test(out)) out += /[.:]$/.test(out) ? ' ' : ': ';
  }
  s = (out + s.slice(last)).replace(/\s+/g, ' ').trim();
  if (s.length > 1200) s = `${s.slice(0, 1200)}…`;
  if (s && !/[.!?…]$/.test(s)) s += '.';
  return printable(s);
}

let gc: (() => void) | undefined;
/** A full GC on demand, without --expose-gc on the command line (the flag can be set at run time). */
function collectGarbage(): void {
  try {
    if (!gc) {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    }
    gc();
  } catch {
    // Not essential: without it the old buffer is freed by the next ordinary collection.
  }
}
