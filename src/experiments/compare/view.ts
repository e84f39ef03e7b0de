import * as path from 'node:path';
import type { CompareOptions, CompareResult } from './run';
import { checkpointSeries } from '../../engine/model/checkpoints';
import { listed } from '../../engine/base/files';
import { printable } from '../../engine/base/text';
import { EngineError } from '../../engine/base/errors';
import { compareCsv } from '../csv';
import { DEFAULT_PROMPT } from '../../engine/base/defaults';
import { LIMITS } from '../../engine/base/limits';
import type { Flags } from '../flags';
import { numberFlag, stringFlag } from '../flags';
import { common, corpusFlag, readText } from '../options';
import { compareText } from '../text';
import { experiment } from '../experiment';

/** Several models on one input (variants, checkpoints), or one model on several prompts. */
export default experiment<CompareOptions, CompareResult>()({
  method: 'compare',
  card: false,
  text: compareText,
  csv: compareCsv,
  cli: {
    name: 'compare',
    usage: 'compare A B [C …] | compare CHECKPOINTS_FOLDER | compare --list F | compare MODEL --prompt P --prompt2 Q  [--prompt T | --ids … | --text-file F --count N --seq-len L] [--align-by-text]',
    args: compareArgs,
  },
});

/**
 * compare A B [C …]; compare FOLDER (a checkpoint series, sorted naturally); compare --list F;
 * compare MODEL --prompt P --prompt2 Q (two inputs on one model).
 */
function compareArgs(file: string, flags: Flags, rest: string[]) {
  const list = stringFlag(flags, 'list');
  let files = [file, ...rest];
  let series = false;
  const notes: string[] = [];
  const shared = common(flags);
  const prompt2 = stringFlag(flags, 'prompt2');
  const promptsFile = stringFlag(flags, 'prompts-file');
  // Each run of one model is labelled by its prompt: ids would replace every prompt unseen.
  if (shared.ids && (prompt2 !== undefined || promptsFile !== undefined)) {
    const flag = prompt2 !== undefined ? '--prompt2' : '--prompts-file';
    const how = `${flag} compares prompts on one model (--prompt P --prompt2 Q, or --prompts-file F)`;
    throw new EngineError('bad-argument', `--ids and ${flag} both give the model's input: ${how}; give prompts, not --ids.`);
  }
  const prompts = prompt2 !== undefined ? [shared.prompt ?? DEFAULT_PROMPT, prompt2]
    : promptsFile !== undefined ? readText(promptsFile, 'prompts file', flags).split('\n').filter((l) => l.trim()) : undefined;
  if (list) {
    files = readText(list, 'checkpoint list', flags).split('\n').map((l) => l.trim()).filter(Boolean).map((l) => path.resolve(path.dirname(list), l));
    series = true;
  } else if (files.length === 1) {
    const found = checkpointSeries(file);
    if (found && found.files.length >= 2) {
      files = found.files;
      series = true;
      if (found.skipped.length) notes.push(`Skipped ${listed(found.skipped)}.`);
    } else if (found?.skipped.length && !prompts) {
      throw new EngineError('bad-argument',
        `${printable(file)} holds no two checkpoints that can be read: ${found.skipped.join(', ')}. Fix or remove those entries, or name the models.`);
    }
  }
  if (files.length < 2 && !prompts) throw new EngineError('bad-argument', 'Give two models to compare (compare A B), a folder of checkpoints, --list FILE, or one model with --prompt and --prompt2.');
  if (prompts && files.length > 1) throw new EngineError('bad-argument', 'Compare either several models on one input, or one model on several prompts, not both.');
  return {
    file: files[0],
    options: {
      ...shared, files, series, prompts, ...(notes.length ? { notes } : {}),
      alignByText: flags.has('align-by-text'), topK: numberFlag(flags, 'top', { min: 1, max: LIMITS.topK, integer: true }),
      text: corpusFlag(flags, 'text-file', 'text file'),
      count: numberFlag(flags, 'count', { min: 1, max: LIMITS.count, integer: true }),
      seqLen: numberFlag(flags, 'seq-len', { min: 2, max: LIMITS.tokens, integer: true }),
    },
  };
}

