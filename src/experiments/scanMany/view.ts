import type { ScanManyOptions, ScanManyResult } from './run';
import { EngineError } from '../../engine/base/errors';
import { scanManyCsv, constancyCsv } from '../csv';
import { LIMITS } from '../../engine/base/limits';
import { idsListFlag, numberFlag, stringFlag } from '../flags';
import { common, corpusFlag, imagesFlag, readText } from '../options';
import { scanManyText } from '../text';
import { experiment } from '../experiment';

/** The paper's exp2 over many inputs, with each massive activation's constancy. */
export default experiment<ScanManyOptions, ScanManyResult>()({
  method: 'scanMany',
  card: true,
  text: scanManyText,
  csv: (r) => scanManyCsv(r) + '\n' + constancyCsv(r),
  cli: {
    name: 'scan-many',
    usage: 'scan-many MODEL [--text-file F --seq-len N | --prompts-file F | --ids "1,2;1,3" | --images a,b | --image-dir D] [--count N]',
    args: (file, flags) => {
      const textFile = stringFlag(flags, 'text-file');
      const promptsFile = stringFlag(flags, 'prompts-file');
      // --ids here may hold several sequences ("1,2;1,3"): read it below, not as one prompt's ids.
      const single = new Map(flags);
      single.delete('ids');
      const { prompt, image, ...shared } = common(single);
      const sources = [textFile !== undefined, promptsFile !== undefined, flags.has('ids'), prompt !== undefined, !!image || flags.has('images') || flags.has('image-dir')].filter(Boolean).length;
      if (sources > 1) throw new EngineError('bad-argument', 'Give one source of inputs: --text-file, --prompts-file, --prompt, --ids, or images.');
      let prompts = promptsFile !== undefined ? readText(promptsFile, 'prompts file', flags).split('\n').filter((l) => l.trim()) : prompt !== undefined ? [prompt] : undefined;
      if (prompts && prompts.length > LIMITS.prompts) throw new EngineError('bad-argument', `The prompts file holds ${prompts.length.toLocaleString('en-US')} prompts; one run takes at most ${LIMITS.prompts.toLocaleString('en-US')}.`);
      if (prompts && !prompts.length) prompts = undefined;
      const images = imagesFlag(flags) ?? (image ? [image] : undefined);
      return {
        file,
        options: {
          ...shared,
          text: corpusFlag(flags, 'text-file', 'text file'),
          prompts,
          idsList: idsListFlag(flags.get('ids')),
          images,
          seqLen: numberFlag(flags, 'seq-len', { min: 2, max: LIMITS.tokens, integer: true }),
          count: numberFlag(flags, 'count', { min: 1, max: LIMITS.count, integer: true }),
          firstId: numberFlag(flags, 'first-id', { min: 0, max: 2 ** 31, integer: true }),
          topK: numberFlag(flags, 'top', { min: 1, max: LIMITS.topK, integer: true }),
        },
      };
    },
  },
});
