import type { FromWebview, PanelCalls, PanelMethod, PanelState, ToWebview } from '../src/shared/protocol';

interface VsCodeApi { postMessage(m: FromWebview): void; getState(): PanelState | undefined; setState(s: PanelState): void }
declare function acquireVsCodeApi(): VsCodeApi;

/** The webview's side of the typed protocol: requests with ids, replies matched back to them. */
const api = acquireVsCodeApi();
let nextId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

export function call<M extends PanelMethod>(method: M, args: PanelCalls[M]['args']): Promise<PanelCalls[M]['result']> {
  const id = nextId++;
  api.postMessage({ kind: 'request', id, method, args } as FromWebview);
  return new Promise((resolve, reject) => pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
}

export function onHostMessage(handler: (m: Exclude<ToWebview, { kind: 'response' }>) => void): void {
  window.addEventListener('message', (e: MessageEvent<ToWebview>) => {
    const m = e.data;
    if (m.kind === 'response') {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error !== undefined) p.reject(Object.assign(new Error(m.error), { inputError: !!m.inputError, truncateTo: m.truncateTo }));
      else p.resolve(m.result);
      return;
    }
    handler(m);
  });
}

export function ready(): void {
  api.postMessage({ kind: 'ready' });
}

export function saveState(s: PanelState): void {
  api.setState(s);
  api.postMessage({ kind: 'state', state: s });
}

export function savedState(): PanelState | undefined {
  return api.getState();
}
