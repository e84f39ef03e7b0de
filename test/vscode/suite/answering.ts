import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Api } from '../../../src/extension';
import type { Question } from '../../../src/host/questions';

const exec = <T>(id: string, ...args: unknown[]) => vscode.commands.executeCommand<T>(id, ...args);

/** One expected question and the user's answer: accept what is there, or pick the item with this label ("label" or "label (description)"). */
export interface Answer { title: RegExp; pick?: string }

/**
 * Runs a command and answers its questions in order, as a user would: the item is reached with
 * "next" and taken with "accept" (an input box's prefilled value is accepted as it is). Questions
 * beyond the expected ones fail the test.
 */
export async function answer<T>(api: Api, answers: Answer[], id: string, ...args: unknown[]): Promise<{ result: T; asked: Question[] }> {
  const asked: Question[] = [];
  const sub = api.questions.onAsked(async (q) => {
    asked.push(q);
    if (process.env.MA_SUITE_GREP) console.log(`# asked ${JSON.stringify(q)}`);
    const a = answers[asked.length - 1];
    if (!a) { await exec('workbench.action.closeQuickOpen'); return; }
    if (a.pick !== undefined) {
      const at = q.items?.findIndex((i) => offers(i, a.pick!)) ?? -1;
      if (at < 0) { await exec('workbench.action.closeQuickOpen'); return; }
      // From the first item down, as a user goes with Home and the arrow keys: nothing is active until then.
      await exec('quickInput.first');
      for (let k = 0; k < at; k++) await exec('workbench.action.quickOpenSelectNext');
    }
    await exec('workbench.action.acceptSelectedQuickOpenItem');
  });
  try {
    const result = await exec<T>(id, ...args);
    assert.equal(asked.length, answers.length, `${id} asked ${asked.map((q) => `"${q.title}"`).join(', ')}`);
    answers.forEach((a, k) => {
      assert.match(asked[k].title, a.title, `${id}, question ${k + 1}`);
      if (a.pick !== undefined) assert.ok(asked[k].items?.some((i) => offers(i, a.pick!)), `${id}: "${a.pick}" offered among ${asked[k].items?.join(' | ')}`);
    });
    return { result, asked };
  } finally {
    sub.dispose();
  }
}

const offers = (item: string, pick: string) => item === pick || item.startsWith(`${pick} (`);
