/**
 * npm run bench:paper: the paper's scale. A LLaMA-2-7B-shaped planted model (32 blocks, width
 * 4096, FFN 11008, 32 heads, vocab 32000) with 4-bit MatMulNBits projections, written once by the
 * project's streaming builder into the temp folder (about 5 GB; tens of minutes to write), massive
 * activations planted in channels 1415 and 2533 on the first token and the first "." from block 1
 * on, removed by the last block. For 512 and 4096 tokens, each cell in its own process: plain ONNX
 * Runtime on the unmodified model against the engine's scan (segmented, as the extension runs it):
 * load time, wall time, time to the first block's statistics, a block click, peak RSS, whether the
 * planted pattern was found. Prints a table; writes bench-results/paper.json.
 *
 * Options: --tokens 512,4096  --modes plain,scan,whole (whole: the same scan as one graph, --whole-graph)
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildScaleLlama, LLAMA2_7B_CHANNELS, LLAMA2_7B_SHAPE, scaleSpec } from '../models/build';
import { machine, measure, measureInChild, type Measurement, type Mode, option } from './measure';

const shape = LLAMA2_7B_SHAPE;
const cacheDir = path.join(os.tmpdir(), 'massive-activations-paper');
const dir = path.join(cacheDir, 'llama2-7b-planted-q4');
const modelFile = path.join(dir, 'model.onnx');
const complete = path.join(dir, '.complete');
/** Where the first "." sits: the paper's second massive-activation token. */
export const FIRST_DELIMITER = 12;

/** BOS, ordinary tokens, one "." (id 3) at FIRST_DELIMITER and none after: the paper's pattern. */
export function paperIds(n: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? 1 : i === FIRST_DELIMITER ? 3 : 10 + ((i * 7919) % 2000)));
}


function build(): void {
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write('calibrating the planted 7B spec with the float64 reference pass (once; ~10 minutes)…\n');
  const t0 = performance.now();
  const spec = scaleSpec(shape, 5, LLAMA2_7B_CHANNELS);
  process.stderr.write(`writing the 4-bit model to ${dir} (cached between runs)…\n`);
  buildScaleLlama(cacheDir, path.basename(dir), spec, 'q4');
  writeFileSync(complete, JSON.stringify({ buildS: (performance.now() - t0) / 1000 }));
}

function ensureModel(): { buildS: number; graphKB: number; dataMB: number } {
  if (!existsSync(complete)) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', __filename, '--build'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building the 7B model failed');
  }
  return {
    buildS: Math.round((JSON.parse(readFileSync(complete, 'utf8')) as { buildS: number }).buildS),
    graphKB: Math.round(statSync(modelFile).size / 1024),
    dataMB: Math.round(statSync(path.join(dir, 'model.onnx_data')).size / 2 ** 20),
  };
}

async function main(): Promise<void> {
  if (process.argv[2] === '--build') return build();
  if (process.argv[2] === '--child') {
    const [, , , mode, tokens] = process.argv;
    const n = Number(tokens);
    // One timed run, after one warm-up at 512 tokens; at 4096 (a pass of many minutes) the first after loading.
    const m = await measure(modelFile, mode as Mode, n, shape.vocab, n <= 512 ? 1 : 0, 1, paperIds(n));
    process.stdout.write(`${JSON.stringify(m)}\n`);
    return;
  }
  const file = ensureModel();
  const lengths = option('tokens', '512,4096').split(',').map(Number);
  const modes = option('modes', 'plain,scan,whole').split(',') as Mode[];
  const rows: { tokens: number; cells: Partial<Record<Mode, Measurement | { error: string }>> }[] = [];
  for (const tokens of lengths) {
    const cells: Partial<Record<Mode, Measurement | { error: string }>> = {};
    for (const mode of modes) {
      process.stderr.write(`${mode} ${tokens} tokens…\n`);
      try { cells[mode] = measureInChild(__filename, [mode, String(tokens)]); } catch (e) { cells[mode] = { error: (e as Error).message }; }
      process.stderr.write(`  ${JSON.stringify(cells[mode])}\n`);
    }
    rows.push({ tokens, cells });
  }
  const expected = { blocks: Array.from({ length: shape.layers - 2 }, (_, i) => i + 1), tokens: [0, FIRST_DELIMITER], channels: [...LLAMA2_7B_CHANNELS] };
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const gb = (mb: number) => (mb / 1024).toFixed(2);
  const ok = (m: Measurement | { error: string } | undefined): m is Measurement => !!m && !('error' in m);
  process.stdout.write(`\nLLaMA-2-7B-shaped planted model, 4-bit MatMulNBits (${shape.layers} blocks, width ${shape.d}, FFN ${shape.ffn}, ${shape.heads} heads, vocab ${shape.vocab}; ${(file.dataMB / 1024).toFixed(1)} GB of weights), ${machine()}\n\n`);
  process.stdout.write('| tokens | plain load (s) | scan load (s) | plain (s) | scan (s) | time ratio | first block shown (s) | block-3 click after the scan / on a new input (s) | plain peak RSS (GB) | scan peak RSS (GB) | RSS ratio | whole-graph scan: time, RSS ratios | planted pattern found |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n');
  const table = rows.map(({ tokens, cells }) => {
    const { plain, scan, whole } = cells;
    const found = ok(scan) && scan.found
      ? JSON.stringify([scan.found.blocks, scan.found.tokens, scan.found.channels]) === JSON.stringify([expected.blocks, expected.tokens, expected.channels])
      : false;
    const err = [plain, scan].filter((c) => c && 'error' in c).map((c) => (c as { error: string }).error).join('; ');
    const line = `| ${tokens} | ${ok(plain) ? s(plain.loadMs) : '—'} | ${ok(scan) ? s(scan.loadMs) : '—'} | ${ok(plain) ? s(plain.wallMs) : 'failed'} | ${ok(scan) ? s(scan.wallMs) : 'failed'} | ${ok(plain) && ok(scan) ? `${(scan.wallMs / plain.wallMs).toFixed(2)}×` : '—'} | ${ok(scan) ? s(scan.firstResultMs) : '—'} | ${ok(scan) && scan.blockClick ? `${s(scan.blockClick.afterScanMs)} / ${s(scan.blockClick.coldMs)}` : '—'} | ${ok(plain) ? gb(plain.peakRssMB) : '—'} | ${ok(scan) ? gb(scan.peakRssMB) : '—'} | ${ok(plain) && ok(scan) ? `${(scan.peakRssMB / plain.peakRssMB).toFixed(2)}×` : '—'} | ${ok(whole) && ok(plain) ? `${(whole.wallMs / plain.wallMs).toFixed(2)}×, ${(whole.peakRssMB / plain.peakRssMB).toFixed(2)}× (${s(whole.wallMs)} s, ${gb(whole.peakRssMB)} GB)` : '—'} | ${ok(scan) ? (found ? `yes (tokens 0 and ${FIRST_DELIMITER} × ch ${LLAMA2_7B_CHANNELS.join(', ')}, blocks 1–${shape.layers - 2})` : `NO: ${JSON.stringify(scan.found)}`) : err} |`;
    process.stdout.write(`${line}\n`);
    return { tokens, ...cells, found };
  });
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(path.join('bench-results', 'paper.json'), JSON.stringify({ machine: machine(), shape, file, rows: table }, null, 2));
}

if (require.main === module) main().catch((e) => { process.stderr.write(`bench:paper failed: ${(e as Error).message}\n`); process.exitCode = 1; });
