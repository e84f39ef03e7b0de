import type { FixRegMeanOptions, FixRegMeanResult } from './run';
import { LIMITS } from '../../engine/base/limits';
import { numberFlag } from '../flags';
import { imagesFlag, threadsFlag } from '../options';
import { experiment } from '../experiment';
import { commonFlags, imagesFlags } from '../commandLine';
import { table, toCsv } from '../format';

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
    flags: (o, keep) => [...commonFlags({ threads: o.threads }, keep), ...imagesFlags(o.images), ...(o.count !== undefined ? ['--count', String(o.count)] : [])],
  },
});

function fixRegMeanText(r: FixRegMeanResult): string {
  const row = (name: string, c: FixRegMeanResult['fixRegMean']) => (c ? [name, c.relativeL2.toExponential(2), c.cosine.toFixed(5), c.top1Agreement === null ? '—' : `${(c.top1Agreement * 100).toFixed(0)}%`] : [name, 'NaN/Inf', '—', '—']);
  return [`${r.registers} registers, ${r.tokens} tokens, averaged over ${r.images} ${r.inputKind}`, '',
    ...table([['registers at every block', 'output change (rel. L2)', 'cosine', 'top-1 agreement'], row('set to their mean (Fix-Reg-Mean)', r.fixRegMean), row('set to zero', r.zeroRegisters)]),
    ...(r.notes ?? []).map((n) => `note: ${n}`)].join('\n');
}

function fixRegMeanCsv(r: FixRegMeanResult): string {
  return toCsv([
    { variant: 'fix-reg-mean', relative_l2: r.fixRegMean?.relativeL2 ?? null, cosine: r.fixRegMean?.cosine ?? null, top1_agreement: r.fixRegMean?.top1Agreement ?? null },
    { variant: 'zero-registers', relative_l2: r.zeroRegisters?.relativeL2 ?? null, cosine: r.zeroRegisters?.cosine ?? null, top1_agreement: r.zeroRegisters?.top1Agreement ?? null },
  ]);
}
