import * as vscode from 'vscode';

/** A question a command put on screen: an input box (with its prefilled value) or a quick pick (its items, "label (description)"). */
export interface Question { kind: 'input' | 'pick'; title: string; value?: string; items?: string[] }

/**
 * Every input box and quick pick the commands open goes through here, and is announced once VS Code
 * has it: the extension tests answer it as a user does (accept, move, Escape) through VS Code's own
 * commands, waiting for the question rather than for a clock.
 */
export class Questions implements vscode.Disposable {
  private readonly asked = new vscode.EventEmitter<Question>();
  readonly onAsked = this.asked.event;

  input(opts: vscode.InputBoxOptions): Thenable<string | undefined> {
    const answer = vscode.window.showInputBox(opts);
    this.announce({ kind: 'input', title: opts.title ?? '', value: opts.value });
    return answer;
  }

  pick<T extends vscode.QuickPickItem>(items: T[], opts: vscode.QuickPickOptions): Thenable<T | undefined> {
    const answer = vscode.window.showQuickPick(items, opts);
    this.announce({ kind: 'pick', title: opts.title ?? '', items: items.map((i) => (i.description ? `${i.label} (${i.description})` : i.label)) });
    return answer;
  }

  /** After the calls above have reached VS Code (their items are sent a microtask later). */
  private announce(q: Question): void {
    setImmediate(() => this.asked.fire(q));
  }

  dispose(): void {
    this.asked.dispose();
  }
}
