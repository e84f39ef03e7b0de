/**
 * What both benchmarks measure, each measurement in its own process so peak RSS is its own:
 * a plain ONNX Runtime session on the unmodified model against the engine's full scan.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import { scanModel } from '../../src/engine/run/scan';
import { featureMap } from '../../src/experiments/featureMap/run';
import { engineTunables } from '../../src/worker/client';
import { openModel, toOrtFeeds } from '../../src/engine/run/session';
import { SCAN_PROBES } from '../../src/engine/run/probes';
import { prepareModel } from '../../src/engine/model/inspect';
import { classifyInputs, textFeeds } from '../../src/engine/model/feeds';

/** plain ONNX Runtime; the engine's scan (segmented, the default); the scan as one whole graph. */
export type Mode = 'plain' | 'scan' | 'whole';

export interface Measurement {
  mode: Mode;
  tokens: number;
  /** Session creation (for the scan: reading, patching and opening the graph). */
  loadMs: number;
  /** Median wall time of the timed runs. */
  wallMs: number;
  /** Scan only: from the start of the scan call to the first block's statistics. */
  firstResultMs: number;
  rssAfterLoadMB: number;
  peakRssMB: number;
  /** Scan only: what the last run found (blocks, tokens and channels with massive activations). */
  found?: { blocks: number[]; tokens: number[]; channels: number[]; top: number };
  /** Segmented scan only: a block click on block 3 (feature map) right after the scan, and on a fresh input. */
  blockClick?: { afterScanMs: number; coldMs: number; block: number };
}

/** BOS, then ordinary tokens with a "." every 16 (the planted delimiter). */
export function benchIds(n: number, vocab: number): number[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? 1 : i % 16 === 0 ? 3 : 10 + ((i * 7919) % Math.min(2000, vocab - 10))));
}

function status(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

/** VmHWM, not getrusage's maxRSS: the latter survives fork+exec and would report the parent's peak. */
export const peakRssMB = (): number => status('VmHWM');

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}

/** Runs in the child process: load once, `warmup` untimed runs, `runs` timed runs. */
export async function measure(
  file: string, mode: Mode, tokens: number, vocab: number, warmup: number, runs: number, ids = benchIds(tokens, vocab),
): Promise<Measurement> {
  const input = ids;
  const times: number[] = [];
  const firsts: number[] = [];
  const t0 = performance.now();
  if (mode === 'plain') {
    const s = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all' });
    const loadMs = performance.now() - t0;
    const rssAfterLoadMB = status('VmRSS');
    // The same feeds the engine gives (ids, mask, positions, an empty cache), built outside the timing.
    const feeds = toOrtFeeds(textFeeds(classifyInputs(prepareModel(file).index), input));
    for (let r = 0; r < warmup + runs; r++) {
      const t1 = performance.now();
      await s.run(feeds);
      if (r >= warmup) times.push(performance.now() - t1);
    }
    return { mode, tokens, loadMs, wallMs: median(times), firstResultMs: 0, rssAfterLoadMB, peakRssMB: peakRssMB() };
  }
  const session = await openModel(file, SCAN_PROBES, mode === 'whole' ? { blocksPerSegment: Infinity } : {});
  const loadMs = performance.now() - t0;
  const rssAfterLoadMB = status('VmRSS');
  let found: Measurement['found'];
  for (let r = 0; r < warmup + runs; r++) {
    const t1 = performance.now();
    let first = 0;
    const res = await scanModel(file, { ids: input, maxTokens: tokens, open: async () => session, onProgress: (p) => { if (p.stage === 'stats' && !first) first = performance.now() - t1; } });
    if (r >= warmup) { times.push(performance.now() - t1); firsts.push(first); }
    const blocks = res.layers.filter((l) => l.massive.length).map((l) => l.index);
    found = { blocks, tokens: res.massiveTokens, channels: res.massiveChannels, top: Math.max(...res.layers.map((l) => Math.abs(l.top[0]?.value ?? 0))) };
  }
  const peak = peakRssMB();
  let blockClick: Measurement['blockClick'];
  if (mode === 'scan') {
    // The panel's block click: the feature map of one block on the input just scanned, then on another.
    const block = 3;
    const t2 = performance.now();
    await featureMap(file, { layer: block, ids: input, maxTokens: tokens, open: async () => session });
    const afterScanMs = performance.now() - t2;
    const other = input.map((id, i) => (i && id !== 3 ? 10 + ((id + 1) % 2000) : id));
    const t3 = performance.now();
    await featureMap(file, { layer: block, ids: other, maxTokens: tokens, open: async () => session });
    blockClick = { afterScanMs, coldMs: performance.now() - t3, block };
  }
  return { mode, tokens, loadMs, wallMs: median(times), firstResultMs: median(firsts), rssAfterLoadMB, peakRssMB: peak, found, blockClick };
}

/** Runs one measurement in a fresh process (this file's caller re-entered with `--child`). */
export function measureInChild(script: string, args: string[]): Measurement {
  // The engine's scans run in a process started as the extension and the CLI start it (see engineTunables); plain ONNX Runtime as a user would.
  const engine = args.includes('scan') || args.includes('whole');
  const env = engine ? { ...process.env, GLIBC_TUNABLES: engineTunables(process.env.GLIBC_TUNABLES) } : process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--child', ...args], { encoding: 'utf8', maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Measurement;
}

/** A benchmark's `--name value` option. */
export function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, onnxruntime-node ${ort.env.versions.node}`;
}
