import type { SuperWeightsResult } from './run';
import type { ExperimentBase } from '../../engine/run/experiment';
import type { InputOptions } from '../../engine/run/input';
import { superWeightsCsv } from '../csv';
import { common } from '../options';
import { superWeightsText } from '../text';
import { experiment } from '../experiment';

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
  },
});
