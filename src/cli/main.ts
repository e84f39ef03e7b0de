import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { EngineError, isEngineError } from '../engine/errors';
import { EngineClient } from '../worker/client';
import { idsFlag, numberFlag, parseArgs } from './args';
import { inspectJson, inspectText, scanJson, scanTable } from './format';

const HELP = `massive-activations — find the massive activations of an ONNX transformer

Usage:
  massive-activations scan MODEL [--prompt TEXT | --ids 1,2,3] [--json] [--top K]
  massive-activations inspect MODEL [--json]

Options:
  --prompt TEXT           text to run (needs tokenizer.json beside the model or one folder up)
  --prompt-file FILE      read the text from FILE ("-" for standard input)
  --ids 1,2,3             token ids to run instead of text
  --json                  print one JSON document
  --top K                 top activations listed per block (default 3)
  --abs-threshold X       |a| must exceed X to be massive (default 100)
  --ratio-threshold R     |a| must be ≥ R × the block's median |a| (default 1000)
  --max-tokens N          longest input accepted (default 2048)
  --threads N             ONNX Runtime intra-op threads (default: all cores)
  --no-attention          skip attention probabilities
  --memory-limit-mb N     refuse scans estimated to need more than N MB
`;

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.flags.has('help') || !args.command) { process.stdout.write(HELP); return args.command || args.flags.has('help') ? 0 : 2; }
  if (args.command !== 'scan' && args.command !== 'inspect') throw new EngineError('bad-argument', `Unknown command "${args.command}". Use "scan" or "inspect".`);
  if (!args.model) throw new EngineError('bad-argument', `Give the model file: massive-activations ${args.command} MODEL.onnx`);
  const json = args.flags.has('json');
  const client = new EngineClient();
  try {
    if (args.command === 'inspect') {
      const info = await client.call('inspect', { file: args.model }).result;
      process.stdout.write(`${json ? JSON.stringify(inspectJson(info), null, 2) : inspectText(info)}\n`);
      return 0;
    }
    const prompt = readPrompt(args.flags);
    if (prompt !== undefined && args.flags.has('ids')) throw new EngineError('bad-argument', 'Give either a prompt or --ids, not both.');
    const abs = numberFlag(args.flags, 'abs-threshold', { min: 0 });
    const ratio = numberFlag(args.flags, 'ratio-threshold', { min: 0 });
    const limitMb = numberFlag(args.flags, 'memory-limit-mb', { min: 1 });
    const call = client.call('scan', {
      file: args.model,
      options: {
        prompt: prompt as string | undefined,
        ids: idsFlag(args.flags.get('ids')),
        topK: numberFlag(args.flags, 'top', { min: 1, integer: true }),
        maxTokens: numberFlag(args.flags, 'max-tokens', { min: 1, integer: true }),
        threads: numberFlag(args.flags, 'threads', { min: 0, integer: true }),
        attention: !args.flags.has('no-attention'),
        thresholds: abs !== undefined || ratio !== undefined ? { absolute: abs ?? 100, ratio: ratio ?? 1000 } : undefined,
        memoryLimitBytes: limitMb !== undefined ? limitMb * 2 ** 20 : undefined,
      },
    }, (p) => { if (!json && process.stderr.isTTY) process.stderr.write(`\r${p.message}…`.padEnd(40)); });
    process.once('SIGINT', () => { void client.cancel(call.id); });
    const result = await call.result;
    if (!json && process.stderr.isTTY) process.stderr.write('\r'.padEnd(41) + '\r');
    process.stdout.write(`${json ? JSON.stringify(scanJson(result), null, 2) : scanTable(result)}\n`);
    return 0;
  } finally {
    await client.dispose();
  }
}

function readPrompt(flags: Map<string, string | true>): string | undefined {
  const file = flags.get('prompt-file');
  if (file === undefined) return flags.get('prompt') as string | undefined;
  if (flags.has('prompt')) throw new EngineError('bad-argument', 'Give either --prompt or --prompt-file, not both.');
  try {
    return readFileSync(file === '-' ? 0 : (file as string), 'utf8');
  } catch (e) {
    throw new EngineError('bad-argument', `Cannot read the prompt file ${file}: ${(e as Error).message}`);
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
  const r = spawnSync(process.execPath, [__filename, ...rest], { input: text, stdio: ['pipe', 'inherit', 'inherit'], maxBuffer: 1 << 30 });
  return r.status ?? 1;
}

const relayed = relayLongPrompt(process.argv.slice(2));
if (relayed !== undefined) process.exitCode = relayed;
else main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => {
    // Users get the message, never a stack trace; unexpected errors say so.
    const msg = isEngineError(e) ? e.message : `Unexpected error: ${(e as Error)?.message ?? String(e)}`;
    process.stderr.write(`massive-activations: ${msg}\n`);
    process.exitCode = isEngineError(e) && e.code === 'cancelled' ? 130 : 1;
  },
);
