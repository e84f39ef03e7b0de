/**
 * Live re-scan latency, as the panel does it: the engine process (EngineClient, the extension's
 * worker), a 64-token input edited while the previous scan may still run; after the pause the
 * panel cancels that scan and scans the new input. Latency = from the moment typing stops to the
 * new scan's result (the pause included).
 */
import { EngineClient } from '../../src/worker/client';
import { LIVE_PAUSE_MS } from '../../src/shared/live';
import { benchIds } from './measure';

export interface LiveLatency { tokens: number; edits: number; pauseMs: number; medianMs: number; maxMs: number; scanMedianMs: number; supersededRuns: number }

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function liveLatency(worker: string, file: string, vocab: number, tokens = 64, edits = 8): Promise<LiveLatency> {
  const client = new EngineClient(worker);
  const idsFor = (k: number) => benchIds(tokens, vocab).map((id, i) => (i === tokens - 1 ? 100 + k : id));
  // The panel has scanned once before the user edits: sessions are open.
  await client.call('scan', { file, options: { ids: idsFor(0) } }).result;
  const latencies: number[] = [], scans: number[] = [];
  let superseded = 0;
  for (let k = 1; k <= edits; k++) {
    // A scan of the text as it was at the previous pause is still running when typing resumes…
    const previous = client.call('scan', { file, options: { ids: idsFor(100 + k) } });
    const settled = previous.result.then(() => 'done', () => 'cancelled');
    await sleep(20);
    // …typing stops now; the panel waits for the pause, then supersedes the running scan.
    const stopped = performance.now();
    await sleep(LIVE_PAUSE_MS);
    if (await Promise.race([settled, sleep(0).then(() => 'running')]) === 'running') {
      await client.cancel(previous.id);
      superseded++;
    }
    await settled;
    const t = performance.now();
    await client.call('scan', { file, options: { ids: idsFor(k) } }).result;
    scans.push(performance.now() - t);
    latencies.push(performance.now() - stopped);
  }
  await client.dispose();
  return {
    tokens, edits, pauseMs: LIVE_PAUSE_MS, medianMs: median(latencies), maxMs: Math.max(...latencies),
    scanMedianMs: median(scans), supersededRuns: superseded,
  };
}
