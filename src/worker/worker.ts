import { checkAbort, isEngineError, type ErrorCode } from '../engine/base/errors';
import { fileError } from '../engine/base/files';
import { printable } from '../engine/base/text';
import { inspectTarget } from '../engine/model/inspect';
import { resolveTarget, type ModelTarget } from '../engine/model/folder';
import { scanModel } from '../engine/run/scan';
import type { EngineCalls, EngineMethod, ToWorker, WorkerMessage, WorkerRequest } from '../shared/protocol';
import type { SessionSettings } from '../engine/run/session';
import type { ProbeRequest } from '../engine/run/probes';
import type { Progress } from '../engine/model/results';
import type { ExperimentBase } from '../engine/run/experiment';
import { SessionCache } from './sessionCache';
import { exitWithParent } from './parentWatch';
import { RUNNERS } from '../experiments/runners';
import { segmentRemainingMs } from '../engine/run/segments/store';
import { hubHandlers, isHubMethod } from './hub';

/** The engine's process (see EngineClient): inference and statistics never run in the caller's. */
if (!process.send) throw new Error('worker.js must be started by EngineClient (child_process.fork)');
const cache = new SessionCache();
const send = (m: WorkerMessage) => process.send!(m);
// The caller went away (closed, crashed or killed): nothing is left to answer. The watch also
// ends the process in the middle of a native run, which the event cannot.
process.on('disconnect', () => process.exit(0));
exitWithParent();

type Handlers = { [M in EngineMethod]: (args: EngineCalls[M]['args'], ctx: Ctx) => Promise<EngineCalls[M]['result']> };

type Ctx = Pick<ExperimentBase, 'open' | 'onProgress' | 'signal'>;
/** inspect and scan, and each experiment of the registry with the process's sessions, progress and cancellation. */
const experimentHandlers = Object.fromEntries(Object.entries(RUNNERS).map(([method, run]) => [method,
  ({ file, options }: { file: string; options: object }, ctx: Ctx) => (run as (f: string, o: object) => Promise<unknown>)(file, { ...options, ...ctx })]));
const handlers = {
  inspect: async ({ file, variant }: EngineCalls['inspect']['args']) => inspectTarget(resolveTarget(file, variant)),
  scan: ({ file, options }: EngineCalls['scan']['args'], ctx: Ctx) => scanModel(file, { ...options, ...ctx }),
  ...hubHandlers,
  ...experimentHandlers,
} as unknown as Handlers;

function handle(req: WorkerRequest, signal: AbortSignal): Promise<unknown> {
  checkAbort(signal);
  // A folder, or any file of a multi-file export, names the whole export: resolve it once here.
  // (compare resolves each of its models itself; the Hub's calls name a repository, not a file.)
  if (req.method !== 'inspect' && req.method !== 'compare' && !isHubMethod(req.method)) {
    const a = req.args as { file: string; options: { variant?: string; target?: ModelTarget } };
    const target = resolveTarget(a.file, a.options?.variant);
    req = { ...req, args: { ...a, file: target.main, options: { ...a.options, target } } } as WorkerRequest;
  }
  const ctx = {
    open: (f: string, p: ProbeRequest, s: SessionSettings) => cache.get(f, p, s),
    onProgress: (progress: Progress) => send({ kind: 'progress', id: req.id, progress }),
    signal,
  };
  return (handlers[req.method] as (a: unknown, c: typeof ctx) => Promise<unknown>)(req.args, ctx);
}

// One request at a time: ONNX Runtime already uses the cores. Cancellation here is cooperative: the
// experiment stops at the next border between segments of blocks (or model runs); the client kills
// this process only when it does not answer in time.
const running = new Map<number, AbortController>();
let queue = Promise.resolve();
process.on('message', (msg: ToWorker) => {
  if (msg.kind === 'cancel') {
    const c = running.get(msg.id);
    c?.abort();
    if (c) send({ kind: 'stopping', id: msg.id, withinMs: segmentRemainingMs() });
    return;
  }
  const controller = new AbortController();
  running.set(msg.id, controller);
  queue = queue.then(async () => {
    try {
      send({ kind: 'result', id: msg.id, result: await handle(msg, controller.signal) });
    } catch (e) {
      const error = asUserError(e);
      send({ kind: 'error', id: msg.id, error });
    } finally {
      running.delete(msg.id);
    }
  });
});
/**
 * What reaches the user when something other than an EngineError escapes: operating-system and
 * allocation errors have a sentence of their own; only a genuine bug says "Internal error".
 */
function asUserError(e: unknown): { code: ErrorCode; message: string; facts?: Record<string, string | number> } {
  // The template crosses the boundary, so the front end words its options (flags or settings).
  if (isEngineError(e)) return { code: e.code, message: e.template ?? e.message, facts: e.facts };
  const err = e as NodeJS.ErrnoException;
  const path = typeof err?.path === 'string' ? err.path : 'a file the run needs';
  if (typeof err?.code === 'string' && /^E[A-Z]+$/.test(err.code)) {
    const mapped = fileError(e, path, 'file');
    if (isEngineError(mapped)) return { code: mapped.code, message: mapped.template };
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return { code: 'invalid-model', message: 'The model\'s graph is nested or chained too deeply to analyse. It may be corrupt; re-export it.' };
  }
  if (e instanceof RangeError && /array (buffer )?(allocation|length)|Invalid typed array length|Array buffer allocation failed/i.test(e.message)) {
    return { code: 'out-of-memory', message: 'The run needs more memory than can be allocated (a tensor or input declared far too large). Use a shorter input or check the model\'s shapes.' };
  }
  return { code: 'runtime', message: `Internal error: ${printable((e as Error)?.message ?? String(e))}. Please report it with the output of "massive-activations inspect MODEL".` };
}

send({ kind: 'ready' });
