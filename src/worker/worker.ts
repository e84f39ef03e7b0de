import { parentPort } from 'node:worker_threads';
import { isEngineError } from '../engine/errors';
import { prepareModel } from '../engine/inspect';
import { scanModel } from '../engine/scan';
import type { EngineCalls, EngineMethod, WorkerMessage, WorkerRequest } from '../shared/protocol';
import type { SessionSettings, SessionVariant } from '../engine/session';
import type { Progress } from '../engine/types';
import type { ExperimentBase } from '../engine/experiments/common';
import { scanMany } from '../engine/experiments/scanMany';
import { featureMap } from '../engine/experiments/featureMap';
import { intervene } from '../engine/experiments/intervene';
import { analyseAttention } from '../engine/experiments/attention';
import { implicitBias } from '../engine/experiments/implicitBias';
import { superWeights } from '../engine/experiments/superWeights';
import { fixRegMean } from '../engine/experiments/fixRegMean';
import { SessionCache } from './sessionCache';

/** The engine's thread: inference and statistics never run on the caller's thread. */
const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');
const cache = new SessionCache();
const send = (m: WorkerMessage) => port.postMessage(m);

type Handlers = { [M in EngineMethod]: (args: EngineCalls[M]['args'], ctx: Pick<ExperimentBase, 'open' | 'onProgress'>) => Promise<EngineCalls[M]['result']> };

const handlers: Handlers = {
  inspect: async ({ file }) => prepareModel(file).info,
  scan: ({ file, options }, ctx) => scanModel(file, { ...options, ...ctx }),
  scanMany: ({ file, options }, ctx) => scanMany(file, { ...options, ...ctx }),
  featureMap: ({ file, options }, ctx) => featureMap(file, { ...options, ...ctx }),
  intervene: ({ file, options }, ctx) => intervene(file, { ...options, ...ctx }),
  attention: ({ file, options }, ctx) => analyseAttention(file, { ...options, ...ctx }),
  implicitBias: ({ file, options }, ctx) => implicitBias(file, { ...options, ...ctx }),
  superWeights: ({ file, options }, ctx) => superWeights(file, { ...options, ...ctx }),
  fixRegMean: ({ file, options }, ctx) => fixRegMean(file, { ...options, ...ctx }),
};

function handle(req: WorkerRequest): Promise<unknown> {
  const ctx = {
    open: (f: string, v: SessionVariant, s: SessionSettings) => cache.get(f, v, s),
    onProgress: (progress: Progress) => send({ kind: 'progress', id: req.id, progress }),
  };
  return (handlers[req.method] as (a: unknown, c: typeof ctx) => Promise<unknown>)(req.args, ctx);
}

// One request at a time: ONNX Runtime already uses the cores, and cancelling means terminating us.
let queue = Promise.resolve();
port.on('message', (req: WorkerRequest) => {
  queue = queue.then(async () => {
    try {
      send({ kind: 'result', id: req.id, result: await handle(req) });
    } catch (e) {
      const error = isEngineError(e) ? { code: e.code, message: e.message } : { code: 'runtime' as const, message: `Internal error: ${(e as Error)?.message ?? String(e)}` };
      send({ kind: 'error', id: req.id, error });
    }
  });
});
send({ kind: 'ready' });
