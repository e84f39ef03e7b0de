import type { InterveneOptions, InterveneResult } from './run';
import { EngineError } from '../../engine/base/errors';
import { interveneCsv } from '../csv';
import { LIMITS } from '../../engine/base/limits';
import { listFlag, numberFlag, stringFlag } from '../flags';
import { common, corpusFlag, integer, layerFlag, valuesFlag } from '../options';
import { interveneText } from '../text';
import { experiment } from '../experiment';

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
          ...common(flags), layer: layerFlag(flags), mode: mode as 'zero' | 'mean' | 'values',
          values: valuesFlag(stringFlag(flags, 'values')),
          channels: listFlag(flags, 'channels')?.map((c) => integer(c, 'channel')),
          meanText: corpusFlag(flags, 'mean-text-file', 'mean text file'),
          meanCount: numberFlag(flags, 'count', { min: 1, max: LIMITS.count, integer: true }),
          evalText: flags.has('no-perplexity') ? null : corpusFlag(flags, 'eval-text-file', 'evaluation text file'),
          seqLen: numberFlag(flags, 'seq-len', { min: 2, max: LIMITS.tokens, integer: true }),
        },
      };
    },
  },
});
