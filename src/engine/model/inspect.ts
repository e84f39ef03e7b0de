import * as path from 'node:path';
import type { FunctionProto, GraphProto } from 'onnx-buf';
import { dtypeName, DT } from './onnx/dtype';
import { liftCacheBranches } from './onnx/flatten';
import { inlineFunctions } from './onnx/functions';
import { printable } from '../base/text';
import { lfsPointerMessage } from '../base/files';
import { option } from '../base/errors';
import { crossCheck, readConfig, type ModelTarget } from './folder';
import { attrInt, attrInts, GraphIndex, int64Values } from './onnx/graph';
import { loadModel, type LoadedModel } from './onnx/load';
import { locateBlocks } from './locate/registry';
import { namedLayers } from './locate/scopeNames';
import { staticWidth } from './locate/width';
import type { Location, MixerKind, MlpKind } from './locate/types';
import { classifyInputs, type InputRole, type ModelConstants } from './feeds';
import { classifyFamily, type Family } from './family';
import { findTokenizer } from './tokenizer';
import { sampleIds, type SampleIds } from './sampleIds';

export type { Family } from './family';

export interface InputInfo { name: string; type: string; shape: (number | string)[]; role: InputRole }

export interface FixedTokens { count: number; input: string; shape: (number | string)[] }

export interface ModelInfo {
  path: string;
  family: Family;
  /** Why the family was chosen, in phrases (a key/value cache, a causal mask table, …). */
  familyEvidence: string[];
  blocks: number;
  hiddenSize: number | null;
  heads: number | null;
  /** Values the model may take as inputs, for their defaults (config.json's rope_theta, head_dim, rms_norm_eps). */
  constants: ModelConstants;
  kvHeads: number | null;
  dtype: string;
  inputs: InputInfo[];
  outputs: string[];
  externalData: { file: string; present: boolean; bytes: number }[];
  opsets: Record<string, number>;
  producer: string;
  matcher: string;
  postNorm: boolean;
  attention: 'probabilities' | 'scores' | 'unavailable';
  quantization: string[];
  vocabSize: number | null;
  /** Longest sequence the position tables allow (learned positions or cached rotary tables). */
  maxPositions: number | null;
  /** A token input of fixed length ([1, 1]: one token at a time, as device rewrites are exported): runs take exactly that many tokens. */
  fixedTokens: FixedTokens | null;
  /** A tokenizer.json sits beside the model (or one folder up). */
  hasTokenizer: boolean;
  /** For a model that takes token ids: ids valid for it, offered where there is no tokenizer. */
  sample?: SampleIds;
  warnings: string[];
  blockOutputs: string[];
  /** Each block's token mixer and channel-mixing part, in order. */
  layers: { index: number; mixer: MixerKind; mlp: MlpKind }[];
  /** A multi-file export: how its files run, and the variants its folder offers. */
  pipeline?: { layout: ModelTarget['layout']; files: { role: string; file: string }[]; variant: string; variants: string[] };
}

/** What a path names, described: the main model's facts plus, for a folder export, how its files run and what config.json says. */
export function inspectTarget(t: ModelTarget): ModelInfo {
  const info = prepareModel(t.main).info;
  if (t.layout !== 'single' || t.variants.length > 1) {
    const parts: [string, string | undefined][] = [
      ['vision', t.vision], ['audio', t.audio], ['embed', t.embed], [t.layout === 'seq2seq' ? 'encoder' : 'decoder', t.main], ['decoder', t.decoder],
    ];
    const files = parts.filter((p): p is [string, string] => !!p[1]).map(([role, file]) => ({ role, file }));
    info.pipeline = { layout: t.layout, files, variant: t.variant, variants: t.variants };
  }
  info.warnings.push(...t.notes, ...crossCheck(t.config, { blocks: info.blocks, hiddenSize: info.hiddenSize, mixers: info.layers.map((l) => l.mixer) }, t.layout === 'seq2seq' ? 'encoder' : 'main'));
  if (t.embed) info.warnings = info.warnings.filter((w) => !w.startsWith('The model takes inputs_embeds'));
  if (t.embed || info.inputs.some((i) => i.role === 'ids')) info.sample = sampleIds(info.vocabSize ?? t.config?.vocabSize ?? null, t.config?.bosTokenId);
  return info;
}

/** A model opened and understood, ready for surgery. Owns (and may mutate) the proto. */
export interface PreparedModel {
  loaded: LoadedModel;
  index: GraphIndex;
  location: Location;
  info: ModelInfo;
}

export function prepareModel(file: string): PreparedModel {
  const loaded = loadModel(file);
  const g = loaded.proto.graph!;
  const inlined = inlineFunctions(loaded.proto);
  const lifted = liftCacheBranches(g);
  const index = new GraphIndex(g);
  const location = locateBlocks(index, path.basename(loaded.path));
  const warnings = [...loaded.notes, ...location.warnings];
  const foreign = foreignOperators(g, loaded.proto.functions);
  if (foreign.length) {
    warnings.push(`The model uses operators of domains ONNX Runtime does not ship (${foreign.slice(0, 4).join(', ')}${foreign.length > 4 ? ', …' : ''}): inspect reads it, but a run will fail.`);
  }
  for (const f of loaded.externalFiles) if (f.lfsPointer !== undefined) warnings.push(lfsPointerMessage(`"${printable(f.file)}"`, f.size!, f.lfsPointer, 'weights'));
  if (inlined.calls) warnings.push(`Expanded ${inlined.calls} calls to the model's local functions (${inlined.functions.slice(0, 4).map(printable).join(', ')}${inlined.functions.length > 4 ? ', …' : ''}) to reach the nodes inside them.`);
  if (lifted.length) warnings.push(`Merged decoder: using the no-past branch of the If on ${lifted.join(', ')}.`);

  const inputs: InputInfo[] = classifyInputs(index).map((c) => ({ name: c.name, type: dtypeName(c.elemType), shape: c.shape, role: c.role }));
  const roles = new Set(inputs.map((i) => i.role));
  const vocabSize = findVocab(index);
  const { family, evidence: familyEvidence } = classifyFamily(index, inputs, vocabSize);

  let hiddenSize: number | null = null;
  for (const b of location.blocks) { hiddenSize = staticWidth(index, b.point.tensor) ?? staticWidth(index, b.output) ?? null; if (hiddenSize) break; }

  let heads: number | null = null;
  let kvHeads: number | null = null;
  for (const b of location.blocks) for (const a of b.attention) {
    if (a.heads && !heads) heads = a.heads;
    const n = g.node[a.nodeIndex];
    if (n.opType === 'GroupQueryAttention' && !kvHeads) kvHeads = attrInt(n, 'kv_num_heads') ?? null;
  }
  if (!heads && hiddenSize) heads = headsFromReshapes(index, hiddenSize);
  const pastKv = inputs.find((i) => i.role === 'past');
  if (!kvHeads && pastKv && typeof pastKv.shape[1] === 'number' && pastKv.shape.length === 4) kvHeads = pastKv.shape[1] as number;

  const kinds = new Set(location.blocks.flatMap((b) => b.attention.map((a) => a.kind)));
  const attention: ModelInfo['attention'] = kinds.has('softmax') || kinds.has('gqa-probs') || kinds.has('onnx-probs') ? 'probabilities' : kinds.has('mha-qk') ? 'scores' : 'unavailable';
  if (attention === 'unavailable' && location.blocks.some((b) => b.mixer === 'attention')) {
    const note = location.blocks.flatMap((b) => b.attention).find((a) => a.note)?.note;
    warnings.push(`Attention probabilities cannot be read from this graph${note ? ` (${note})` : ''}; the attention share is not reported.`);
  }

  const ops = new Set(g.node.map((n) => n.opType));
  const quantization = ['MatMulNBits', 'MatMulInteger', 'DynamicQuantizeMatMul', 'QLinearMatMul', 'DequantizeLinear', 'QAttention'].filter((o) => ops.has(o));

  const info: ModelInfo = {
    path: loaded.path,
    family,
    familyEvidence,
    blocks: location.blocks.length,
    hiddenSize,
    heads,
    constants: modelConstants(loaded.path, hiddenSize, heads),
    kvHeads,
    dtype: modelDtype(index),
    inputs,
    outputs: g.output.map((o) => o.name),
    externalData: loaded.externalFiles.map((f) => ({ file: f.file, present: f.present, bytes: f.bytesNeeded })),
    opsets: Object.fromEntries(loaded.proto.opsetImport.map((o) => [o.domain || 'ai.onnx', Number(o.version)])),
    producer: `${loaded.proto.producerName} ${loaded.proto.producerVersion}`.trim(),
    matcher: location.matcher,
    postNorm: location.postNorm,
    attention,
    quantization,
    vocabSize,
    maxPositions: findMaxPositions(index),
    fixedTokens: findFixedTokens(inputs),
    hasTokenizer: !!findTokenizer(loaded.path),
    warnings,
    blockOutputs: location.blocks.map((b) => b.output),
    layers: location.blocks.map((b) => ({ index: b.index, mixer: b.mixer, mlp: b.mlp })),
  };
  // Where the structure finds far fewer blocks than the weights' names count, say so: a layout the locator misreads.
  const named = namedLayers([...g.initializer.map((t) => t.name), ...inputs.filter((x) => x.role === 'weight').map((x) => x.name)]);
  if (named && location.blocks.length * 2 <= named.count) {
    warnings.push(`The weights' names count ${named.count} layers (${printable(named.example)} …), but ${location.blocks.length} block${location.blocks.length === 1 ? ' was' : 's were'} located: ` +
      'this export\'s layout may be misread. Please report it with the file\'s source.');
  }
  const others = location.blocks.filter((b) => b.mixer !== 'attention');
  if (others.length) {
    const kinds = [...new Set(others.map((b) => b.mixer))].join(', ');
    const attentive = location.blocks.length - others.length;
    warnings.push(`${others.length} of ${location.blocks.length} blocks mix tokens without softmax attention (${kinds}); attention analyses cover the ${attentive} attention block${attentive === 1 ? '' : 's'}.`);
  }
  if (roles.has('inputs_embeds')) warnings.push(`The model takes inputs_embeds rather than token ids: its embedding lives in another file (embed_tokens.onnx). Open the model's folder to run the files in order, or feed the embeddings with ${option('feed', 'inputs_embeds=FILE.npy')}.`);
  return { loaded, index, location, info };
}

/** Domains whose operators ONNX Runtime's CPU build carries (the training domain is refused on load). */
const RUNTIME_DOMAINS = new Set(['', 'ai.onnx', 'ai.onnx.ml', 'com.microsoft', 'com.microsoft.nchwc', 'com.ms.internal.nhwc']);

/** "domain: Op ×n" for each operator of another domain that no local function defines, subgraphs included. */
function foreignOperators(g: GraphProto, functions: FunctionProto[]): string[] {
  const local = new Set(functions.map((f) => `${f.domain}:${f.name}`));
  const counts = new Map<string, number>();
  const stack = [g];
  while (stack.length) {
    for (const n of stack.pop()!.node) {
      // Nodes built in code (inlined functions) may leave the domain unset: the default domain.
      const domain = n.domain ?? '';
      if (!RUNTIME_DOMAINS.has(domain) && !local.has(`${domain}:${n.opType}`)) {
        const key = `${printable(domain)}: ${printable(n.opType)}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const a of n.attribute) stack.push(...(a.g ? [a.g] : a.graphs));
    }
  }
  return [...counts].map(([k, c]) => `${k} ×${c}`);
}

function modelConstants(file: string, hidden: number | null, heads: number | null): ModelConstants {
  const c = readConfig(path.dirname(file));
  const headDim = c?.headDim ?? (hidden && heads ? hidden / heads : undefined);
  return {
    ...(c?.ropeTheta !== undefined ? { ropeTheta: c.ropeTheta } : {}),
    ...(c?.normEps !== undefined ? { normEps: c.normEps } : {}),
    ...(headDim ? { headDim } : {}),
  };
}

/**
 * Unfused attention splits heads with Reshape(x, [b, s, heads, head_dim]); read the constant. A
 * reshape the heads' Transpose (0, 2, 1, 3) reads is a split for sure; others count only where no
 * sure split exists, and a reshape to [.., 1, d] (a stream reshaped to [1, 1, 1, d], or a split
 * before a per-head norm on a one-head model) only where nothing else does.
 */
function headsFromReshapes(g: GraphIndex, hidden: number): number | null {
  const sure = new Map<number, number>();
  const maybe = new Map<number, number>();
  const vote = (m: Map<number, number>, h: number) => m.set(h, (m.get(h) ?? 0) + 1);
  for (const n of g.graph.node) {
    if (n.opType !== 'Reshape') continue;
    const t = g.initializer(n.input[1]);
    if (!t || t.dims.length !== 1 || Number(t.dims[0]) !== 4) continue;
    const v = int64Values(t);
    if (!(v.length === 4 && v[2] > 0 && v[3] > 0 && v[2] * v[3] === hidden)) continue;
    const split = g.consumersOf(n.output[0]).some((c) => c.node.opType === 'Transpose' && attrInts(c.node, 'perm')?.join() === '0,2,1,3');
    vote(split ? sure : maybe, v[2]);
  }
  const several = new Map([...maybe].filter(([h]) => h > 1));
  const votes = sure.size ? sure : several.size ? several : maybe;
  let best: number | null = null;
  for (const [h, c] of votes) if (best === null || c > (votes.get(best) ?? 0)) best = h;
  return best;
}

/** The token axis of ids [batch, tokens] or embeddings [batch, tokens, width], where the export fixed it. */
function findFixedTokens(inputs: InputInfo[]): FixedTokens | null {
  for (const i of inputs) {
    const tokens = (i.role === 'ids' && i.shape.length === 2) || (i.role === 'inputs_embeds' && i.shape.length === 3);
    const count = i.shape[1];
    if (tokens && typeof count === 'number' && count > 0) return { count, input: i.name, shape: i.shape };
  }
  return null;
}

function findMaxPositions(g: GraphIndex): number | null {
  const posInputs = new Set(classifyInputs(g).filter((i) => i.role === 'position_ids').map((i) => i.name));
  let best: number | null = null;
  for (const n of g.graph.node) {
    if (n.opType !== 'Gather') continue;
    let idx = n.input[1];
    for (let p = g.producer.get(idx); p && ['Cast', 'Identity', 'Unsqueeze', 'Reshape'].includes(p.node.opType); p = g.producer.get(idx)) idx = p.node.input[0];
    if (!posInputs.has(idx)) continue;
    const t = g.initializer(n.input[0]);
    if (t && t.dims.length >= 1) best = Math.min(best ?? Infinity, Number(t.dims[0]));
  }
  return best;
}

function findVocab(g: GraphIndex): number | null {
  for (const n of g.graph.node) {
    if (n.opType === 'Gather') { const t = g.initializer(n.input[0]); if (t && t.dims.length === 2 && Number(t.dims[0]) > 2) return Number(t.dims[0]); }
    if (n.opType === 'EmbedLayerNormalization') { const t = g.initializer(n.input[2]); if (t) return Number(t.dims[0]); }
    if (n.opType === 'GatherBlockQuantized') { const t = g.initializer(n.input[0]); if (t) return Number(t.dims[0]); }
  }
  return null;
}

function modelDtype(g: GraphIndex): string {
  const counts = new Map<number, number>();
  for (const t of g.graph.initializer) {
    if (t.dims.length < 2) continue;
    const n = t.dims.reduce((a, b) => a * Number(b), 1);
    counts.set(t.dataType, (counts.get(t.dataType) ?? 0) + n);
  }
  let best = DT.FLOAT as number;
  let bestN = -1;
  for (const [k, v] of counts) if (v > bestN) { best = k; bestN = v; }
  const quant = g.graph.node.some((n) => n.opType === 'MatMulNBits') ? 'int4' : undefined;
  return quant ?? dtypeName(best);
}
