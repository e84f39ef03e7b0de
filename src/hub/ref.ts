import * as os from 'node:os';
import * as path from 'node:path';
import { EngineError } from '../engine/base/errors';
import { printable } from '../engine/base/text';

/** A model named on the Hugging Face Hub: hf://OWNER/NAME[@REVISION]. */
export interface HubRef { owner: string; name: string; revision: string }

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

export function isHubRef(s: string | undefined): s is string {
  return !!s && s.startsWith('hf://');
}

export function parseHubRef(s: string): HubRef {
  const m = /^hf:\/\/([^/@]+)\/([^/@]+)(?:@(.+))?$/.exec(s);
  const bad = () => new EngineError('bad-argument', `"${printable(s)}" is not a Hub model: write hf://OWNER/NAME or hf://OWNER/NAME@REVISION.`);
  if (!m || !NAME.test(m[1]) || !NAME.test(m[2])) throw bad();
  const revision = m[3] ?? 'main';
  if (/\.\.|^\/|[\s\\]/.test(revision)) throw bad();
  return { owner: m[1], name: m[2], revision };
}

export const refText = (r: HubRef) => `${r.owner}/${r.name}${r.revision === 'main' ? '' : `@${r.revision}`}`;

/** Where the Hub is and who we are, as huggingface_hub users set it. */
export interface HubEnv { endpoint: string; token?: string; offline: boolean; cache: string }

export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  // Empty counts as unset, as huggingface_hub reads them.
  const home = env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface');
  const offline = ['1', 'ON', 'YES', 'TRUE'].includes((env.HF_HUB_OFFLINE ?? '').toUpperCase());
  return {
    endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''),
    ...(env.HF_TOKEN ? { token: env.HF_TOKEN } : {}),
    offline,
    cache: env.HF_HUB_CACHE || path.join(home, 'hub'),
  };
}

/** The repository's folder in the cache: models--OWNER--NAME. */
export function repoFolder(e: HubEnv, r: HubRef): string {
  return path.join(e.cache, `models--${r.owner}--${r.name}`);
}

/**
 * What a user types or pastes for a model (OWNER/NAME, OWNER/NAME@REVISION, hf://…, or the model's
 * page on the Hub, https://huggingface.co/OWNER/NAME[/tree/REVISION/…]) as hf://OWNER/NAME[@REVISION];
 * undefined when it names no model.
 */
export function hubSpecFrom(text: string): string | undefined {
  const t = text.trim();
  const page = /^https?:\/\/(?:www\.)?(?:huggingface\.co|hf\.co)\/([^/?#]+)\/([^/?#]+)(?:\/(?:tree|blob|resolve)\/([^/?#]+))?/.exec(t);
  const spec = page ? `hf://${page[1]}/${page[2]}${page[3] && page[3] !== 'main' ? `@${decodeURIComponent(page[3])}` : ''}` : t.startsWith('hf://') ? t : `hf://${t}`;
  try {
    parseHubRef(spec);
    return spec;
  } catch {
    return undefined;
  }
}
