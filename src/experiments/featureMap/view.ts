import type { FeatureMapOptions, FeatureMapResult } from './run';
import { featureMapCsv } from '../csv';
import { LIMITS } from '../../engine/base/limits';
import { numberFlag } from '../../cli/args';
import { common, layerFlag } from '../options';
import { featureMapText } from '../text';
import { experiment } from '../experiment';

/** The paper's exp1: one block's |activation| over token × channel. */
export default experiment({
  method: 'featureMap',
  card: false,
  run: async (file, o: FeatureMapOptions): Promise<FeatureMapResult> => (await import('./run')).featureMap(file, o),
  text: featureMapText,
  csv: featureMapCsv,
  cli: {
    name: 'feature-map',
    usage: 'feature-map MODEL --layer L [--prompt T | --ids … | --image IMG] [--max-columns N]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: layerFlag(flags), maxColumns: numberFlag(flags, 'max-columns', { min: 4, max: LIMITS.maxColumns, integer: true }) } }),
  },
});
