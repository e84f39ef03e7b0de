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

  /**
   * A quick pick the user can also type into (a repository id, with recent ones offered): `typed`
   * turns what is typed into the first item, or says why it is not one.
   */
  choose<T extends vscode.QuickPickItem>(
    items: T[], opts: { title: string; placeholder: string; typed: (value: string) => T | { problem: string } | undefined },
  ): Promise<T | undefined> {
    const qp = vscode.window.createQuickPick<T>();
    Object.assign(qp, { title: opts.title, placeholder: opts.placeholder, items, matchOnDescription: true, ignoreFocusOut: true });
    // What is typed but names nothing shows as an item saying why, which cannot be taken.
    const problems = new WeakSet<vscode.QuickPickItem>();
    const answer = new Promise<T | undefined>((resolve) => {
      qp.onDidChangeValue((v) => {
        const t = v.trim() ? opts.typed(v) : undefined;
        let first: T[] = [];
        if (t && 'problem' in t) {
          const item = { label: `$(warning) ${t.problem}`, alwaysShow: true } as T;
          problems.add(item);
          first = [item];
        } else if (t) first = [{ ...t, alwaysShow: true }];
        qp.items = [...first, ...items.filter((i) => !first.some((f) => f.label === i.label))];
      });
      qp.onDidAccept(() => {
        const pick = qp.selectedItems[0] ?? qp.activeItems[0];
        if (pick && !problems.has(pick)) { resolve(pick); qp.hide(); }
      });
      qp.onDidHide(() => { resolve(undefined); qp.dispose(); });
    });
    qp.show();
    this.announce({ kind: 'pick', title: opts.title, items: items.map((i) => (i.description ? `${i.label} (${i.description})` : i.label)) });
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
