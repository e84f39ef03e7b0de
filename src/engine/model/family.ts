import type { TensorProto } from 'onnx-buf';
import { attrInt, type GraphIndex } from './onnx/graph';
import { DT } from './onnx/dtype';
import type { InputRole } from './feeds';

export type Family = 'decoder' | 'encoder' | 'vision' | 'audio' | 'other';

/**
 * What kind of model this is, from evidence in the graph, each piece said in words for `inspect`:
 * a key/value cache or causal masking (a Trilu, a lower-triangular mask table, a mask built by
 * comparing two ranges, unidirectional or grouped-query attention) or a language-model head make a
 * decoder; pixel inputs or a patch-embedding convolution a vision model; mel features an audio
 * encoder; token inputs without causal structure an encoder.
 */
export function classifyFamily(
  g: GraphIndex, inputs: { name: string; role: InputRole; shape: (number | string)[] }[], vocab: number | null,
): { family: Family; evidence: string[] } {
  const evidence: string[] = [];
  const roles = new Set(inputs.map((i) => i.role));
  const flattened = inputs.find((i) => i.role === 'patches');
  if (flattened) {
    const beside = inputs.some((i) => i.role === 'grid') ? 'its patch grid' : 'the rotary angles of its patches';
    evidence.push(`an image as flattened patches: "${flattened.name}" [${flattened.shape.join(', ')}] beside ${beside}`);
    return { family: 'vision', evidence };
  }
  const pixelInput = inputs.find((i) => i.role === 'pixels' || (i.role !== 'weight' && /pixel|image/i.test(i.name)));
  const audio = inputs.find((i) => /input_features|audio|mel|spectrogram/i.test(i.name) && i.role !== 'ids');
  if (audio) {
    evidence.push(`audio features input "${audio.name}" [${audio.shape.join(', ')}]`);
    return { family: 'audio', evidence };
  }
  const patch = g.graph.node.find((n) => n.opType === 'Conv' && isPatchConv(g, n));
  if (pixelInput) evidence.push(`image input "${pixelInput.name}" [${pixelInput.shape.join(', ')}]`);
  if (patch) evidence.push(`patch embedding: a Conv whose stride equals its kernel (${patch.name || 'unnamed'})`);
  if (pixelInput && (patch || pixelInput.role === 'pixels' || !roles.has('ids'))) return { family: 'vision', evidence };

  const causal = causalEvidence(g, inputs);
  // [batch, tokens, vocab], or with more leading axes ([1, 1, 1, vocab] from a device rewrite).
  const head = g.graph.output.find((o) => { const s = g.shapeOf(o.name); return !!s && s.length >= 3 && vocab !== null && s[s.length - 1] === vocab; });
  const headWords = head && `a language-model head: output "${head.name}" over the ${vocab}-token vocabulary`;
  if (causal.length) return { family: 'decoder', evidence: [...evidence, ...causal, ...(headWords ? [headWords] : [])] };
  // A head over the vocabulary alone is also what a masked language model (BERT) has.
  if (headWords && !roles.has('token_type_ids')) return { family: 'decoder', evidence: [...evidence, headWords] };
  if (roles.has('ids') || roles.has('inputs_embeds')) {
    evidence.push(roles.has('token_type_ids') ? `token and segment inputs, no causal mask${headWords ? ' (a masked-language-model head)' : ''}` : 'token inputs, no causal mask, cache or language-model head');
    return { family: 'encoder', evidence };
  }
  if (patch) return { family: 'vision', evidence };
  evidence.push('no token, image or audio input recognised');
  return { family: 'other', evidence };
}

function causalEvidence(g: GraphIndex, inputs: { name: string; role: InputRole; shape: (number | string)[] }[]): string[] {
  const out: string[] = [];
  const past = inputs.filter((i) => i.role === 'past');
  if (past.length) out.push(`key/value cache inputs (${past.length}, e.g. "${past[0].name}")`);
  if (g.graph.node.some((n) => n.opType === 'Trilu')) out.push('a Trilu (triangular mask)');
  const gqa = g.graph.node.find((n) => n.opType === 'GroupQueryAttention');
  if (gqa) out.push('GroupQueryAttention (causal by definition)');
  const uni = g.graph.node.find((n) => (n.opType === 'Attention' || n.opType === 'MultiHeadAttention') && attrInt(n, 'unidirectional') === 1);
  if (uni) out.push(`${uni.opType} with unidirectional = 1`);
  const sdpa = g.graph.node.find((n) => attrInt(n, 'is_causal') === 1);
  if (sdpa) out.push(`${sdpa.opType} with is_causal = 1`);
  for (const t of g.graph.initializer) if (isTriangularMask(t)) { out.push(`a lower-triangular mask table "${t.name}" [${t.dims.join(', ')}]`); break; }
  const cmp = g.graph.node.find((n) => ['Greater', 'GreaterOrEqual', 'Less', 'LessOrEqual'].includes(n.opType) && n.input.every((i) => fromRange(g, i)));
  if (cmp) out.push(`a mask built by comparing positions (${cmp.opType} of two ranges)`);
  if (g.graph.node.some((n) => /causal|tril/i.test(n.name))) out.push('nodes named for causal masking');
  return out;
}

function fromRange(g: GraphIndex, t: string): boolean {
  for (let p = g.producer.get(t), steps = 0; p && steps < 6; p = g.producer.get(p.node.input[0]), steps++) {
    if (p.node.opType === 'Range') return true;
    if (!['Unsqueeze', 'Reshape', 'Cast', 'Add', 'Sub', 'Expand'].includes(p.node.opType)) return false;
  }
  return false;
}

/** [.., n, n] with only zeros (or ones, for a keep-mask) on and below the diagonal and a large negative (or zero) above. */
function isTriangularMask(t: TensorProto): boolean {
  const dims = t.dims.map(Number);
  if (dims.length < 2) return false;
  const n = dims[dims.length - 1];
  if (n < 2 || dims[dims.length - 2] !== n || !t.rawData.length) return false;
  const read = reader(t);
  if (!read) return false;
  // Sample a few rows of the last n×n matrix.
  const base = (dims.reduce((a, b) => a * b, 1) / (n * n) - 1) * n * n;
  const rows = [0, 1, Math.floor(n / 2), n - 2].filter((r) => r >= 0 && r < n - 1);
  const below = read(base + (n - 1) * n);
  const above = read(base + n - 1);
  if (!(below !== above)) return false;
  for (const r of rows) for (const c of [0, r, r + 1, n - 1]) {
    const v = read(base + r * n + c);
    if (c <= r ? v !== below : v !== above) return false;
  }
  return true;
}

function reader(t: TensorProto): ((i: number) => number) | undefined {
  const raw = t.rawData;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (t.dataType) {
    case DT.FLOAT: return (i) => view.getFloat32(i * 4, true);
    case DT.BOOL: case DT.UINT8: return (i) => view.getUint8(i);
    case DT.INT64: return (i) => Number(view.getBigInt64(i * 8, true));
    default: return undefined;
  }
}

function isPatchConv(g: GraphIndex, n: { input: string[]; attribute: { name: string; ints: bigint[] }[] }): boolean {
  const w = g.initializer(n.input[1]);
  if (!w || w.dims.length !== 4) return false;
  const strides = n.attribute.find((a) => a.name === 'strides')?.ints.map(Number);
  const k = [Number(w.dims[2]), Number(w.dims[3])];
  return !!strides && strides.length === 2 && strides[0] === k[0] && strides[1] === k[1] && k[0] > 1;
}
