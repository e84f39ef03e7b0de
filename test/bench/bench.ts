/**
 * npm run bench: a full scan against a plain ONNX Runtime forward pass of the same, unmodified
 * model, GPT-2-small sized (12 blocks, width 768), at 128 and 512 tokens. Each measurement runs in
 * its own process so peak RSS is its own; wall time is the median of timed runs after warm-ups.
 * Prints a table of ratios measured in this run and writes bench-results/bench.json; then the
 * extension's activation time in the real extension host (activation.ts, bench-results/activation.json).
 * BENCH_ONLY=corpus or BENCH_ONLY=activation runs that section alone.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeModel } from '../models/graphBuilder';
import { gpt2Model } from '../models/layouts/gpt2';
import { plantedSpec } from '../models/planted';
import { spawnSync } from 'node:child_process';
import { benchIds, machine, measure, measureInChild, type Measurement, type Mode } from './measure';
import { llamaModel } from '../models/layouts/llama';
import { writeGains } from '../models/spec';
import { scanModel } from '../../src/engine/run/scan';
import { compare } from '../../src/experiments/compare/run';
import { liveLatency } from './live';
import { WORKER } from '../fixtures';
import { corpusCost } from './corpus';
import { activationBench, activationBenchAvailable, printActivation, writeActivation } from './activation';

/** Peak resident memory of this process (Linux VmHWM). */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

const RUNS = 5;
const WARMUP = 2;
const VOCAB = 50257;
const cacheDir = path.join(os.tmpdir(), 'massive-activations-bench');
const modelFile = path.join(cacheDir, 'gpt2-small-planted.onnx');

/**
 * A checkpoint series of 6 LLaMA-shaped models (8 blocks, width 384, ~100 MB each, the planted
 * writer growing from 0 to full strength): the engine's peak memory comparing all six must stay at
 * one model's, measured against one scan of one checkpoint.
 */
const seriesDir = path.join(cacheDir, 'series');
const SERIES = 6;

function buildSeries(): string[] {
  const files = Array.from({ length: SERIES }, (_, k) => path.join(seriesDir, `step-${(k + 1) * 1000}`, 'model.onnx'));
  if (files.every((f) => existsSync(f))) return files;
  process.stderr.write('building the checkpoint series (cached in the temp folder)…\n');
  files.forEach((f, k) => {
    const spec = plantedSpec({ arch: 'llama', vocab: 8000, d: 384, layers: 8, heads: 6, kvHeads: 2, ffn: 1536, seed: 4 });
    const p = spec.planted;
    const s = k / (SERIES - 1);
    p.plantGain = [p.plantGain[0] * s, p.plantGain[1] * s];
    writeGains(spec.layer[p.plantBlock], p.plantBlock, p, spec.d);
    mkdirSync(path.dirname(f), { recursive: true });
    writeModel(llamaModel(spec), f);
  });
  return files;
}

async function seriesChild(what: 'one' | 'series', files: string[]): Promise<void> {
  const ids = benchIds(128, 8000);
  const t0 = performance.now();
  if (what === 'one') await scanModel(files[SERIES - 1], { ids });
  else await compare({ files, series: true, ids });
  process.stdout.write(JSON.stringify({ wallMs: performance.now() - t0, peakRssMB: peakRss() }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    const m = await measure(modelFile, process.argv[3] as Mode, Number(process.argv[4]), VOCAB, WARMUP, RUNS);
    process.stdout.write(JSON.stringify(m));
    return;
  }
  if (process.argv[2] === '--series-child') {
    await seriesChild(process.argv[3] as 'one' | 'series', buildSeries());
    return;
  }
  if (process.env.BENCH_ONLY === 'corpus') { printCorpus(corpusCost(cacheDir)); return; }
  if (process.env.BENCH_ONLY === 'activation') { await activation(true); return; }
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
  buildSeries();
  const one = JSON.parse(spawnSync(process.execPath, ['--import', 'tsx', __filename, '--series-child', 'one'], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout) as { wallMs: number; peakRssMB: number };
  const series = JSON.parse(spawnSync(process.execPath, ['--import', 'tsx', __filename, '--series-child', 'series'], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout) as { wallMs: number; peakRssMB: number };
  process.stdout.write(`\nCheckpoint series: ${SERIES} LLaMA-shaped models (8 blocks, width 384, about 100 MB each), 128 tokens, each measurement in its own process\n\n`);
  process.stdout.write('| run | wall (s) | peak RSS (MB) |\n|---|---:|---:|\n');
  process.stdout.write(`| scan of one checkpoint | ${(one.wallMs / 1000).toFixed(1)} | ${one.peakRssMB.toFixed(0)} |\n`);
  process.stdout.write(`| compare over all ${SERIES} | ${(series.wallMs / 1000).toFixed(1)} | ${series.peakRssMB.toFixed(0)} (${(series.peakRssMB / one.peakRssMB).toFixed(2)}× one model's) |\n`);
  // Live re-scan on the same ~124M-parameter model, through the extension's engine process.
  const live = await liveLatency(WORKER, modelFile, VOCAB);
  process.stdout.write(`\nLive re-scan (the panel's: pause ${live.pauseMs} ms, then cancel the running scan and scan the edit), ${live.tokens} tokens, ${live.edits} edits\n\n`);
  process.stdout.write('| from the end of typing to the new result: median (ms) | max (ms) | the scan alone: median (ms) | scans superseded |\n|---:|---:|---:|---:|\n');
  process.stdout.write(`| ${live.medianMs.toFixed(0)} | ${live.maxMs.toFixed(0)} | ${live.scanMedianMs.toFixed(0)} | ${live.supersededRuns} of ${live.edits} |\n`);
  const corpus = corpusCost(cacheDir);
  printCorpus(corpus);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(path.join('bench-results', 'bench.json'), JSON.stringify({ machine: machine(), runs: RUNS, rows, series: { models: SERIES, one, all: series }, live, corpus }, null, 2));
  await activation(false);
}

/**
 * The extension's activation time in the real extension host (activation.ts), written to
 * bench-results/activation.json. Skipped with a note where the VS Code test host is not installed,
 * unless it is the only section asked for.
 */
async function activation(only: boolean): Promise<void> {
  if (!activationBenchAvailable()) {
    const why = 'code-server or Chromium missing (test/vscode/install-host.sh installs them)';
    if (only) throw new Error(why);
    process.stdout.write(`\nActivation time: skipped, ${why}\n`);
    return;
  }
  const r = await activationBench();
  printActivation(r);
  writeActivation(r);
}

function printCorpus(rows: ReturnType<typeof corpusCost>): void {
  process.stdout.write('\nscan-many --text-file F --count 2 --seq-len 64 (the CLI, whole process, median of 3), on the planted GPT-2\n\n');
  process.stdout.write('| text file | wall (ms) | × the 100 KB file\'s | inputs |\n|---:|---:|---:|---:|\n');
  for (const r of rows) {
    const size = r.bytes >= 2 ** 20 ? `${r.bytes / 2 ** 20} MB` : `${r.bytes / 1024} KB`;
    process.stdout.write(`| ${size} | ${r.medianMs.toFixed(0)} | ${(r.medianMs / rows[0].medianMs).toFixed(2)}× | ${r.inputs} |\n`);
  }
}

main().catch((e) => { process.stderr.write(`bench failed: ${(e as Error).message}\n`); process.exitCode = 1; });
