/**
 * npm run bench:scale: a TinyLlama-1.1B-shaped planted model (22 blocks, width 2048, FFN 5632,
 * 32 heads / 4 key-value heads, vocab 32000), written by the project's streaming builder with its
 * weights in external data (fp32 4.4 GB; also fp16 and 4-bit MatMulNBits), cached in the temp
 * folder. For each format and prompt length: plain ONNX Runtime on the unmodified model against a
 * full scan (every block's statistics and attention share), each in its own process: load time,
 * wall time, time to the first block's result, RSS after load and peak RSS. Also checks that the
 * scan found exactly the planted blocks, tokens and channels. Prints a table; writes
 * bench-results/scale.json.
 *
 * Options: --formats fp32,fp16,q4  --tokens 128,512,2048 (the defaults: about 15 minutes on 2 cores)
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildScaleLlama, scaleSpec, TINYLLAMA_SHAPE, type WeightFormat } from '../models/build';
import { benchIds, machine, measure, measureInChild, type Measurement, type Mode, option } from './measure';

const cacheDir = path.join(os.tmpdir(), 'massive-activations-scale');
const shape = TINYLLAMA_SHAPE;
const modelFile = (f: WeightFormat) => path.join(cacheDir, `tinyllama-planted-${f}`, 'model.onnx');
const complete = (f: WeightFormat) => path.join(cacheDir, `tinyllama-planted-${f}`, '.complete');

/** Fewer timed runs as prompts get long: a 2048-token pass of the 1.1B model takes ~17 s on 2 cores. */
function schedule(tokens: number): { warmup: number; runs: number } {
  return tokens <= 512 ? { warmup: 1, runs: 4 } : { warmup: 1, runs: 1 };
}


/** Builds the missing formats in a child process, so the measuring process stays small. */
function ensureModels(formats: WeightFormat[]): Record<string, { buildS: number; graphKB: number; dataMB: number }> {
  const missing = formats.filter((f) => !existsSync(complete(f)));
  if (missing.length) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--build', missing.join(',')], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building the scale models failed');
  }
  return Object.fromEntries(formats.map((f) => [f, {
    buildS: +(JSON.parse(readFileSync(complete(f), 'utf8')) as { buildS: number }).buildS.toFixed(0),
    graphKB: Math.round(statSync(modelFile(f)).size / 1024),
    dataMB: Math.round(statSync(path.join(path.dirname(modelFile(f)), 'model.onnx_data')).size / 2 ** 20),
  }]));
}

function build(formats: WeightFormat[]): void {
  process.stderr.write('calibrating the planted 1.1B spec with the float64 reference pass (once)…\n');
  const spec = scaleSpec(shape);
  for (const f of formats) {
    const dir = path.dirname(modelFile(f));
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`writing the ${f} model to ${dir} (cached between runs)…\n`);
    const t0 = performance.now();
    buildScaleLlama(cacheDir, path.basename(dir), spec, f);
    writeFileSync(complete(f), JSON.stringify({ buildS: (performance.now() - t0) / 1000 }));
  }
}

/** The planted pattern at this length: blocks 1…L−2, BOS and every "." (each 16th token), channels 7 and 42. */
function plantedAt(tokens: number): { blocks: number[]; tokens: number[]; channels: number[] } {
  const ids = benchIds(tokens, shape.vocab);
  return {
    blocks: Array.from({ length: shape.layers - 2 }, (_, i) => i + 1),
    tokens: ids.flatMap((id, i) => (id === 1 || id === 3 ? [i] : [])),
    channels: [7, 42],
  };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--build') return build(process.argv[3].split(',') as WeightFormat[]);
  if (process.argv[2] === '--child') {
    const [, , , format, mode, tokens] = process.argv;
    const { warmup, runs } = schedule(Number(tokens));
    const m = await measure(modelFile(format as WeightFormat), mode as Mode, Number(tokens), shape.vocab, warmup, runs);
    process.stdout.write(`${JSON.stringify(m)}\n`);
    return;
  }
  const formats = option('formats', 'fp32,fp16,q4').split(',') as WeightFormat[];
  const files = ensureModels(formats);
  const rows: Record<string, unknown>[] = [];
  for (const format of formats) {
    const lengths = option('tokens', '128,512,2048').split(',').map(Number);
    for (const tokens of lengths) {
      const m: Partial<Record<Mode, Measurement | { error: string }>> = {};
      for (const mode of ['plain', 'scan', 'whole'] as const) {
        process.stderr.write(`${format} ${mode} ${tokens} tokens…\n`);
        try { m[mode] = measureInChild(__filename, [format, mode, String(tokens)]); } catch (e) { m[mode] = { error: (e as Error).message }; }
      }
      const { plain, scan, whole } = m as Record<Mode, Measurement & { error?: string }>;
      const expected = plantedAt(tokens);
      const exact = !!scan.found && JSON.stringify([scan.found.blocks, scan.found.tokens, scan.found.channels])
        === JSON.stringify([expected.blocks, expected.tokens, expected.channels]);
      rows.push({
        format, tokens, plain, scan, exact,
        timeRatio: plain.error || scan.error ? null : +(scan.wallMs / plain.wallMs).toFixed(2),
        rssRatio: plain.error || scan.error ? null : +(scan.peakRssMB / plain.peakRssMB).toFixed(2),
        whole, segmentCost: scan.error || whole.error ? null : +(scan.wallMs / whole.wallMs).toFixed(2),
      });
      process.stderr.write(`  ${JSON.stringify({ plain, scan, exact })}\n`);
    }
  }
  process.stdout.write(`\nTinyLlama-1.1B-shaped planted model (${shape.layers} blocks, width ${shape.d}, FFN ${shape.ffn}, ${shape.heads}/${shape.kvHeads} heads, vocab ${shape.vocab}), ${machine()}\n`);
  process.stdout.write('each cell its own process; wall time is the median of the timed runs after one warm-up (4 runs up to 512 tokens, 1 at 2048)\n\n');
  process.stdout.write('| format | tokens | plain load (s) | scan load (s) | plain (s) | full scan (s) | time ratio | whole-graph scan (s) | segmented ÷ whole | first block shown (s) | block-3 click after the scan / on a new input (s) | plain peak RSS (GB) | scan peak RSS (GB) | RSS ratio | planted pattern found |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n');
  for (const r of rows) tableRow(r);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(path.join('bench-results', 'scale.json'), JSON.stringify({ machine: machine(), shape, files, rows }, null, 2));
}

function tableRow(r: Record<string, unknown>): void {
  const plain = r.plain as Measurement & { error?: string };
  const scan = r.scan as Measurement & { error?: string };
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const gb = (mb: number) => (mb / 1024).toFixed(2);
  if (plain.error || scan.error) {
    process.stdout.write(`| ${r.format} | ${r.tokens} | ${plain.error ?? ''} ${scan.error ?? ''} |||||||||| \n`);
    return;
  }
  const found = r.exact ? `yes (${scan.found!.tokens.length} tokens × ch ${scan.found!.channels.join(', ')}, blocks ${scan.found!.blocks[0]}–${scan.found!.blocks.at(-1)})` : `NO: ${JSON.stringify(scan.found)}`;
  const whole = r.whole as Measurement & { error?: string };
  const click = scan.blockClick ? `${s(scan.blockClick.afterScanMs)} / ${s(scan.blockClick.coldMs)}` : '—';
  process.stdout.write(`| ${r.format} | ${r.tokens} | ${s(plain.loadMs)} | ${s(scan.loadMs)} | ${s(plain.wallMs)} | ${s(scan.wallMs)} | ${r.timeRatio}× | ${whole.error ? 'failed' : s(whole.wallMs)} | ${r.segmentCost ?? '—'}× | ${s(scan.firstResultMs)} | ${click} | ${gb(plain.peakRssMB)} | ${gb(scan.peakRssMB)} | ${r.rssRatio}× | ${found} |\n`);
}

main().catch((e) => { process.stderr.write(`bench:scale failed: ${(e as Error).message}\n`); process.exitCode = 1; });
