import { parentPort } from 'node:worker_threads';
import { isEngineError } from '../engine/errors';
import { prepareModel } from '../engine/inspect';
import { scanModel } from '../engine/scan';
import type { WorkerMessage, WorkerRequest } from '../shared/protocol';
import { SessionCache } from './sessionCache';

/** The engine's thread: inference and statistics never run on the caller's thread. */
const port = parentPort;
if (!port) throw new Error('worker.js must run in a worker thread');
const cache = new SessionCache();
const send = (m: WorkerMessage) => port.postMessage(m);

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.method) {
    case 'inspect':
      return prepareModel(req.args.file).info;
    case 'scan':
      return scanModel(req.args.file, {
        ...req.args.options,
        open: (f, v, s) => cache.get(f, v, s),
        onProgress: (progress) => send({ kind: 'progress', id: req.id, progress }),
      });
  }
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
