/** inspect's views: what a model is, as text and as the JSON contract (engine/model/inspect.ts computes it). */
import type { ModelInfo } from '../../engine/model/inspect';
import { firstFew, printable } from '../../engine/base/text';
import { mixerLabel } from '../format';

export function inspectJson(i: ModelInfo) {
  return {
    family: i.family, familyEvidence: i.familyEvidence, blocks: i.blocks, hiddenSize: i.hiddenSize, heads: i.heads, kvHeads: i.kvHeads, dtype: i.dtype,
    inputs: i.inputs.map((x) => ({ name: x.name, type: x.type, shape: x.shape, role: x.role })),
    outputs: i.outputs,
    externalData: i.externalData,
    vocabSize: i.vocabSize, opsets: i.opsets, producer: i.producer, matcher: i.matcher, postNorm: i.postNorm,
    attention: i.attention, quantization: i.quantization, warnings: i.warnings, blockOutputs: i.blockOutputs,
    layers: i.layers, hasTokenizer: i.hasTokenizer,
    ...(i.fixedTokens ? { fixedTokens: i.fixedTokens.count } : {}),
    ...(i.sample ? { sampleIds: i.sample.ids } : {}),
    ...(i.pipeline ? { pipeline: i.pipeline } : {}),
  };
}

export function inspectText(i: ModelInfo): string {
  const lines = [
    i.path,
    `family      ${i.family}${i.familyEvidence.length ? ` (${i.familyEvidence.map(printable).join('; ')})` : ''}`,
    `blocks      ${i.blocks} (located by ${i.matcher}${i.postNorm ? ', post-norm' : ''})`,
    `width       ${i.hiddenSize ?? 'unknown'}`,
    `heads       ${i.heads ?? 'unknown'}${i.kvHeads ? ` (${i.kvHeads} key/value)` : ''}`,
    `dtype       ${i.dtype}${i.quantization.length ? ` (${i.quantization.join(', ')})` : ''}`,
    `attention   ${i.attention}`,
    `inputs      ${describeInputs(i)}`,
    `mixers      ${mixerSummary(i.layers)}`,
  ];
  const fixed = i.fixedTokens;
  if (fixed) lines.push(`tokens      ${fixed.count === 1 ? '1' : `exactly ${fixed.count}`} at a time ("${printable(fixed.input)}" is [${fixed.shape.join(', ')}])`);
  if (i.pipeline) lines.push(`files       ${i.pipeline.layout}: ${i.pipeline.files.map((f) => `${f.role} ${printable(f.file.split(/[\\/]/).pop() ?? f.file)}`).join(' → ')}${i.pipeline.variants.length > 1 ? ` (variant ${i.pipeline.variant || 'plain'} of ${i.pipeline.variants.map((v) => v || 'plain').join(', ')})` : ''}`);
  if (i.externalData.length) lines.push(`weights     ${describeWeightFiles(i.externalData)}`);
  // Without a tokenizer the user needs ids to run anything: offer ones this model accepts.
  if (i.sample && !i.hasTokenizer) lines.push(`tokenizer   none: run with --ids, e.g. --ids ${i.sample.ids.join(',')} (${i.sample.source})`);
  for (const w of i.warnings) lines.push(`warning     ${w}`);
  return lines.join('\n');
}

/** "attention ×6", or per kind with the blocks: "linear-attention 0–2, 4–6; attention 3, 7". */
function mixerSummary(layers: ModelInfo['layers']): string {
  const byKind = new Map<string, number[]>();
  for (const l of layers) byKind.set(mixerLabel(l), [...(byKind.get(mixerLabel(l)) ?? []), l.index]);
  if (byKind.size === 1) { const [k, v] = [...byKind][0]; return `${k} ×${v.length}`; }
  const ranges = (xs: number[]) => xs.reduce<[number, number][]>((acc, x) => {
    const last = acc[acc.length - 1];
    if (last && last[1] === x - 1) last[1] = x; else acc.push([x, x]);
    return acc;
  }, []).map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join(', ');
  return [...byKind].map(([k, v]) => `${k} ${ranges(v)}`).join('; ');
}

function describeInputs(i: ModelInfo): string {
  const past = i.inputs.filter((x) => x.role === 'past');
  const weights = i.inputs.filter((x) => x.role === 'weight');
  const rest = i.inputs.filter((x) => x.role !== 'past' && x.role !== 'weight').map((x) => `${printable(x.name)} ${x.type}[${x.shape.join(',')}]`);
  if (past.length) rest.push(`${past.length} past key/value inputs ${past[0].type}[${past[0].shape.join(',')}]`);
  if (weights.length) rest.push(`${weights.length === 1 ? 'a weight' : `${weights.length} weights`} without values (${nameList(weights.map((x) => x.name))})`);
  return rest.join(', ');
}

/** Up to three names, then how many more: a model can have hundreds of weight files or inputs. */
const nameList = (names: string[]) => firstFew(names.map(printable));

const megabytes = (bytes: number) => (bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GB` : `${(bytes / 2 ** 20).toFixed(1)} MB`);

/** A few weight files by name; many (one file per tensor) as a count, the missing ones named first. */
function describeWeightFiles(files: ModelInfo['externalData']): string {
  if (files.length <= 4) return files.map((f) => `${printable(f.file)} (${f.present ? 'present' : 'MISSING'})`).join(', ');
  const total = files.reduce((a, f) => a + f.bytes, 0);
  const missing = files.filter((f) => !f.present);
  const head = `${files.length.toLocaleString('en-US')} files, ${megabytes(total)}`;
  if (!missing.length) return `${head}, all present`;
  const which = missing.length === files.length ? 'all MISSING' : `${missing.length.toLocaleString('en-US')} MISSING`;
  return `${head}, ${which} (${nameList(missing.map((f) => f.file))})`;
}
