import type { ImplicitBiasOptions, ImplicitBiasResult } from './run';
import { implicitBiasCsv } from '../csv';
import { common, layerFlag } from '../options';
import { implicitBiasText } from '../text';
import { experiment } from '../experiment';

/** The paper's implicit attention bias: the part of the attention output the massive tokens carry. */
export default experiment<ImplicitBiasOptions, ImplicitBiasResult>()({
  method: 'implicitBias',
  card: true,
  text: implicitBiasText,
  csv: implicitBiasCsv,
  cli: {
    name: 'implicit-bias',
    usage: 'implicit-bias MODEL --layer L [--prompt T | --ids … | --image IMG]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: layerFlag(flags) } }),
  },
});
