/**
 * npm run bench: a full scan against a plain ONNX Runtime forward pass of the same, unmodified
 * model, GPT-2-small sized (12 blocks, width 768), at 128 and 512 tokens. Each measurement runs in
 * its own process so peak RSS is its own; wall time is the median of timed runs after a warm-up.
 * Prints a table of ratios measured in this run and writes bench-results/bench.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeModel } from '../models/graphBuilder';
import { gpt2Model } from '../models/layouts/gpt2';
import { plantedSpec } from '../models/planted';
import { scanModel } from '../../src/engine/scan';
import { openModel } from '../../src/engine/session';

const RUNS = 5;
const WARMUP = 2;
const cacheDir = path.join(os.tmpdir(), 'massive-activations-bench');
const modelFile = path.join(cacheDir, 'gpt2-small-planted.onnx');

function ids(n: number): number[] {
  // BOS, then ordinary tokens with a "." every 16 (the planted delimiter).
  return Array.from({ length: n }, (_, i) => (i === 0 ? 1 : i % 16 === 0 ? 3 : 10 + ((i * 7919) % 2000)));
}

/** VmHWM, not getrusage's maxRSS: the latter survives fork+exec and would report the parent's peak. */
function peakRssMB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

async function child(mode: 'plain' | 'scan', tokens: number): Promise<void> {
  const input = ids(tokens);
  const times: number[] = [];
  let firstResultMs = 0;
  if (mode === 'plain') {
    const s = await ort.InferenceSession.create(modelFile, { graphOptimizationLevel: 'all' });
    const t = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, a.length]);
    const feeds = { input_ids: t(input), attention_mask: t(input.map(() => 1)), position_ids: t(input.map((_, i) => i)) };
    for (let r = 0; r < WARMUP + RUNS; r++) {
      const t0 = performance.now();
      await s.run(feeds);
      if (r >= WARMUP) times.push(performance.now() - t0);
    }
  } else {
    const session = await openModel(modelFile, { attention: true }, {});
    for (let r = 0; r < WARMUP + RUNS; r++) {
      const t0 = performance.now();
      let first = 0;
      const res = await scanModel(modelFile, { ids: input, open: async () => session, onProgress: (p) => { if (p.stage === 'stats' && p.done === 1 && !first) first = performance.now() - t0; } });
      if (process.env.BENCH_DEBUG) process.stderr.write(`${JSON.stringify(res.timing)}\n`);
      if (r >= WARMUP) { times.push(performance.now() - t0); firstResultMs = first; }
    }
  }
  times.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ mode, tokens, wallMs: times[times.length >> 1], firstResultMs, peakRssMB: peakRssMB() }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3] as 'plain' | 'scan', Number(process.argv[4]));
  if (!existsSync(modelFile)) {
    mkdirSync(cacheDir, { recursive: true });
    process.stderr.write('building the GPT-2-small-sized planted model (cached in the temp folder)…\n');
    const spec = plantedSpec({ arch: 'gpt2', vocab: 50257, d: 768, layers: 12, heads: 12, ffn: 3072, maxPos: 1024, seed: 3 });
    writeModel(gpt2Model(spec), modelFile);
  }
  const rows: Record<string, number | string>[] = [];
  for (const tokens of [128, 512]) {
    const m: Record<string, { wallMs: number; peakRssMB: number; firstResultMs: number }> = {};
    for (const mode of ['plain', 'scan']) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--child', mode, String(tokens)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${mode} at ${tokens} tokens failed: ${r.stderr}`);
      m[mode] = JSON.parse(r.stdout);
    }
    rows.push({
      tokens,
      plainMs: +m.plain.wallMs.toFixed(1), scanMs: +m.scan.wallMs.toFixed(1), timeRatio: +(m.scan.wallMs / m.plain.wallMs).toFixed(2),
      firstResultMs: +m.scan.firstResultMs.toFixed(1),
      plainRssMB: +m.plain.peakRssMB.toFixed(0), scanRssMB: +m.scan.peakRssMB.toFixed(0), rssRatio: +(m.scan.peakRssMB / m.plain.peakRssMB).toFixed(2),
    });
  }
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, onnxruntime-node ${ort.env.versions.node}`;
  process.stdout.write(`GPT-2-small-sized planted model (12 blocks, width 768, vocab 50257), ${machine}\n`);
  process.stdout.write(`median of ${RUNS} runs after ${WARMUP} warm-up runs; each row's two measurements in separate processes\n\n`);
  process.stdout.write('| tokens | plain ORT (ms) | full scan (ms) | time ratio | first block shown (ms) | plain peak RSS (MB) | scan peak RSS (MB) | RSS ratio |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n');
  for (const r of rows) process.stdout.write(`| ${r.tokens} | ${r.plainMs} | ${r.scanMs} | ${r.timeRatio}× | ${r.firstResultMs} | ${r.plainRssMB} | ${r.scanRssMB} | ${r.rssRatio}× |\n`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(path.join('bench-results', 'bench.json'), JSON.stringify({ machine, runs: RUNS, rows }, null, 2));
}

main().catch((e) => { process.stderr.write(`bench failed: ${(e as Error).message}\n`); process.exitCode = 1; });
