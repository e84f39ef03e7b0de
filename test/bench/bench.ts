/**
 * npm run bench: a full scan against a plain ONNX Runtime forward pass of the same, unmodified
 * model, GPT-2-small sized (12 blocks, width 768), at 128 and 512 tokens. Each measurement runs in
 * its own process so peak RSS is its own; wall time is the median of timed runs after warm-ups.
 * Prints a table of ratios measured in this run and writes bench-results/bench.json.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeModel } from '../models/graphBuilder';
import { gpt2Model } from '../models/layouts/gpt2';
import { plantedSpec } from '../models/planted';
import { machine, measure, measureInChild, type Measurement, type Mode } from './measure';

const RUNS = 5;
const WARMUP = 2;
const VOCAB = 50257;
const cacheDir = path.join(os.tmpdir(), 'massive-activations-bench');
const modelFile = path.join(cacheDir, 'gpt2-small-planted.onnx');

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    const m = await measure(modelFile, process.argv[3] as Mode, Number(process.argv[4]), VOCAB, WARMUP, RUNS);
    process.stdout.write(JSON.stringify(m));
    return;
  }
  if (!existsSync(modelFile)) {
    mkdirSync(cacheDir, { recursive: true });
    process.stderr.write('building the GPT-2-small-sized planted model (cached in the temp folder)…\n');
    const spec = plantedSpec({ arch: 'gpt2', vocab: VOCAB, d: 768, layers: 12, heads: 12, ffn: 3072, maxPos: 1024, seed: 3 });
    writeModel(gpt2Model(spec), modelFile);
  }
  const rows: Record<string, number>[] = [];
  for (const tokens of [128, 512]) {
    const m: Partial<Record<Mode, Measurement>> = {};
    for (const mode of ['plain', 'scan'] as const) m[mode] = measureInChild(__filename, [mode, String(tokens)]);
    const { plain, scan } = m as Record<Mode, Measurement>;
    rows.push({
      tokens,
      plainMs: +plain.wallMs.toFixed(1), scanMs: +scan.wallMs.toFixed(1), timeRatio: +(scan.wallMs / plain.wallMs).toFixed(2),
      firstResultMs: +scan.firstResultMs.toFixed(1),
      plainRssMB: +plain.peakRssMB.toFixed(0), scanRssMB: +scan.peakRssMB.toFixed(0), rssRatio: +(scan.peakRssMB / plain.peakRssMB).toFixed(2),
    });
  }
  process.stdout.write(`GPT-2-small-sized planted model (12 blocks, width 768, vocab ${VOCAB}), ${machine()}\n`);
  process.stdout.write(`median of ${RUNS} runs after ${WARMUP} warm-up runs; each row's two measurements in separate processes\n\n`);
  process.stdout.write('| tokens | plain ORT (ms) | full scan (ms) | time ratio | first block shown (ms) | plain peak RSS (MB) | scan peak RSS (MB) | RSS ratio |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n');
  for (const r of rows) process.stdout.write(`| ${r.tokens} | ${r.plainMs} | ${r.scanMs} | ${r.timeRatio}× | ${r.firstResultMs} | ${r.plainRssMB} | ${r.scanRssMB} | ${r.rssRatio}× |\n`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(path.join('bench-results', 'bench.json'), JSON.stringify({ machine: machine(), runs: RUNS, rows }, null, 2));
}

main().catch((e) => { process.stderr.write(`bench failed: ${(e as Error).message}\n`); process.exitCode = 1; });
