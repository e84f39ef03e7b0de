import type { ImplicitBiasOptions, ImplicitBiasResult } from '../engine/experiments/implicitBias';
import { implicitBiasCsv } from '../engine/export';
import { common, layerFlag } from '../cli/options';
import { implicitBiasText } from '../cli/format';
import { experiment } from './experiment';

/** The paper's implicit attention bias: the part of the attention output the massive tokens carry. */
export default experiment({
  method: 'implicitBias',
  card: true,
  run: async (file, o: ImplicitBiasOptions): Promise<ImplicitBiasResult> => (await import('../engine/experiments/implicitBias')).implicitBias(file, o),
  text: implicitBiasText,
  csv: implicitBiasCsv,
  cli: {
    name: 'implicit-bias',
    usage: 'implicit-bias MODEL --layer L [--prompt T | --ids … | --image IMG]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: layerFlag(flags) } }),
  },
});
