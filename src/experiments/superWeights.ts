import type { SuperWeightsResult } from '../engine/experiments/superWeights';
import type { ExperimentBase } from '../engine/experiments/common';
import type { InputOptions } from '../engine/input';
import { superWeightsCsv } from '../engine/export';
import { common } from '../cli/options';
import { superWeightsText } from '../cli/format';
import { experiment } from './experiment';

/** The weights that write the massive activations (the down-projection rows behind each channel). */
export default experiment({
  method: 'superWeights',
  card: false,
  run: async (file, o: ExperimentBase & InputOptions): Promise<SuperWeightsResult> => (await import('../engine/experiments/superWeights')).superWeights(file, o),
  text: superWeightsText,
  csv: superWeightsCsv,
  cli: {
    name: 'super-weights',
    usage: 'super-weights MODEL [--prompt T | --ids … | --image IMG]',
    args: (file, flags) => ({ file, options: common(flags) }),
  },
});
