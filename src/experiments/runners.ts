import type { ExperimentMethod, OptionsOf, ResultOf } from './registry';
import { analyseAttention } from './attention/run';
import { compare } from './compare/run';
import { featureMap } from './featureMap/run';
import { fixRegMean } from './fixRegMean/run';
import { implicitBias } from './implicitBias/run';
import { intervene } from './intervene/run';
import { scanMany } from './scanMany/run';
import { sinkRate } from './sinkRate/run';
import { superWeights } from './superWeights/run';

export type Runner<K extends ExperimentMethod> = (file: string, options: OptionsOf<K>) => Promise<ResultOf<K>>;

/**
 * The worker half of every experiment, by method: imported by the engine process only (never by
 * the extension host, whose bundle must not reach ONNX Runtime). A method of the registry without
 * a runner here, or a runner of the wrong types, does not compile.
 */
export const RUNNERS: { [K in ExperimentMethod]: Runner<K> } = {
  scanMany,
  featureMap,
  intervene,
  attention: analyseAttention,
  implicitBias,
  superWeights,
  fixRegMean,
  // compare reads its models from options.files; the file is the first of them.
  compare: (_file, options) => compare(options),
  sinkRate,
};
