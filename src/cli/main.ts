import { spawnSync } from 'node:child_process';
import { EngineError, isCancelled, userMessage, word } from '../engine/base/errors';
import { cliJson, cliWording } from '../shared/cliWording';
import { cores } from '../engine/base/limits';
import { writeFileAtomic } from '../engine/base/outputs';
import { terminalSafe } from '../engine/base/text';
import { EngineClient } from '../worker/client';
import { parseArgs } from './args';
import { COMMANDS, threadsFlag } from './commands';
import { planRun } from './plan';
import { download, DOWNLOAD_USAGE, resolveHubModels } from './hub';
import { report, REPORT_USAGE } from './report';
import { stringFlag } from '../experiments/flags';
import { isHubRef } from '../hub/ref';
import { bindEngine } from './lifetime';
import { exitWithParent } from '../worker/parentWatch';

function help(): string {
  const usage = [...Object.values(COMMANDS).map((c) => c.usage), REPORT_USAGE, DOWNLOAD_USAGE].map((u) => `  massive-activations ${u}`).join('\n');
  return `massive-activations — find and study the massive activations of an ONNX transformer

Usage:
${usage}

Inputs:
  --prompt TEXT           text to run (needs tokenizer.json beside the model or one folder up)
  --prompt-file FILE      read the text from FILE ("-" for standard input)
  --ids 1,2,3             token ids to run instead of text
  --image FILE            PNG or JPEG for vision models (preprocessor_config.json is honoured)
  --replace-invalid-utf8  accept text that is not valid UTF-8 (invalid bytes become U+FFFD)
  --variant NAME          which variant of a model folder (model_fp16.onnx: fp16)
  --decoder-ids 0         an encoder-decoder's decoder input (default: its start token)
  --feed NAME=FILE        the tensor for the model input NAME (.npy, or JSON up to 64 MB;
                          repeatable, one per input); inputs without one get a default: masks
                          ones, positions 0…n−1, others zeros. A fed input_ids is the input itself:
                          give no --prompt or --ids with it

Output:
  --json                  print one JSON document
  --out FILE              also write the JSON document to FILE (never onto the model, its
                          weights, tokenizer, config or an input file)
  --csv FILE              write the result's table as CSV to FILE (same rule)

Settings:
  --top K                 top activations listed per block (default 3, at most 1,000)
  --abs-threshold X       |a| must exceed X to be massive (default 100)
  --ratio-threshold R     |a| must be ≥ R × the block's median |a| (default 1000)
  --max-tokens N          longest input accepted (default 2048, at most 131,072)
  --truncate              run the first --max-tokens tokens of a longer input (and say so)
  --threads N             ONNX Runtime intra-op threads (default and at most: all cores)
  --whole-graph           run the model as one graph, not block by block: near plain ONNX Runtime
                          speed on long inputs, but results only at the end and more memory
  --count N, --seq-len N  inputs per run (at most 10,000), tokens per sequence (at most 131,072)
  --memory-limit-mb N     refuse runs estimated to need more than N MB
`;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.flags.has('help') || !args.command) { process.stdout.write(help()); return args.command || args.flags.has('help') ? 0 : 2; }
  if (args.command === 'download') {
    if (!isHubRef(args.model)) throw new EngineError('bad-argument', `Give the model to download: massive-activations ${DOWNLOAD_USAGE}`);
    const out = stringFlag(args.flags, 'out');
    const d = await download(args.model, args.flags);
    if (out) writeFileAtomic(out, `${d.json}\n`, 'JSON output file');
    process.stdout.write(`${args.flags.has('json') ? d.json : d.text}\n`);
    return 0;
  }
  // Every command takes hf://OWNER/NAME[@REVISION] for a model: fetched first, then run as its cached folder.
  const local = await resolveHubModels(args);
  if (args.command === 'report') {
    if (!local.model) throw new EngineError('bad-argument', `Give the model to report on: massive-activations ${REPORT_USAGE}`);
    const client = new EngineClient();
    bindEngine(client);
    try {
      const r = await report(local.model, args.flags, client);
      process.stdout.write(args.flags.has('json') ? `${JSON.stringify({ folder: r.dir, files: r.files }, null, 2)}\n` : `${terminalSafe(r.files[0])}\n`);
      return 0;
    } finally {
      await client.dispose();
    }
  }
  const { command, callArgs, json, out, csvFile, unused } = planRun({ ...local, command: args.command });
  // An option the command never read would otherwise change nothing without a word (scan-many --feed).
  for (const u of unused) process.stderr.write(`massive-activations: note: --${u} is not used by ${args.command} as given; it was ignored.\n`);
  const threads = threadsFlag(args.flags);
  if (threads && threads > cores()) process.stderr.write(`massive-activations: note: --threads ${threads} is more than this machine's ${cores()} cores; using ${cores()}.\n`);
  const client = new EngineClient();
  bindEngine(client);
  try {
    const call = client.call(command.method, callArgs as never, (p) => {
      if (!json && process.stderr.isTTY) process.stderr.write(`\r${terminalSafe(p.message)}…`.padEnd(50));
    });
    const result = await call.result;
    if (!json && process.stderr.isTTY) process.stderr.write('\r'.padEnd(51) + '\r');
    const doc = command.json ? command.json(result) : result;
    // Warnings carry the engine's option marks: worded as flags, like error messages (and as a report's results/ are).
    const jsonText = cliJson(doc);
    if (out) writeFileAtomic(out, `${jsonText}\n`, 'JSON output file');
    if (csvFile) writeFileAtomic(csvFile, command.csv!(result), 'CSV output file');
    // Model-controlled strings (names, token texts) must not reach the terminal as control sequences.
    process.stdout.write(`${json ? jsonText : terminalSafe(word(command.text(result), cliWording))}\n`);
    return 0;
  } finally {
    await client.dispose();
  }
}

/**
 * onnxruntime-node 1.30 crashes (SIGSEGV) when it loads in a process whose command line is over
 * ~16-32 KB, so a long --prompt is moved to standard input of a fresh process before any model loads.
 */
const ARGV_LIMIT = 8 * 1024;
function relayLongPrompt(argv: string[]): number | undefined {
  const i = argv.findIndex((a) => a === '--prompt' || a.startsWith('--prompt='));
  if (i < 0 || argv.join(' ').length <= ARGV_LIMIT) return undefined;
  const inline = argv[i].startsWith('--prompt=');
  const text = inline ? argv[i].slice('--prompt='.length) : argv[i + 1] ?? '';
  const rest = [...argv.slice(0, i), ...argv.slice(i + (inline ? 1 : 2)), '--prompt-file', '-'];
  const r = spawnSync(process.execPath, [__filename, ...rest], {
    input: text, stdio: ['pipe', 'inherit', 'inherit'], maxBuffer: 1 << 30, env: { ...process.env, [RELAYED]: '1' },
  });
  return r.status ?? 1;
}

const RELAYED = 'MASSIVE_ACTIVATIONS_RELAYED';
// This process blocks in spawnSync while the relayed one runs, so it cannot pass a signal on: the
// relayed command ends itself (and so its engine) when this one is gone.
if (process.env[RELAYED]) exitWithParent();
const relayed = process.env[RELAYED] ? undefined : relayLongPrompt(process.argv.slice(2));
if (relayed !== undefined) process.exitCode = relayed;
else main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    // Users get the message, never a stack trace; unexpected errors say so.
    const msg = userMessage(e, cliWording);
    process.stderr.write(`massive-activations: ${terminalSafe(msg.replace(/\n/g, ' '))}\n`);
    process.exitCode = isCancelled(e) ? 130 : 1;
  },
);
