import * as path from 'node:path';
import * as vscode from 'vscode';
import { filesNamedBy, type Protected } from '../engine/base/outputs';
import { printable } from '../engine/base/text';
import { cancelled, isCancelled, isEngineError, userMessage } from '../engine/base/errors';
import { vscodeWording } from './wording';
import type { Progress } from '../engine/model/results';
import type { EngineCalls, EngineMethod } from '../shared/protocol';
import { EngineClient } from '../worker/client';
import { feedsFor, settings } from './settings';

/**
 * quiet: no progress shown; statusBar: in the status bar only (the panel shows it, or it is a
 * quick question to the Hub); otherwise a cancellable notification. `ticket`: cancels this call only (see cancelTicket), queued or running.
 */
export interface RunOptions { quiet?: boolean; statusBar?: boolean; onProgress?: (p: Progress) => void; ticket?: Ticket }

/** A handle on one call, to cancel that call and no other. */
export interface Ticket { cancelled?: boolean }

/**
 * The extension's one engine: every inference runs in the engine process, one at a time, with a
 * VS Code progress notification whose Cancel (or the Cancel command) stops it (see EngineClient).
 */
export class Engine implements vscode.Disposable {
  private readonly client: EngineClient;
  private current: { id: number; title: string; ticket?: Ticket } | undefined;
  /** Calls run one after another (the worker is single-file anyway); this is the tail of the line. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly busyEmitter = new vscode.EventEmitter<string | null>();
  private readonly progressEmitter = new vscode.EventEmitter<{ title: string; progress: Progress }>();
  private readonly named = new Map<string, Map<string, Protected>>();
  readonly onBusy = this.busyEmitter.event;
  /** Every call's progress as it arrives (what the notification shows). */
  readonly onProgress = this.progressEmitter.event;

  constructor(workerPath: string, readonly log: vscode.LogOutputChannel) {
    this.client = new EngineClient(workerPath);
  }

  get busy(): boolean {
    return !!this.current;
  }

  /**
   * The files each model's runs have read besides the model (images, feed tensors, corpus files,
   * the other models of a compare): a save from its panel must never replace one of them.
   */
  inputsOf(model: string): Protected[] {
    return [...(this.named.get(path.resolve(model))?.values() ?? [])];
  }

  private remember(call: { file?: string; options?: object }): void {
    if (!call.file) return; // the Hub's calls name a repository, not a file
    const { models, inputs } = filesNamedBy(call as { file: string });
    const key = path.resolve(call.file);
    const known = this.named.get(key) ?? new Map<string, Protected>();
    for (const p of [...models.slice(1).map((file) => ({ file, what: 'model compared' })), ...inputs]) known.set(path.resolve(p.file), p);
    this.named.set(key, known);
  }

  /** Runs a call with progress in the notification area (or quietly with `quiet`). */
  run<M extends EngineMethod>(title: string, method: M, args: EngineCalls[M]['args'], opts: RunOptions = {}): Promise<EngineCalls[M]['result']> {
    const next = this.queue.then(() => this.runNow(title, method, args, opts));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow<M extends EngineMethod>(title: string, method: M, args: EngineCalls[M]['args'], opts: RunOptions): Promise<EngineCalls[M]['result']> {
    const started = Date.now();
    // Cancelled while it waited in the queue: never started.
    if (opts.ticket?.cancelled) throw cancelled();
    const completed = asSent(args);
    this.remember(completed as { file?: string; options?: object });
    this.log.info(`${title}: ${method} ${JSON.stringify(completed).slice(0, 300)}`);
    const exec = async (report?: (p: Progress) => void, token?: vscode.CancellationToken) => {
      const call = this.client.call(method, completed, (p) => { report?.(p); opts.onProgress?.(p); this.progressEmitter.fire({ title, progress: p }); });
      this.current = { id: call.id, title, ticket: opts.ticket };
      void vscode.commands.executeCommand('setContext', 'massiveActivations.busy', true);
      this.busyEmitter.fire(title);
      token?.onCancellationRequested(() => { void this.cancel(); });
      try {
        const result = await call.result;
        this.log.info(`${title}: done in ${Date.now() - started} ms`);
        return result;
      } catch (e) {
        if (isCancelled(e)) this.log.info(`${title}: cancelled`);
        else this.log.error(`${title}: ${(e as Error).message}`);
        throw e;
      } finally {
        this.current = undefined;
        void vscode.commands.executeCommand('setContext', 'massiveActivations.busy', false);
        this.busyEmitter.fire(null);
      }
    };
    if (opts.quiet) return exec();
    // A run the panel shows (status line, Cancel button) needs no notification: the status bar says it.
    return vscode.window.withProgress(
      { location: opts.statusBar ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification, title, cancellable: true },
      (progress, token) => {
        // A download's bar fills with its bytes (VS Code takes increments, in percent).
        let shown = 0;
        return exec((p) => {
          const at = p.stage === 'download' && p.total ? Math.min(100, (100 * (p.done ?? 0)) / p.total) : shown;
          progress.report({ message: p.message, ...(at > shown ? { increment: at - shown } : {}) });
          shown = Math.max(shown, at);
        }, token);
      },
    );
  }

  /**
   * Cancels one call (a panel's scan superseded by the next edit), whether it waits in the queue
   * or runs; the calls around it (another panel's block view, say) go on.
   */
  async cancelTicket(ticket: Ticket): Promise<boolean> {
    ticket.cancelled = true;
    return this.current?.ticket === ticket ? this.cancel() : false;
  }

  /** Cancels the running call; resolves true when something was cancelled. */
  async cancel(): Promise<boolean> {
    if (!this.current) return false;
    const { id, title } = this.current;
    if (await this.client.cancel(id) === 'restarted') this.log.info(`${title}: the engine was inside one long ONNX Runtime run, so it was restarted; the model reloads on next use`);
    return true;
  }

  dispose(): void {
    void this.client.dispose();
    this.busyEmitter.dispose();
    this.progressEmitter.dispose();
  }
}

/**
 * The call as the user's settings complete it, as a new object (the caller's stays as it was; a
 * call already completed comes back the same):
 * every run of a model gets the user's tensors for its inputs (massiveActivations.feeds), and runs
 * the model the way massiveActivations.wholeGraph says (segments of blocks by default).
 */
export function asSent<A>(args: A): A {
  const call = args as { file: string; options?: { feeds?: Record<string, string>; wholeGraph?: boolean } };
  if (!call.options) return args;
  const feeds = call.options.feeds ?? feedsFor(call.file);
  return { ...call, options: { ...call.options, ...(feeds ? { feeds } : {}), ...(settings().wholeGraph ? { wholeGraph: true } : {}) } } as A;
}

/** Shows an engine error the way users should see it: one sentence, no stack. */
export function showError(e: unknown, log: vscode.LogOutputChannel): string {
  // Messages can carry model-controlled names: no control characters into the notification.
  const message = printable(userMessage(e, vscodeWording));
  if (isCancelled(e)) {
    void vscode.window.showInformationMessage('Massive Activations: cancelled.');
  } else {
    if (!isEngineError(e)) log.error((e as Error)?.stack ?? String(e));
    void vscode.window.showErrorMessage(`Massive Activations: ${message}`, 'Show Log').then((pick) => { if (pick) log.show(); });
  }
  return message;
}
