import * as vscode from 'vscode';
import { EngineError, isEngineError, userMessage } from '../engine/base/errors';
import { printable, sizeText } from '../engine/base/text';
import { HubUnreachable, whoami } from '../hub/api';
import { cachedModels } from '../hub/cache';
import type { HubListing, HubVariant } from '../hub/fetch';
import { hubEnv, hubSpecFrom } from '../hub/ref';
import type { HubAccess } from '../shared/protocol';
import type { Engine } from './engine';
import type { Questions } from './questions';
import type { ActivationTree } from './tree';
import { vscodeWording } from './wording';

/* Models by name from the Hugging Face Hub: open one (a variant, downloaded with progress and Cancel), sign in and out. */

const TOKEN = 'massiveActivations.huggingFaceToken';
const RECENT = 'massiveActivations.hubRecent';
const EXAMPLE = 'onnx-community/Qwen2.5-0.5B-Instruct';

interface Deps { engine: Engine; questions: Questions; tree: ActivationTree }
type Register = (id: string, fn: (...args: never[]) => Promise<unknown> | unknown) => void;

export function registerHubCommands(register: Register, context: vscode.ExtensionContext, d: Deps): void {
  /** Where the Hub is (the setting, else HF_ENDPOINT) and the signed-in token (else HF_TOKEN). */
  const access = async (): Promise<HubAccess> => {
    const endpoint = vscode.workspace.getConfiguration('massiveActivations').get<string>('hubEndpoint', '').trim();
    const token = await context.secrets.get(TOKEN);
    return { ...(endpoint ? { endpoint } : {}), ...(token ? { token } : {}) };
  };

  register('massiveActivations.openFromHub', async (args?: { repo?: string; variant?: string }) => {
    const spec = args?.repo !== undefined ? given(args.repo) : await askRepo(d.questions, context.globalState.get<string[]>(RECENT, []));
    if (!spec) return undefined;
    const hub = await access();
    try {
      // One request: the status bar says it; the picker follows at once.
      const listing = await d.engine.run(`Reading ${spec.slice(5)} on the Hugging Face Hub`, 'hubVariants', { repo: spec, hub }, { statusBar: true });
      for (const n of listing.notes) void vscode.window.showInformationMessage(`Massive Activations: ${printable(n)}`);
      // The repository exists: offered next time, even if this download is cancelled.
      const recent = context.globalState.get<string[]>(RECENT, []).filter((r) => r !== spec.slice(5));
      await context.globalState.update(RECENT, [spec.slice(5), ...recent].slice(0, 10));
      const variant = args?.variant ?? (listing.variants.length === 1 ? listing.variants[0].name : await pickVariant(d.questions, listing));
      if (variant === undefined) return undefined;
      const fetched = await d.engine.run(`Downloading ${listing.repo}${variant ? ` (${variant})` : ''}`, 'hubFetch', { repo: spec, variant, hub });
      d.tree.refreshHub();
      for (const n of fetched.notes) void vscode.window.showWarningMessage(`Massive Activations: ${printable(n)}`);
      const opened = await vscode.commands.executeCommand<{ file: string } | undefined>('massiveActivations.inspectModel', vscode.Uri.file(fetched.folder), { variant: fetched.variant });
      return { ...fetched, file: opened?.file };
    } catch (e) {
      // Refused for want of a token: the notification offers to sign in.
      if (isEngineError(e) && (e.facts.hub === 'gated' || e.facts.hub === 'not-found') && !hub.token) {
        const message = printable(userMessage(e, vscodeWording));
        void vscode.window.showErrorMessage(`Massive Activations: ${message}`, 'Sign in to Hugging Face').then((pick) => {
          if (pick) void vscode.commands.executeCommand('massiveActivations.hubSignIn');
        });
        return { error: message, cancelled: false };
      }
      throw e;
    }
  });

  register('massiveActivations.hubSignIn', async (args?: { token?: string }) => {
    const token = (args?.token ?? await d.questions.input({
      title: 'Hugging Face access token', password: true, ignoreFocusOut: true,
      prompt: 'From https://huggingface.co/settings/tokens (read access). It is kept in VS Code\'s secret storage, never in settings.',
      validateInput: (v) => (/^\S+$/.test(v.trim()) ? undefined : 'Paste the token: one word, no spaces.'),
    }))?.trim();
    if (!token) return undefined;
    const endpoint = (await access()).endpoint;
    let user: string | undefined;
    try {
      user = await whoami({ ...hubEnv(), ...(endpoint ? { endpoint } : {}), token });
    } catch (e) {
      // Out of reach, the token cannot be checked: it is kept, and said so; a refused token is not.
      if (!(e instanceof HubUnreachable)) throw e;
    }
    await context.secrets.store(TOKEN, token);
    void vscode.window.showInformationMessage(user
      ? `Massive Activations: signed in to Hugging Face as ${user}.`
      : 'Massive Activations: the Hub cannot be reached to check the token; it is kept and used from the next download.');
    return { user };
  });

  register('massiveActivations.hubSignOut', async () => {
    const had = !!(await context.secrets.get(TOKEN));
    await context.secrets.delete(TOKEN);
    void vscode.window.showInformationMessage(had ? 'Massive Activations: signed out of Hugging Face; the token is deleted.' : 'Massive Activations: no Hugging Face token was kept.');
    return { signedOut: had };
  });
}

/** A repository given as an argument: any form a user writes, or a sentence. */
function given(text: string): string {
  const spec = hubSpecFrom(text);
  if (!spec) throw new EngineError('bad-argument', `"${printable(text)}" names no model on the Hub: write OWNER/NAME (e.g. ${EXAMPLE}) or OWNER/NAME@REVISION.`);
  return spec;
}

/** The repository: typed (or pasted: an id or the model's page), or one of the recent and cached ones. */
async function askRepo(q: Questions, recent: string[]): Promise<string | undefined> {
  const cached = cachedModels(hubEnv());
  const cachedRepos = new Set(cached.map((c) => c.repo));
  const items = [...new Set([...recent, ...cached.map((c) => c.repo)])]
    .map((r) => ({ label: r, description: cachedRepos.has(r.split('@')[0]) ? 'cached' : 'recent', spec: `hf://${r}` }));
  const pick = await q.choose(items, {
    title: 'Open a model from Hugging Face',
    placeholder: `Repository id (e.g. ${EXAMPLE}), OWNER/NAME@REVISION, or the model's page`,
    typed: (v) => {
      const spec = hubSpecFrom(v);
      return spec ? { label: spec.slice(5), description: 'from the Hub', spec } : { problem: `Not a repository id: write OWNER/NAME (e.g. ${EXAMPLE}).` };
    },
  });
  return pick?.spec;
}

async function pickVariant(q: Questions, listing: HubListing): Promise<string | undefined> {
  const items = listing.variants.map((v) => ({ label: v.name || 'plain', description: sizeOf(v), detail: v.graphs.join(', '), name: v.name }));
  return (await q.pick(items, { title: `${listing.repo} (${listing.commit.slice(0, 7)}): which variant?`, matchOnDescription: true, ignoreFocusOut: true }))?.name;
}

/** "812.4 MB to download", "812.4 MB, cached", or what is left of a partly cached one. */
function sizeOf(v: HubVariant): string {
  if (!v.missingBytes) return `${sizeText(v.bytes)}, cached`;
  return sizeText(v.missingBytes) === sizeText(v.bytes) ? `${sizeText(v.bytes)} to download` : `${sizeText(v.missingBytes)} of ${sizeText(v.bytes)} to download`;
}

