import type { AttentionAnalysis, AttentionOptions } from './run';
import { attentionCsv } from '../csv';
import { common, layerFlag } from '../options';
import { attentionText } from '../text';
import { experiment } from '../experiment';

/** The paper's exp4 for one block: heads, sink scores, the share on massive tokens, the matrices. */
export default experiment<AttentionOptions, AttentionAnalysis>()({
  method: 'attention',
  card: true,
  text: attentionText,
  csv: attentionCsv,
  cli: {
    name: 'attention',
    usage: 'attention MODEL --layer L [--prompt T | --ids … | --image IMG] [--per-head]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: layerFlag(flags), perHead: flags.has('per-head') } }),
  },
});
