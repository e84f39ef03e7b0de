import type { ExperimentView, BlockView, ModelSummary, PanelState, RunInput } from '../../src/shared/protocol';
import type { ScanResult } from '../../src/engine/model/results';
import { saveState } from '../vscode';

/** The paper's prompts, as presets. */
export const PRESETS = [
  'Summer is warm. Winter is cold.',
  'The following are multiple choice questions (with answers) about machine learning.\n\n',
  'Once upon a time there lived a king who had three daughters.',
  'Massive activations act as fixed but important biases in large language models.',
];

/** What the inspector shows; the host's document is the truth, this is its copy in the view. */
export interface AppState {
  model: ModelSummary | null;
  error?: string;
  /** The stack shown: the whole scan, or one stack of an encoder-decoder. */
  scan?: ScanResult;
  /** An encoder-decoder's full scan and the stack shown (0: encoder, 1: decoder). */
  full?: ScanResult;
  /** The exact input the scan shown was run on. */
  input?: RunInput;
  stack: number;
  layer?: number;
  layerView?: BlockView;
  head: number | 'mean';
  attentionMode: 'probabilities' | 'logits';
  /** 2-D map or 3-D view of the selected block. */
  mapView: '2d' | '3d';
  prompt: string;
  image?: string;
  busy: boolean;
  status: string;
  sort: { key: 'rank' | 'token' | 'channel' | 'value' | 'times'; desc: boolean };
  highlight?: { token: number; channel: number };
  experiments: { title: string; experiment: ExperimentView }[];
  /** Files that changed on disk since the results shown (the document's stale mark). */
  stale?: string[];
  /** Re-scan as the prompt is edited (small models; the host decides). */
  live: boolean;
  tokenQuery: string;
  /** The tokens the block's map shows (a long input zoomed in), of an input of `of` tokens; the whole input when unset. */
  tokenWindow?: { from: number; to: number; of: number };
}

export const st: AppState = {
  model: null, stack: 0, head: 'mean', attentionMode: 'probabilities', mapView: '2d', prompt: PRESETS[0], busy: false, status: '',
  sort: { key: 'rank', desc: false }, experiments: [], live: false, tokenQuery: '',
};

export function persist(): void {
  if (!st.model) return;
  const s: PanelState = { file: st.model.file, prompt: st.prompt, layer: st.layer, head: st.head, attentionMode: st.attentionMode, mapView: st.mapView };
  saveState(s);
}

/** What components ask of the app (set by app.ts; kept here so components do not import it). */
export const actions = {
  selectBlock: (_layer: number, _scroll?: boolean): Promise<void> => Promise.resolve(),
  renderBlock: (): void => undefined,
  run: (): Promise<void> => Promise.resolve(),
  showStack: (_k: number): void => undefined,
};

/** Hybrid models (and MoE) show each block's kind; plain transformers do not need the noise. */
export const hybrid = (m: ModelSummary | null) => !!m?.layers?.some((l) => l.mixer !== 'attention' || l.mlp === 'moe');
export const MIXER_SHORT: Record<string, string> = { attention: 'attn', 'linear-attention': 'linear', 'state-space': 'ssm', recurrent: 'rnn', convolution: 'conv' };
export const mixerText = (l: { mixer: string; mlp: string }) => `${l.mixer}${l.mlp === 'moe' ? ', mixture of experts' : ''}`;
