import type { ImplicitBiasOptions, ImplicitBiasResult } from './run';
import { common, blockFlag } from '../options';
import { experiment } from '../experiment';
import { commonFlags } from '../commandLine';
import { toCsv } from '../format';

/** The paper's implicit attention bias: the part of the attention output the massive tokens carry. */
export default experiment<ImplicitBiasOptions, ImplicitBiasResult>()({
  method: 'implicitBias',
  card: true,
  text: implicitBiasText,
  csv: implicitBiasCsv,
  cli: {
    name: 'implicit-bias',
    usage: 'implicit-bias MODEL --layer L [--prompt T | --ids … | --image IMG]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: blockFlag(flags) } }),
    flags: (o, keep) => [...commonFlags(o, keep), '--layer', String(o.layer)],
  },
});

function implicitBiasText(r: ImplicitBiasResult): string {
  return [
    `block ${r.layer}: attention output split over the massive-activation tokens ${r.massiveTokens.join(', ')} (${r.queries} queries${r.afterOutputProjection ? ', after the output projection' : ''})`,
    `cosine similarity between queries of the part from those tokens: ${r.sinkPartCosine.toFixed(4)} (rest: ${r.restPartCosine.toFixed(4)})`,
    `its share of the output norm: ${(r.sinkNormShare * 100).toFixed(1)}%`,
  ].join('\n');
}

function implicitBiasCsv(r: ImplicitBiasResult): string {
  return toCsv([{
    layer: r.layer, queries: r.queries, sink_part_cosine: r.sinkPartCosine, rest_part_cosine: r.restPartCosine,
    sink_norm_share: r.sinkNormShare, after_output_projection: r.afterOutputProjection,
  }]);
}
