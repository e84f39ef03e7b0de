import type { FixRegMeanOptions, FixRegMeanResult } from './run';
import { fixRegMeanCsv } from '../csv';
import { LIMITS } from '../../engine/base/limits';
import { numberFlag } from '../flags';
import { imagesFlag, threadsFlag } from '../options';
import { fixRegMeanText } from '../text';
import { experiment } from '../experiment';

/** Vision transformers' registers set to their mean (Fix-Reg-Mean) or to zero at every block. */
export default experiment<FixRegMeanOptions, FixRegMeanResult>()({
  method: 'fixRegMean',
  card: true,
  text: fixRegMeanText,
  csv: fixRegMeanCsv,
  cli: {
    name: 'fix-reg-mean',
    usage: 'fix-reg-mean MODEL [--images a.png,b.png | --image-dir D | --count N]',
    args: (file, flags) => ({ file, options: { threads: threadsFlag(flags), images: imagesFlag(flags), count: numberFlag(flags, 'count', { min: 2, max: LIMITS.count, integer: true }) } }),
  },
});
