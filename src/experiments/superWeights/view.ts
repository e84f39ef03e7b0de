import type { SuperWeightsResult } from './run';
import type { ExperimentBase } from '../../engine/run/experiment';
import type { InputOptions } from '../../engine/run/input';
import { common } from '../options';
import { experiment } from '../experiment';
import { commonFlags } from '../commandLine';
import { plainNumber, table, toCsv } from '../format';

/** The weights that write the massive activations (the down-projection rows behind each channel). */
export default experiment<ExperimentBase & InputOptions, SuperWeightsResult>()({
  method: 'superWeights',
  card: false,
  text: superWeightsText,
  csv: superWeightsCsv,
  cli: {
    name: 'super-weights',
    usage: 'super-weights MODEL [--prompt T | --ids … | --image IMG]',
    args: (file, flags) => ({ file, options: common(flags) }),
    flags: (o, keep) => commonFlags(o, keep),
  },
});

function superWeightsText(r: SuperWeightsResult): string {
  if (!r.candidates.length) return r.note ?? 'No super weight found.';
  return [`block ${r.layer} down projection (${r.weightName}):`, '', ...table([['row (neuron)', 'column (channel)', 'weight', 'input', 'contribution', 'share of MLP output'],
    ...r.candidates.map((c) => [String(c.row), String(c.column), plainNumber(c.weight), plainNumber(c.input), plainNumber(c.contribution), `${(c.share * 100).toFixed(1)}%`])])].join('\n');
}

function superWeightsCsv(r: SuperWeightsResult): string {
  return toCsv(r.candidates.map((c) => ({ layer: c.layer, row: c.row, column: c.column, weight: c.weight, input: c.input, contribution: c.contribution, share: c.share, tokens: c.tokens.join(' ') })));
}
