import attention from './attention/view';
import compare from './compare/view';
import featureMap from './featureMap/view';
import fixRegMean from './fixRegMean/view';
import implicitBias from './implicitBias/view';
import intervene from './intervene/view';
import scanMany from './scanMany/view';
import superWeights from './superWeights/view';

/**
 * Every experiment, by engine method. Adding one: its descriptor file, a line here, and (if it
 * is a card) its card in webview/inspector/cards.ts; the protocol, the engine process, the CLI
 * and the exports follow from these.
 */
export const EXPERIMENTS = { scanMany, featureMap, intervene, attention, implicitBias, superWeights, fixRegMean, compare };

export type Experiments = typeof EXPERIMENTS;
export type ExperimentMethod = keyof Experiments;
export type OptionsOf<K extends ExperimentMethod> = Parameters<Experiments[K]['run']>[1];
export type ResultOf<K extends ExperimentMethod> = Awaited<ReturnType<Experiments[K]['run']>>;
/** The experiments the inspector shows as cards. */
export type CardMethod = { [K in ExperimentMethod]: Experiments[K]['card'] extends true ? K : never }[ExperimentMethod];
