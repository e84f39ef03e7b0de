import { create } from '@bufbuild/protobuf';
import { AttributeProtoSchema, AttributeProto_AttributeType, FunctionProtoSchema, GraphProtoSchema, NodeProtoSchema, OperatorSetIdProtoSchema, SparseTensorProtoSchema, StringStringEntryProtoSchema, type ModelProto, type NodeProto, type TensorProto } from 'onnx-buf';
import { DT } from '../../../src/engine/model/onnx/dtype';
import { makeNode, makeTensor, makeValueInfo } from '../../../src/engine/model/onnx/build';

/**
 * Layout variants applied to a TorchScript-style model: what the dynamo exporter, anonymous
 * graphs and Optimum's merged decoders look like.
 */

function producedNames(nodes: NodeProto[]): Set<string> {
  return new Set(nodes.flatMap((n) => n.output).filter(Boolean));
}

/** Renames tensors in the nodes and in their subgraphs (which read outer tensors by name). */
function renameTensors(nodes: NodeProto[], map: Map<string, string>): void {
  for (const n of nodes) {
    n.input = n.input.map((i) => map.get(i) ?? i);
    n.output = n.output.map((o) => map.get(o) ?? o);
    for (const a of n.attribute) for (const sg of a.g ? [a.g] : a.graphs) {
      renameTensors(sg.node, map);
      for (const v of sg.output) v.name = map.get(v.name) ?? v.name;
    }
  }
}

/** torch.onnx dynamo: FX-style tensor names (`add_7`), generic node names, scopes only in metadata. */
export function toDynamo(m: ModelProto): void {
  const g = m.graph!;
  const keep = new Set(g.output.map((o) => o.name));
  const map = new Map<string, string>();
  const counts = new Map<string, number>();
  for (const n of g.node) {
    const scopePath = n.name.split('/').filter(Boolean).slice(0, -1);
    const scopes = [''];
    for (let i = 0; i < scopePath.length; i++) scopes.push(scopePath.slice(0, i + 1).join('.'));
    const op = n.opType.toLowerCase();
    const k = counts.get(op) ?? 0;
    counts.set(op, k + 1);
    for (const o of n.output) if (o && !keep.has(o)) map.set(o, k ? `${op}_${k}` : op);
    n.name = k ? `node_${n.opType}_${k}` : `node_${n.opType}`;
    n.metadataProps = [
      create(StringStringEntryProtoSchema, { key: 'pkg.torch.onnx.name_scopes', value: JSON.stringify(scopes).replace(/"/g, "'") }),
      create(StringStringEntryProtoSchema, { key: 'pkg.torch.onnx.class_hierarchy', value: JSON.stringify(scopes.map(() => 'torch.nn.Module')).replace(/"/g, "'") }),
    ];
  }
  renameTensors(g.node, map);
  m.producerName = 'pytorch';
  m.producerVersion = '2.9.0';
}

/** No names at all: numbered tensors and nodes, no metadata (older exporters, hand-made graphs). */
export function toAnonymous(m: ModelProto): void {
  const g = m.graph!;
  const keep = new Set(g.output.map((o) => o.name));
  const map = new Map<string, string>();
  let k = 0;
  for (const [i, n] of g.node.entries()) {
    for (const o of n.output) if (o && !keep.has(o)) map.set(o, String(k++));
    n.name = `${n.opType}_${i}`;
    n.metadataProps = [];
  }
  renameTensors(g.node, map);
  // Initializer names can carry scopes too; number them.
  const imap = new Map<string, string>();
  g.initializer.forEach((t, i) => { imap.set(t.name, `w${i}`); t.name = `w${i}`; });
  renameTensors(g.node, imap);
}

/**
 * Optimum's decoder_model_merged.onnx: one If on `use_cache_branch` whose branches hold the with-past
 * and no-past graphs; weights shared in the outer graph.
 */
export function toMergedIf(m: ModelProto): void {
  const g = m.graph!;
  const outputs = g.output.map((o) => o.name);
  const branch = (prefix: string) => {
    const nodes = g.node.map((n) => create(NodeProtoSchema, { opType: n.opType, domain: n.domain, attribute: n.attribute, input: [...n.input], output: [...n.output], name: `${prefix}${n.name}` }));
    const map = new Map<string, string>();
    for (const t of producedNames(nodes)) map.set(t, `${prefix}${t}`);
    renameTensors(nodes, map);
    return create(GraphProtoSchema, {
      name: prefix.replace(/\W/g, ''),
      node: nodes,
      output: outputs.map((o, i) => makeValueInfo(map.get(o) ?? o, g.output[i].type?.value.case === 'tensorType' ? g.output[i].type!.value.value.elemType : DT.FLOAT)),
    });
  };
  const thenG = branch('optimum::past/');
  const elseG = branch('optimum::no_past/');
  const ifNode = makeNode('If', ['use_cache_branch'], outputs, 'optimum::if');
  ifNode.attribute.push(
    create(AttributeProtoSchema, { name: 'then_branch', type: AttributeProto_AttributeType.GRAPH, g: thenG }),
    create(AttributeProtoSchema, { name: 'else_branch', type: AttributeProto_AttributeType.GRAPH, g: elseG }),
  );
  g.node = [ifNode];
  g.input.push(makeValueInfo('use_cache_branch', DT.BOOL, [1]));
}

/**
 * As torch.export-based exporters write modules: each block's attention becomes a local function
 * (weights passed as inputs), and inside it the softmax is a call to a shared function whose axis
 * is an attribute reference. No Softmax is left at the top level.
 */
export function toFunctions(m: ModelProto): void {
  const g = m.graph!;
  const domain = 'pkg.test.modules';
  const opsets = [create(OperatorSetIdProtoSchema, { domain: '', version: 17n }), create(OperatorSetIdProtoSchema, { domain, version: 1n })];
  m.opsetImport.push(create(OperatorSetIdProtoSchema, { domain, version: 1n }));
  // The shared softmax: formal x → y, axis from the caller's `dim`.
  m.functions.push(create(FunctionProtoSchema, {
    name: 'softmax_over', domain, input: ['x'], output: ['y'], attribute: ['dim'], opsetImport: opsets,
    node: [create(NodeProtoSchema, { opType: 'Softmax', name: 'softmax', input: ['x'], output: ['y'], attribute: [create(AttributeProtoSchema, { name: 'axis', type: AttributeProto_AttributeType.INT, refAttrName: 'dim' })] })],
  }));
  for (const n of g.node) {
    if (n.opType !== 'Softmax') continue;
    n.opType = 'softmax_over';
    n.domain = domain;
    n.attribute = [create(AttributeProtoSchema, { name: 'dim', type: AttributeProto_AttributeType.INT, i: -1n })];
  }
  const graphOutputs = new Set(g.output.map((o) => o.name));
  for (let l = 0; ; l++) {
    const scope = `/model/layers.${l}/self_attn/`;
    const idx = g.node.map((n, i) => [n, i] as const).filter(([n]) => n.name.startsWith(scope)).map(([, i]) => i);
    if (!idx.length) break;
    const inside = new Set(idx);
    const body = idx.map((i) => g.node[i]);
    const produced = new Set(body.flatMap((n) => n.output));
    const inputs = [...new Set(body.flatMap((n) => n.input).filter((t) => t && !produced.has(t)))];
    const usedOutside = new Set(g.node.filter((_, i) => !inside.has(i)).flatMap((n) => n.input));
    const outputs = [...produced].filter((t) => usedOutside.has(t) || graphOutputs.has(t));
    if (idx[idx.length - 1] - idx[0] + 1 !== idx.length) throw new Error('attention scope is not contiguous');
    const name = `LlamaAttention_${l}`;
    m.functions.push(create(FunctionProtoSchema, { name, domain, input: inputs, output: outputs, node: body, opsetImport: opsets }));
    const callNode = create(NodeProtoSchema, { opType: name, domain, name: `/model/layers.${l}/self_attn`, input: inputs, output: outputs });
    g.node.splice(idx[0], idx.length, callNode);
  }
}

/**
 * The float32 initializers whose names match, moved to `graph.sparse_initializer` (ONNX's COO form:
 * only the non-zero values, with their positions). `coo` matches the ones written with [NNZ, rank]
 * index tuples; the others get linearized [NNZ] indices. Both forms are valid ONNX; the dense
 * values are unchanged, so a scan must give exactly the dense model's numbers.
 */
export function toSparse(m: ModelProto, match: RegExp, coo?: RegExp): string[] {
  const g = m.graph!;
  const moved: string[] = [];
  g.initializer = g.initializer.filter((t) => {
    if (!match.test(t.name) || t.dataType !== DT.FLOAT || !t.rawData.length) return true;
    const dense = new Float32Array(new Uint8Array(t.rawData).buffer);
    const dims = t.dims.map(Number);
    const at: number[] = [];
    dense.forEach((v, i) => { if (v !== 0) at.push(i); });
    const values = Float32Array.from(at, (i) => dense[i]);
    const tuples = coo?.test(t.name);
    const strides = dims.map((_, k) => dims.slice(k + 1).reduce((a, b) => a * b, 1));
    const idx = tuples ? BigInt64Array.from(at.flatMap((i) => strides.map((s, k) => BigInt(Math.floor(i / s) % dims[k])))) : BigInt64Array.from(at, BigInt);
    g.sparseInitializer.push(create(SparseTensorProtoSchema, {
      dims: t.dims,
      values: makeTensor(t.name, DT.FLOAT, [values.length], new Uint8Array(values.buffer)),
      indices: makeTensor(`${t.name}.indices`, DT.INT64, tuples ? [at.length, dims.length] : [at.length], new Uint8Array(idx.buffer)),
    }));
    moved.push(t.name);
    return false;
  });
  return moved;
}

/**
 * ONNX Runtime's transformers test models (GPT-2 with past, converted by an old exporter): small
 * constants as Constant nodes, and some names defined several times, by Constant nodes and
 * initializers. ONNX Runtime warns and runs them with one definition per name (see
 * src/engine/model/onnx/duplicates.ts). Here a shape and a norm weight are defined twice with equal
 * values, and a small float three times with the right value last (the one ONNX Runtime uses), the
 * earlier ones wrong, so a reader that kept another would show in the results. With
 * `differingWeights` the norm weight's second definition differs: a model whose weights are not
 * defined. Returns the names defined more than once.
 */
export function toDuplicateConstants(m: ModelProto, opts: { differingWeights?: boolean } = {}): string[] {
  const g = m.graph!;
  const small = g.initializer.filter((t) => /\/Constant_\d+_output_0$/.test(t.name));
  g.initializer = g.initializer.filter((t) => !small.includes(t));
  const constant = (name: string, t: TensorProto, raw: Uint8Array) =>
    makeNode('Constant', [], [t.name], name, { value: makeTensor('', t.dataType, t.dims.map(Number), raw) });
  const shifted = (raw: Uint8Array, k: number) => {
    const f = new Float32Array(raw.slice().buffer);
    for (let i = 0; i < f.length; i++) f[i] = f[i] * k + 0.5;
    return new Uint8Array(f.buffer);
  };
  const nodes = small.map((t, k) => constant(`Constant_${k}`, t, t.rawData));
  // The same shape twice, as ONNX Runtime's test file has "284" from Constant_85 and an unnamed Constant.
  const shape = small.find((t) => t.dataType === DT.INT64 && t.dims.length === 1 && t.dims[0] === 4n)!;
  nodes.push(constant('', shape, shape.rawData));
  // A small float of the first norm: two wrong values before the right one.
  const eps = small.find((t) => t.dataType === DT.FLOAT && t.dims.length === 0 && /input_layernorm/.test(t.name))!;
  nodes.unshift(constant('Constant_small_stale', eps, shifted(eps.rawData, 3)), constant('Constant_small_stale_1', eps, shifted(eps.rawData, 5)));
  // A norm weight (256 bytes): the initializer, and a Constant node with the same values (or not).
  const norm = g.initializer.find((t) => /layers\.0\.input_layernorm\.weight$/.test(t.name))!;
  nodes.push(constant('Constant_norm', norm, opts.differingWeights ? shifted(norm.rawData, 3) : norm.rawData.slice()));
  g.node = [...nodes, ...g.node];
  return [shape.name, eps.name, norm.name];
}

/**
 * Weights exported as graph inputs without values. `buffers`: old torch exports of GPT-2, whose
 * causal-mask buffer `transformer.h.0.attn.bias` is a [1, 1, N, N] input (the shape of a grayscale
 * image); `all`: training-forward graphs, every parameter an input named primals_1…N. `listed`: IR 3
 * exports, every initializer also listed as a graph input (with its value: nothing to feed). Returns
 * the values the inputs need, by input name.
 */
export function toWeightsAsInputs(m: ModelProto, kind: 'buffers' | 'all' | 'listed'): Map<string, TensorProto> {
  const g = m.graph!;
  const values = new Map<string, TensorProto>();
  if (kind === 'listed') {
    m.irVersion = 3n;
    g.input.push(...g.initializer.map((t) => makeValueInfo(t.name, t.dataType, t.dims.map(Number))));
    return values;
  }
  const buffer = g.initializer.find((t) => /attn\.bias$/.test(t.name));
  if (buffer) {
    // torch keeps it [1, 1, N, N]; the graph slices the last two axes.
    buffer.dims = [1n, 1n, ...buffer.dims];
    const slice = g.node.find((n) => n.opType === 'Slice' && n.input[0] === buffer.name)!;
    const axes = g.initializer.find((t) => t.name === slice.input[3])!;
    const twoThree = makeTensor(`${axes.name}_4d`, DT.INT64, [2], new Uint8Array(BigInt64Array.from([2n, 3n]).buffer));
    g.initializer.push(twoThree);
    slice.input[3] = twoThree.name;
  }
  const moved = g.initializer.filter((t) => (kind === 'buffers' ? t === buffer : t.dataType === DT.FLOAT && t.dims.length >= 1 && /\.(weight|bias)$/.test(t.name)));
  const renames = new Map<string, string>();
  moved.forEach((t, k) => {
    if (kind === 'all') renames.set(t.name, `primals_${k + 1}`);
    values.set(renames.get(t.name) ?? t.name, t);
  });
  g.initializer = g.initializer.filter((t) => !moved.includes(t));
  renameTensors(g.node, renames);
  g.input.push(...moved.map((t) => makeValueInfo(renames.get(t.name) ?? t.name, t.dataType, t.dims.map(Number))));
  return values;
}

/**
 * One module exported alone (torch.onnx.export(model.layers[0].self_attn, …)): the nodes under
 * `scope`, reading what they took from outside as graph inputs and giving what they made for the
 * rest of the model as outputs. An attention-only fragment has no residual stream.
 */
export function toFragment(m: ModelProto, scope: string): void {
  const g = m.graph!;
  const inside = g.node.filter((n) => n.name.startsWith(scope));
  const made = producedNames(inside);
  const inits = new Set(g.initializer.map((t) => t.name));
  const reads = [...new Set(inside.flatMap((n) => n.input))].filter((x) => x && !made.has(x) && !inits.has(x));
  const readOutside = new Set(g.node.filter((n) => !inside.includes(n)).flatMap((n) => n.input));
  const outs = [...made].filter((x) => readOutside.has(x) || g.output.some((o) => o.name === x));
  const used = new Set(inside.flatMap((n) => n.input));
  g.node = inside;
  g.initializer = g.initializer.filter((t) => used.has(t.name));
  g.input = reads.map((x) => g.input.find((i) => i.name === x) ?? makeValueInfo(x, DT.FLOAT, ['batch_size', 'sequence_length', 64]));
  g.output = outs.map((x) => makeValueInfo(x, DT.FLOAT, ['batch_size', 'sequence_length', 64]));
}

/**
 * On-device re-implementations (a Llama or Qwen3 rewritten for a phone runtime and exported one
 * token at a time): generic node and tensor names, the weights keeping Hugging Face's names
 * (model.layers.N.…, one file per tensor when written so), and what the model would compute once
 * given as graph inputs: the rotary cos and sin for the token's position, and the norms' epsilon;
 * its caches named k_cache_N / v_cache_N.
 * Returns the values those inputs take for positions 0…n−1 (the caller feeds them).
 */
export function toOnDevice(m: ModelProto): { eps: number; cosName: string; sinName: string } {
  const g = m.graph!;
  const init = (name: string) => g.initializer.find((t) => t.name === name);
  // cos / sin: the Unsqueeze(Gather(table, position_ids)) results become inputs.
  const gathers = g.node.filter((n) => n.opType === 'Gather' && /rotary_emb\.(cos|sin)_cached$/.test(n.input[0]));
  const names = { cos: 'cos', sin: 'sin' };
  for (const gather of gathers) {
    const which = /cos_cached$/.test(gather.input[0]) ? 'cos' : 'sin';
    const unsq = g.node.find((n) => n.opType === 'Unsqueeze' && n.input[0] === gather.output[0])!;
    const out = unsq.output[0];
    g.node = g.node.filter((n) => n !== gather && n !== unsq);
    for (const n of g.node) n.input = n.input.map((x) => (x === out ? names[which] : x));
    const hd = Number(init(gather.input[0])!.dims[1]);
    g.input.push(makeValueInfo(names[which], DT.FLOAT, [1, 1, 'sequence_length', hd]));
  }
  g.initializer = g.initializer.filter((t) => !/rotary_emb\.(cos|sin)_cached$/.test(t.name));
  // Epsilon: the scalar each RMSNorm adds to the mean square, one input for all.
  let eps = 0;
  const adds = g.node.filter((n) => n.opType === 'Add' && g.node.some((p) => p.opType === 'ReduceMean' && p.output[0] === n.input[0]));
  for (const add of adds) {
    const t = init(add.input[1])!;
    eps = new Float32Array(t.rawData.slice().buffer)[0];
    add.input[1] = 'norm_eps';
  }
  g.input.push(makeValueInfo('norm_eps', DT.FLOAT, []));
  // The runtime's own cache names: k_cache_N / v_cache_N in, k_cache_out_N / v_cache_out_N out.
  const caches = new Map<string, string>();
  for (const v of [...g.input, ...g.output]) {
    const c = /^(?:past_key_values|present)\.(\d+)\.(key|value)$/.exec(v.name);
    if (c) caches.set(v.name, `${c[2] === 'key' ? 'k' : 'v'}_cache${v.name.startsWith('present') ? '_out' : ''}_${c[1]}`);
  }
  renameTensors(g.node, caches);
  for (const v of [...g.input, ...g.output]) v.name = caches.get(v.name) ?? v.name;
  // Generic names for everything else, as the runtime's own converter writes them.
  const keep = new Set([...g.output.map((o) => o.name), ...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name)]);
  const map = new Map<string, string>();
  let k = 0;
  for (const [i, n] of g.node.entries()) {
    for (const o of n.output) if (o && !keep.has(o)) map.set(o, `t${k++}`);
    n.name = `node_${i}`;
    n.metadataProps = [];
  }
  renameTensors(g.node, map);
  return { eps, cosName: names.cos, sinName: names.sin };
}

/**
 * A vision encoder that takes its image as flattened patches (Qwen2-VL's: hidden_states [patches,
 * channels × patch²] beside grid_thw and rotary_pos_emb): the patch Conv becomes a MatMul over the
 * fed rows (channel, then row, then column within a patch; patches row by row), so the same pixels
 * give the same model. grid_thw and rotary_pos_emb are taken, as the original takes them.
 */
export function toFlattenedPatches(m: ModelProto, opts: { grid?: boolean } = {}): void {
  const g = m.graph!;
  const conv = g.node.find((n) => n.opType === 'Conv')!;
  const w = g.initializer.find((t) => t.name === conv.input[1])!;
  const bias = conv.input[2];
  const [d, c, p] = w.dims.map(Number);
  const k = c * p * p;
  const src = new Float32Array(w.rawData.slice().buffer);
  const flat = new Float32Array(k * d);
  for (let o = 0; o < d; o++) for (let j = 0; j < k; j++) flat[j * d + o] = src[o * k + j];
  g.initializer.push(makeTensor('embeddings.patch_embeddings.flat_weight', DT.FLOAT, [k, d], new Uint8Array(flat.buffer)));
  const pixels = g.input[0].name;
  const shapeOf = g.node.filter((n) => n.opType === 'Shape' && n.input[0] === pixels);
  const rows = makeNode('MatMul', ['hidden_states', 'embeddings.patch_embeddings.flat_weight'], ['patches_projected'], '/embeddings/patch_embeddings/MatMul');
  const added = makeNode('Add', ['patches_projected', bias], ['patches_biased'], '/embeddings/patch_embeddings/Add');
  const t = makeNode('Transpose', ['patches_biased'], ['patches_t'], '/embeddings/patch_embeddings/Transpose', { perm: [1, 0] });
  const side = makeTensor('embeddings.patch_embeddings.grid_shape', DT.INT64, [4], new Uint8Array(BigInt64Array.from([1n, BigInt(d), -1n, 1n]).buffer));
  g.initializer.push(side);
  const r = makeNode('Reshape', ['patches_t', side.name], [conv.output[0]], '/embeddings/patch_embeddings/Reshape');
  g.node = g.node.flatMap((n) => (n === conv ? [rows, added, t, r] : [n]));
  // The batch of one the original read from pixel_values' shape.
  for (const n of shapeOf) n.input[0] = conv.output[0];
  // Some exports take the grid; others only the rotary angles computed from it.
  g.input = [
    makeValueInfo('hidden_states', DT.FLOAT, ['num_patches', k]),
    ...(opts.grid ?? true ? [makeValueInfo('grid_thw', DT.INT64, [1, 3])] : []),
    makeValueInfo('rotary_pos_emb', DT.FLOAT, ['num_patches', 8]),
  ];
}

/**
 * Attention (opset 23) computed inside a Loop body, as exporters write chunked or scanned attention:
 * each Attention node becomes a one-iteration Loop whose body runs it on the outer Q, K and V, its
 * result stacked and squeezed back. The model computes the same; the probabilities cannot be read.
 */
export function toAttentionInLoop(m: ModelProto): void {
  const g = m.graph!;
  const once = makeTensor('attention_loop_trips', DT.INT64, [], new Uint8Array(BigInt64Array.from([1n]).buffer));
  const axis = makeTensor('attention_loop_axis', DT.INT64, [1], new Uint8Array(BigInt64Array.from([0n]).buffer));
  g.initializer.push(once, axis);
  g.node = g.node.flatMap((n) => {
    if (n.opType !== 'Attention' || (n.domain && n.domain !== 'ai.onnx')) return [n];
    const y = n.output[0];
    const body = create(GraphProtoSchema, {
      name: `${n.name}_body`,
      node: [
        makeNode('Attention', n.input, [`${y}_step`], `${n.name}_inner`),
        makeNode('Identity', ['cond_in'], ['cond_out'], `${n.name}_cond`),
      ],
      input: [makeValueInfo('iteration', DT.INT64, []), makeValueInfo('cond_in', DT.BOOL, [])],
      output: [makeValueInfo('cond_out', DT.BOOL, []), makeValueInfo(`${y}_step`)],
    });
    const loop = makeNode('Loop', [once.name, ''], [`${y}_stacked`], `${n.name}_loop`);
    loop.attribute.push(create(AttributeProtoSchema, { name: 'body', type: AttributeProto_AttributeType.GRAPH, g: body }));
    return [loop, makeNode('Squeeze', [`${y}_stacked`, axis.name], [y], `${n.name}_squeeze`)];
  });
}

/**
 * The embedding table as transformers.js and onnxruntime-genai's q4 exports keep it: 4-bit blocks
 * of 32 along the width, two to a byte (low nibble first), one scale a block, the default zero
 * point 8, read by com.microsoft GatherBlockQuantized. Returns the dequantized table, which is what
 * the model computes with.
 */
export function toQuantizedEmbedding(m: ModelProto, block = 32): Float64Array {
  const g = m.graph!;
  const gather = g.node.find((n) => n.opType === 'Gather' && /embed_tokens\.weight$/.test(n.input[0]))!;
  const table = g.initializer.find((t) => t.name === gather.input[0])!;
  const [V, D] = table.dims.map(Number);
  const x = new Float32Array(table.rawData.slice().buffer);
  const packed = new Uint8Array((V * D) / 2);
  const scales = new Float32Array((V * D) / block);
  const dequantized = new Float64Array(V * D);
  for (let r = 0; r < V; r++) for (let b = 0; b < D / block; b++) {
    let max = 0;
    for (let j = 0; j < block; j++) max = Math.max(max, Math.abs(x[r * D + b * block + j]));
    const scale = Math.fround(max / 7 || 1);
    scales[(r * D) / block + b] = scale;
    for (let j = 0; j < block; j++) {
      const c = b * block + j;
      const q = Math.max(0, Math.min(15, Math.round(x[r * D + c] / scale) + 8));
      dequantized[r * D + c] = (q - 8) * scale;
      packed[(r * D + c) >> 1] |= c % 2 ? q << 4 : q;
    }
  }
  const name = table.name.replace(/weight$/, 'qweight');
  g.initializer = g.initializer.filter((t) => t !== table);
  g.initializer.push(makeTensor(name, DT.UINT8, [V, D / 2], packed), makeTensor(`${table.name}_scales`, DT.FLOAT, [V, D / block], new Uint8Array(scales.buffer)));
  const quantized = makeNode('GatherBlockQuantized', [name, gather.input[1], `${table.name}_scales`], gather.output, gather.name.replace(/Gather$/, 'GatherBlockQuantized'),
    { block_size: block, bits: 4, gather_axis: 0, quantize_axis: 1 }, 'com.microsoft');
  g.node = g.node.map((n) => (n === gather ? quantized : n));
  if (!m.opsetImport.some((o) => o.domain === 'com.microsoft')) m.opsetImport.push(create(OperatorSetIdProtoSchema, { domain: 'com.microsoft', version: 1n }));
  return dequantized;
}
