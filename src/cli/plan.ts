import { EngineError } from '../engine/base/errors';
import { checkOutputs } from '../engine/base/outputs';
import { printable } from '../engine/base/text';
import type { EngineMethod } from '../shared/protocol';
import type { CliArgs } from './args';
import { stringFlag } from '../experiments/flags';
import { COMMANDS, type Command } from './commands';
import { filesRead } from './reads';

/** One command line made into an engine call, with its outputs checked: nothing has run yet. */
export interface Plan {
  name: string;
  command: Command<EngineMethod>;
  callArgs: unknown;
  json: boolean;
  out?: string;
  csvFile?: string;
  /** Options given that this command never read: said, not silently dropped. */
  unused: string[];
}

/** Read by main.ts itself, or by every command's run: never unused. */
const ALWAYS_READ = new Set(['json', 'out', 'csv', 'help', 'threads', 'replace-invalid-utf8']);

/** The flags, noting each one a command reads (get or has), so that options it ignores can be named. */
class ReadFlags extends Map<string, string | true> {
  readonly read = new Set<string>();
  override get(name: string) { this.read.add(name); return super.get(name); }
  override has(name: string) { this.read.add(name); return super.has(name); }
}

export function planRun(args: CliArgs & { command: string }): Plan {
  const command = COMMANDS[args.command];
  if (!command) throw new EngineError('bad-argument', `Unknown command "${printable(args.command)}". Commands: ${Object.keys(COMMANDS).join(', ')}.`);
  // compare --list F names its models in the list: no model comes first.
  const listed = args.command === 'compare' && args.flags.has('list');
  if (!args.model && !listed) throw new EngineError('bad-argument', `Give the model file (or its folder): massive-activations ${args.command} MODEL.onnx`);
  const out = stringFlag(args.flags, 'out');
  const csvFile = stringFlag(args.flags, 'csv');
  if (csvFile && !command.csv) throw new EngineError('bad-argument', `${args.command} has no table to write as CSV.`);
  const flags = new ReadFlags(args.flags);
  const callArgs = command.args(args.model ?? '', flags, args.rest);
  const unused = [...args.flags.keys()].filter((k) => !flags.read.has(k) && !ALWAYS_READ.has(k));
  // Refused before anything runs: an output must not replace any file the run reads.
  const targets = [...(out ? [['--out', out] as [string, string]] : []), ...(csvFile ? [['--csv', csvFile] as [string, string]] : [])];
  if (targets.length) checkOutputs(targets, filesRead(callArgs as { file: string }, args.flags));
  return { name: args.command, command, callArgs, json: args.flags.has('json'), out, csvFile, unused };
}
