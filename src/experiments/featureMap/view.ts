import type { FeatureMapOptions, FeatureMapResult } from './run';
import { LIMITS } from '../../engine/base/limits';
import { numberFlag } from '../flags';
import { common, blockFlag } from '../options';
import { experiment } from '../experiment';
import { commonFlags } from '../commandLine';
import { plainNumber, table, toCsv } from '../format';
import { printable } from '../../engine/base/text';
import { massiveListText } from '../../shared/reasons';

/** The paper's exp1: one block's |activation| over token × channel. */
export default experiment<FeatureMapOptions, FeatureMapResult>()({
  method: 'featureMap',
  card: false,
  text: featureMapText,
  csv: featureMapCsv,
  cli: {
    name: 'feature-map',
    usage: 'feature-map MODEL --layer L [--prompt T | --ids … | --image IMG] [--max-columns N]',
    args: (file, flags) => ({ file, options: { ...common(flags), layer: blockFlag(flags), maxColumns: numberFlag(flags, 'max-columns', { min: 4, max: LIMITS.maxColumns, integer: true }) } }),
    flags: (o, keep) => [...commonFlags(o, keep), '--layer', String(o.layer), ...(o.maxColumns !== undefined ? ['--max-columns', String(o.maxColumns)] : [])],
  },
});

function featureMapText(r: FeatureMapResult): string {
  const lines = [`block ${r.layer}: |activation| of ${r.tokens.length} tokens × ${r.columns.length} columns (median ${plainNumber(r.median)}, max ${plainNumber(r.maxAbs)})`];
  if (r.nonFinite) lines.push(`WARNING: not valid: ${r.nonFinite.toLocaleString('en-US')} values of this block are NaN or infinite; the map shows the finite ones.`);
  lines.push(`massive channels: ${massiveListText(r.massiveChannels, 'channels')}`);
  const shown = r.columns.map((c, i) => [c, i] as const).filter(([c]) => c.massive).slice(0, 8);
  if (shown.length) {
    lines.push('', ...table([['token', 'kind', ...shown.map(([c]) => `ch${c.from}`), 'max other'],
      ...r.values.map((row, t) => [`${t} "${printable(r.tokens[t]?.text ?? '')}"`, r.tokenKinds[t], ...shown.map(([, i]) => plainNumber(row[i])), plainNumber(Math.max(...row.filter((_, i) => !r.columns[i].massive)))])]));
  }
  if (r.patchMap) lines.push('', `patch map (${r.patchMap.rows}×${r.patchMap.cols}, max |a| per patch):`, ...r.patchMap.values.map((row) => row.map((v) => plainNumber(v).padStart(7)).join(' ')));
  return lines.join('\n');
}

function featureMapCsv(r: FeatureMapResult): string {
  return toCsv(r.values.map((row, t) => ({ token: t, text: r.tokens[t]?.text, kind: r.tokenKinds[t], ...Object.fromEntries(r.columns.map((c, i) => [c.from === c.to ? `ch${c.from}` : `ch${c.from}-${c.to}`, row[i]])) })));
}
