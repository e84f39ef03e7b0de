import type { EngineCalls, EngineMethod } from '../shared/protocol';
import type { Flags } from '../experiments/flags';
import { idsFlag, numberFlag, stringFlag } from '../experiments/flags';
import { LIMITS } from '../engine/base/limits';
import { EXPERIMENTS } from '../experiments/registry';
import { common } from '../experiments/options';
import { inspectJson, inspectText } from '../experiments/inspect/view';
import { scanCsv, scanJson, scanTable } from '../experiments/scan/view';

export { threadsFlag } from '../experiments/options';

/** One subcommand: how its flags become an engine call, and how its result is shown. */
export interface Command<M extends EngineMethod> {
  method: M;
  usage: string;
  args(model: string, flags: Flags, rest: string[]): EngineCalls[M]['args'];
  text(result: EngineCalls[M]['result']): string;
  /** The --json document (default: the result itself). */
  json?(result: EngineCalls[M]['result']): unknown;
  csv?(result: EngineCalls[M]['result']): string;
}

/** Keeps each entry typed by its method while the table holds them all. */
function define<M extends EngineMethod>(c: Command<M>): Command<EngineMethod> {
  return c as unknown as Command<EngineMethod>;
}

/** inspect and scan, then one subcommand per experiment, from its descriptor. */
export const COMMANDS: { [name: string]: Command<EngineMethod> } = {
  inspect: define({
    method: 'inspect',
    usage: 'inspect MODEL [--json] [--variant NAME]',
    args: (file, flags) => ({ file, variant: stringFlag(flags, 'variant') }),
    text: (r) => inspectText(r),
    json: (r) => inspectJson(r),
  }),
  scan: define({
    method: 'scan',
    usage: 'scan MODEL|FOLDER [--prompt TEXT | --prompt-file F | --ids 1,2,3 | --image IMG] [--top K] [--no-attention] [--variant NAME] [--decoder-ids 0]',
    args: (file, flags) => ({ file, options: { ...common(flags), topK: numberFlag(flags, 'top', { min: 1, max: LIMITS.topK, integer: true }), attention: !flags.has('no-attention'), decoderIds: idsFlag(flags.get('decoder-ids')) } }),
    text: (r) => scanTable(r),
    json: (r) => scanJson(r),
    csv: (r) => scanCsv(r),
  }),
  ...Object.fromEntries(Object.values(EXPERIMENTS).map((e) => [e.cli.name, {
    method: e.method, usage: e.cli.usage, args: e.cli.args, text: e.text, csv: e.csv, json: 'json' in e ? e.json : undefined,
  } as unknown as Command<EngineMethod>])),
};
