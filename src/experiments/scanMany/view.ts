import type { ScanManyOptions, ScanManyResult } from './run';
import { EngineError } from '../../engine/base/errors';
import { LIMITS } from '../../engine/base/limits';
import { idsListFlag, numberFlag, stringFlag } from '../flags';
import { common, corpusFlag, imagesFlag, readText } from '../options';
import { experiment } from '../experiment';
import { commonFlags, corpusFlags, imagesFlags, promptsFlags } from '../commandLine';
import { plainNumber, pm, table, toCsv } from '../format';

/** The paper's exp2 over many inputs, with each massive activation's constancy. */
export default experiment<ScanManyOptions, ScanManyResult>()({
  method: 'scanMany',
  card: true,
  text: scanManyText,
  csv: (r) => scanManyCsv(r) + '\n' + constancyCsv(r),
  cli: {
    name: 'scan-many',
    usage: 'scan-many MODEL [--text-file F --seq-len N | --prompts-file F | --ids "1,2;1,3" | --images a,b | --image-dir D] [--count N]',
    args: (file, flags) => {
      const textFile = stringFlag(flags, 'text-file');
      const promptsFile = stringFlag(flags, 'prompts-file');
      // --ids here may hold several sequences ("1,2;1,3"): read it below, not as one prompt's ids.
      const { prompt, image, feeds, ...shared } = common(flags, { ids: false });
      if (feeds) throw new EngineError('bad-argument', '--feed gives the tensors of one input; scan-many runs many inputs. Scan that input with scan --feed, or give scan-many its inputs with --text-file, --prompts-file or --ids.');
      const sources = [textFile !== undefined, promptsFile !== undefined, flags.has('ids'), prompt !== undefined, !!image || flags.has('images') || flags.has('image-dir')].filter(Boolean).length;
      if (sources > 1) throw new EngineError('bad-argument', 'Give one source of inputs: --text-file, --prompts-file, --prompt, --ids, or images.');
      let prompts = promptsFile !== undefined ? readText(promptsFile, 'prompts file', flags).split('\n').filter((l) => l.trim()) : prompt !== undefined ? [prompt] : undefined;
      if (prompts && prompts.length > LIMITS.prompts) throw new EngineError('bad-argument', `The prompts file holds ${prompts.length.toLocaleString('en-US')} prompts; one run takes at most ${LIMITS.prompts.toLocaleString('en-US')}.`);
      if (prompts && !prompts.length) prompts = undefined;
      const images = imagesFlag(flags) ?? (image ? [image] : undefined);
      return {
        file,
        options: {
          ...shared,
          text: corpusFlag(flags, 'text-file', 'text file'),
          prompts,
          idsList: idsListFlag(flags.get('ids')),
          images,
          seqLen: numberFlag(flags, 'seq-len', { min: 2, max: LIMITS.tokens, integer: true }),
          count: numberFlag(flags, 'count', { min: 1, max: LIMITS.count, integer: true }),
          firstId: numberFlag(flags, 'first-id', { min: 0, max: 2 ** 31, integer: true }),
          topK: numberFlag(flags, 'top', { min: 1, max: LIMITS.topK, integer: true }),
        },
      };
    },
    flags: (o, keep) => [
      ...commonFlags(o, keep), ...corpusFlags('--text-file', o.text, keep), ...promptsFlags(o.prompts, keep),
      ...(o.idsList ? ['--ids', o.idsList.map((s) => s.join(',')).join(';')] : []), ...imagesFlags(o.images),
      ...(o.seqLen !== undefined ? ['--seq-len', String(o.seqLen)] : []), ...(o.count !== undefined ? ['--count', String(o.count)] : []),
      ...(o.firstId !== undefined ? ['--first-id', String(o.firstId)] : []), ...(o.topK !== undefined ? ['--top', String(o.topK)] : []),
    ],
  },
});

function scanManyText(r: ScanManyResult): string {
  const lines = [`${r.inputs} inputs (${r.inputKind}), ${Math.min(...r.tokensPerInput)}–${Math.max(...r.tokensPerInput)} tokens each`, ...r.warnings.map((w) => `WARNING: ${w}`), ''];
  lines.push(...table([['layer', 'top-1', 'top-2', 'top-3', 'median', 'inputs with massive'],
    ...r.layers.map((l) => [String(l.index), pm(l.top[0]), pm(l.top[1]), pm(l.top[2]), pm(l.median), `${l.massiveInputs}/${r.inputs}`])]));
  lines.push('');
  if (r.constancy.length) {
    lines.push('Constancy of each massive activation (at the block where it is seen in most inputs):');
    lines.push(...table([['channel', 'token kind', 'block', 'value (mean ± std)', 'seen in', 'blocks'],
      ...r.constancy.map((c) => [String(c.channel), c.kind, String(c.layer), pm(c), `${c.count}/${c.inputs}`, c.layers.join(',')])]));
    lines.push('', `Tokens carrying them: ${r.locations.map((l) => `${l.kind} ${(l.share * 100).toFixed(0)}%`).join(', ')}`);
  } else {
    lines.push('No massive activations in any input.');
  }
  if (r.outlierFeatures.length) lines.push(`LLM.int8() outlier features: ${r.outlierFeatures.map((f) => `ch${f.channel} (${f.layers} blocks, max ${plainNumber(f.maxAbs)})`).join(', ')}`);
  return lines.join('\n');
}

function scanManyCsv(r: ScanManyResult): string {
  return toCsv(r.layers.map((l) => ({
    layer: l.index, top1_mean: l.top[0].mean, top1_std: l.top[0].std, top2_mean: l.top[1].mean, top2_std: l.top[1].std,
    top3_mean: l.top[2].mean, top3_std: l.top[2].std, median_mean: l.median.mean, median_std: l.median.std, inputs_with_massive: l.massiveInputs,
  })));
}

function constancyCsv(r: ScanManyResult): string {
  return toCsv(r.constancy.map((c) => ({ channel: c.channel, token_kind: c.kind, layer: c.layer, mean: c.mean, std: c.std, inputs: c.count, frequency: c.frequency, layers: c.layers.join(' ') })));
}
