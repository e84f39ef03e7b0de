import type { InterveneOptions, InterveneResult } from './run';
import { EngineError } from '../../engine/base/errors';
import { LIMITS } from '../../engine/base/limits';
import { listFlag, numberFlag, stringFlag } from '../flags';
import { common, corpusFlag, integer, blockFlag, valuesFlag } from '../options';
import { experiment } from '../experiment';
import { commonFlags, corpusFlags, decimal } from '../commandLine';
import { plainNumber, table, toCsv } from '../format';

/** The paper's exp3: set one block's massive activations to zero, to their mean, or to given values. */
export default experiment<InterveneOptions, InterveneResult>()({
  method: 'intervene',
  card: true,
  text: interveneText,
  csv: interveneCsv,
  cli: {
    name: 'intervene',
    usage: 'intervene MODEL --layer L --mode zero|mean|values [--values t:c=v,…] [--channels 7,42] [--mean-text-file F] [--eval-text-file F | --no-perplexity]',
    args: (file, flags) => {
      const mode = stringFlag(flags, 'mode') ?? 'zero';
      if (!['zero', 'mean', 'values'].includes(mode)) throw new EngineError('bad-argument', `--mode must be zero, mean or values; got "${mode}".`);
      return {
        file,
        options: {
          ...common(flags), layer: blockFlag(flags), mode: mode as 'zero' | 'mean' | 'values',
          values: valuesFlag(stringFlag(flags, 'values')),
          channels: listFlag(flags, 'channels')?.map((c) => integer(c, 'channel')),
          meanText: corpusFlag(flags, 'mean-text-file', 'mean text file'),
          meanCount: numberFlag(flags, 'count', { min: 1, max: LIMITS.count, integer: true }),
          evalText: flags.has('no-perplexity') ? null : corpusFlag(flags, 'eval-text-file', 'evaluation text file'),
          seqLen: numberFlag(flags, 'seq-len', { min: 2, max: LIMITS.tokens, integer: true }),
        },
      };
    },
    flags: (o, keep) => [
      ...commonFlags(o, keep), '--layer', String(o.layer), '--mode', o.mode,
      ...(o.values ? ['--values', o.values.map((v) => `${v.token}:${v.channel}=${decimal(v.value)}`).join(',')] : []),
      ...(o.channels ? ['--channels', o.channels.join(',')] : []),
      ...corpusFlags('--mean-text-file', o.meanText, keep),
      ...(o.meanCount !== undefined ? ['--count', String(o.meanCount)] : []),
      ...(o.evalText === null ? ['--no-perplexity'] : corpusFlags('--eval-text-file', o.evalText, keep)),
      ...(o.seqLen !== undefined ? ['--seq-len', String(o.seqLen)] : []),
    ],
  },
});

function interveneText(r: InterveneResult): string {
  const lines = [`block ${r.layer}, set ${r.mode === 'values' ? 'to given values' : `to ${r.mode}`}: ${r.changed.length} entries changed`];
  if (r.note) lines.push(r.note);
  if (r.changed.length) lines.push('', ...table([['token', 'channel', 'from', 'to'], ...r.changed.map((c) => [String(c.token), String(c.channel), plainNumber(c.from), plainNumber(c.to)])]));
  lines.push('');
  if (r.klMean !== null) lines.push(`next-token KL (original ‖ intervened): mean ${r.klMean.toExponential(3)}, max ${r.klMax!.toExponential(3)} nats; top-1 agreement ${((r.top1Agreement ?? 0) * 100).toFixed(1)}%`);
  if (r.perplexity) lines.push(`perplexity on ${r.perplexity.source === 'sample' ? 'the built-in sample text' : r.perplexity.source === 'text' ? 'the given text' : 'the input'} (${r.perplexity.tokens} tokens): ${plainNumber(r.perplexity.before)} → ${r.perplexity.after === null ? 'undefined (NaN)' : r.perplexity.after === Infinity ? '∞' : plainNumber(r.perplexity.after)}`);
  return lines.join('\n');
}

function interveneCsv(r: InterveneResult): string {
  return toCsv(r.changed.map((c) => ({ layer: r.layer, mode: r.mode, token: c.token, channel: c.channel, from: c.from, to: c.to })));
}
