import * as path from 'node:path';
import { fetchModel, listVariants, type DownloadProgress } from '../hub/fetch';
import { hubEnv, type HubEnv } from '../hub/ref';
import type { Progress } from '../engine/model/results';
import { sizePart, sizeText } from '../engine/base/text';
import type { EngineCalls, HubAccess } from '../shared/protocol';

interface Ctx { onProgress: (p: Progress) => void; signal: AbortSignal }

/** The engine process's Hub calls: the caller's endpoint and token over the environment's. */
export const hubHandlers = {
  hubVariants: ({ repo, hub }: EngineCalls['hubVariants']['args'], ctx: Ctx) => listVariants(repo, { env: envWith(hub), signal: ctx.signal }),
  hubFetch: ({ repo, variant, hub }: EngineCalls['hubFetch']['args'], ctx: Ctx) =>
    fetchModel(repo, { variant, env: envWith(hub), signal: ctx.signal, onProgress: downloadProgress(ctx.onProgress) }),
};

export const isHubMethod = (m: string): m is keyof typeof hubHandlers => m in hubHandlers;

function envWith(access: HubAccess): HubEnv {
  const e = hubEnv();
  return { ...e, ...(access.endpoint ? { endpoint: access.endpoint.replace(/\/+$/, '') } : {}), ...(access.token ? { token: access.token } : {}) };
}

/**
 * A download's bytes as progress messages ("model_q4.onnx_data · 12.0 of 80.0 MB · 9.5 MB/s"), at
 * most ten a second; the latest is always sent, even when the bytes stop coming (a stalled link
 * must show where it stalled).
 */
function downloadProgress(send: (p: Progress) => void): (p: DownloadProgress) => void {
  const started = Date.now();
  let firstDone: number | undefined;
  let last = 0;
  let latest: DownloadProgress | undefined;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (!latest) return;
    const p = latest;
    latest = undefined;
    last = Date.now();
    const seconds = (last - started) / 1000;
    const rate = seconds > 0.2 ? ` · ${sizeText((p.allDone - (firstDone ?? 0)) / seconds)}/s` : '';
    send({ stage: 'download', message: `${path.posix.basename(p.file)} · ${sizePart(p.done, p.total)}${rate}`, done: p.allDone, total: p.allTotal });
  };
  return (p) => {
    firstDone ??= p.allDone;
    latest = p;
    const wait = last + 100 - Date.now();
    if (wait <= 0 || p.done >= p.total) {
      clearTimeout(timer);
      flush();
    } else timer ??= setTimeout(flush, wait);
  };
}

