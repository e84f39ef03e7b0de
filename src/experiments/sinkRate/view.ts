import type { SinkRateOptions, SinkRateResult } from './run';
import { EngineError } from '../../engine/base/errors';
import { LIMITS } from '../../engine/base/limits';
import { numberFlag, stringFlag } from '../flags';
import { common, readText } from '../options';
import { experiment } from '../experiment';
import { commonFlags, decimal, promptsFlags } from '../commandLine';
import { table, toCsv, type Row } from '../format';

/** Gu et al.'s sink rate: the share of heads whose mean attention on the first token exceeds ε. */
export default experiment<SinkRateOptions, SinkRateResult>()({
  method: 'sinkRate',
  card: false,
  text: sinkRateText,
  csv: sinkRateCsv,
  cli: {
    name: 'sink-rate',
    usage: 'sink-rate MODEL [--prompt T | --prompts-file F | --ids … | --image IMG] [--epsilon 0.3]',
    args: (file, flags) => {
      const shared = common(flags);
      const promptsFile = stringFlag(flags, 'prompts-file');
      let prompts: string[] | undefined;
      if (promptsFile !== undefined) {
        if (shared.prompt !== undefined || shared.ids || shared.image || shared.feeds) {
          throw new EngineError('bad-argument', 'Give either --prompts-file or one input (--prompt, --ids, --image, --feed), not both.');
        }
        prompts = readText(promptsFile, 'prompts file', flags).split('\n').filter((l) => l.trim());
        if (!prompts.length) throw new EngineError('bad-argument', 'The prompts file holds no prompt (one per line).');
        if (prompts.length > LIMITS.prompts) {
          throw new EngineError('bad-argument', `The prompts file holds ${prompts.length.toLocaleString('en-US')} prompts; one run takes at most ${LIMITS.prompts.toLocaleString('en-US')}.`);
        }
      }
      return { file, options: { ...shared, prompts, epsilon: numberFlag(flags, 'epsilon', { min: 0, max: 1 }) } };
    },
    flags: (o, keep) => [...commonFlags(o, keep), ...promptsFlags(o.prompts, keep), ...(o.epsilon !== undefined ? ['--epsilon', decimal(o.epsilon)] : [])],
  },
});

const percent = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);

function sinkRateText(r: SinkRateResult): string {
  const over = r.inputs > 1 ? ` over ${r.inputs} inputs` : '';
  const head = r.heads
    ? `sink rate (ε = ${r.epsilon})${over}: ${percent(r.rate)} — ${r.sinkHeads} of ${r.heads} heads give the first token more than ${r.epsilon} of their attention`
    : `sink rate (ε = ${r.epsilon})${over}: n/a — no block has attention heads whose probabilities can be read (see each block's note)`;
  const lines = [head, ''];
  lines.push(...table([['block', 'heads', 'sink heads', 'rate', 'strongest head'],
    ...r.blocks.map((b) => {
      if (b.rate === null) return [String(b.block), '–', '–', 'n/a', b.note ?? ''];
      const top = b.scores.reduce((best, s, h) => (s > b.scores[best] ? h : best), 0);
      return [String(b.block), String(b.scores.length), String(b.sinkHeads), percent(b.rate), `head ${top}: ${b.scores[top].toFixed(3)}`];
    })]));
  return lines.join('\n');
}

function sinkRateCsv(r: SinkRateResult): string {
  return toCsv(r.blocks.flatMap((b): Row[] => (b.scores.length
    ? b.scores.map((s, head) => ({ block: b.block, head, first_token_attention: s, sink: s > r.epsilon ? 1 : 0, epsilon: r.epsilon, note: '' }))
    : [{ block: b.block, head: null, first_token_attention: null, sink: null, epsilon: r.epsilon, note: b.note ?? '' }])));
}
