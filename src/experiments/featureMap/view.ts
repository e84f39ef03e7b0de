import type { FeatureMapOptions, FeatureMapResult } from './run';
import { featureMapCsv } from '../csv';
import { LIMITS } from '../../engine/base/limits';
import { numberFlag } from '../flags';
import { common, layerFlag } from '../options';
import { featureMapText } from '../text';
import { experiment } from '../experiment';

/** The paper's exp1: one block's |activation| over token × channel. */
export default experiment<FeatureMapOptions, FeatureMapResult>()({
  method: 'featureMap',
  card: false,
  text: featureMapText,
  csv: featureMapCsv,
  cli: {
    name: 'feature-map',
    usage: 'feature-map MODEL --layer L [--prompt T | --ids … | --image IMG] [--max-columns N]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: layerFlag(flags), maxColumns: numberFlag(flags, 'max-columns', { min: 4, max: LIMITS.maxColumns, integer: true }) } }),
  },
});
