import type { AttentionAnalysis, AttentionOptions } from './run';
import { common, blockFlag } from '../options';
import { numberFlag } from '../flags';
import { LIMITS } from '../../engine/base/limits';
import { experiment } from '../experiment';
import { commonFlags } from '../commandLine';
import { table, toCsv } from '../format';
import { massiveListText, sinkHeadsText } from '../../shared/reasons';

/** The paper's exp4 for one block: heads, sink scores, the share on massive tokens, the matrices. */
export default experiment<AttentionOptions, AttentionAnalysis>()({
  method: 'attention',
  card: true,
  text: attentionText,
  csv: attentionCsv,
  cli: {
    name: 'attention',
    usage: 'attention MODEL --layer L [--prompt T | --ids … | --image IMG] [--per-head] [--matrix-tokens N]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: blockFlag(flags), perHead: flags.has('per-head'), matrixTokens: numberFlag(flags, 'matrix-tokens', { min: 2, max: LIMITS.tokens, integer: true }) } }),
    flags: (o, keep) => [...commonFlags(o, keep), '--layer', String(o.layer), ...(o.perHead ? ['--per-head'] : []), ...(o.matrixTokens !== undefined ? ['--matrix-tokens', String(o.matrixTokens)] : [])],
  },
});

function attentionText(r: AttentionAnalysis): string {
  const lines = [`block ${r.layer} attention (${r.source}); massive-activation tokens: ${massiveListText(r.massiveTokens, 'tokens')}`];
  if (!r.heads.length) return [...lines, `sink heads: ${sinkHeadsText(r)}`].join('\n');
  lines.push('', ...table([['head', 'sink score', 'sink head', 'share on massive tokens'], ...r.heads.map((h) => [String(h.head), h.sinkScore.toFixed(3), h.isSink ? 'yes' : 'no', h.massiveShare === null ? '—' : `${(h.massiveShare * 100).toFixed(1)}%`])]));
  lines.push('', `sink heads: ${sinkHeadsText(r)}`, `share of attention on massive-activation tokens: ${r.massiveTokenShare === null ? '—' : `${(r.massiveTokenShare * 100).toFixed(1)}%`} (by block: ${r.shareByLayer.map((s) => (s.share === null ? '—' : `${(s.share * 100).toFixed(0)}%`)).join(' ')})`);
  return lines.join('\n');
}

function attentionCsv(r: AttentionAnalysis): string {
  return toCsv(r.heads.map((h) => ({ layer: r.layer, head: h.head, sink_score: h.sinkScore, sink_head: h.isSink, massive_share: h.massiveShare })));
}
