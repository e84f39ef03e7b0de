import { h } from '../dom';
import { st } from './state';
import { palette } from './theme';
import { roving } from '../keys';

/** Up to this many tokens are shown as chips; longer inputs get the compact form. */
export const CHIP_LIMIT = 200;

/**
 * The input's tokens as chips (massive tokens in the massive colour). A long input shows the
 * massive tokens, the first and last few, and whatever the token search finds, never a wall of
 * 2,000 chips; a strip above shows where the massive tokens sit in the whole sequence.
 */
export function renderTokens(): void {
  const box = document.getElementById('tokens');
  if (!box || !st.scan) return;
  const r = st.scan;
  const massive = new Set(r.massiveTokens);
  const chip = (i: number) => {
    const t = r.tokens[i];
    const title = `token ${t.index}${t.id !== null ? ` · id ${t.id}` : ''} · ${r.tokenKinds[t.index]}${massive.has(i) ? ' · carries massive activations' : ''}`;
    return h('span', {
      class: `chip${massive.has(i) ? ' massive' : ''}`, 'data-token': i, role: 'listitem', title, 'aria-label': `${JSON.stringify(t.text)}, ${title}`,
    }, h('small', {}, String(t.index)), ' ', t.text.replace(/\n/g, '⏎') || '␣');
  };
  // The chips are one stop for Tab; the arrow keys go from token to token.
  const chips = h('div', { class: 'tokens', role: 'list', 'aria-label': 'Tokens' });
  const keys = roving(chips, '.chip');
  if (r.tokens.length <= CHIP_LIMIT) {
    chips.replaceChildren(...r.tokens.map((_, i) => chip(i)));
    keys();
    box.replaceChildren(chips);
    return;
  }
  const search = h('input', { id: 'token-search', type: 'search', placeholder: 'Find a token (text or #index)', 'aria-label': 'Find a token', value: st.tokenQuery });
  const summary = h('span', { class: 'muted', id: 'token-summary' });
  const strip = h('canvas', { id: 'token-strip', class: 'strip', role: 'img', 'aria-label': `Where the ${r.massiveTokens.length} massive tokens sit among ${r.tokens.length} tokens` });
  // Only the matches are redrawn as the user types: the search box stays, with its caret.
  const matches = () => {
    const q = st.tokenQuery.trim();
    const found = q ? r.tokens.filter((t) => (/^#?\d+$/.test(q) ? t.index === Number(q.replace('#', '')) : t.text.toLowerCase().includes(q.toLowerCase()))).map((t) => t.index) : [];
    const shown = [...new Set([...r.massiveTokens, ...found.slice(0, CHIP_LIMIT)])].sort((a, b) => a - b);
    summary.textContent = `showing the ${r.massiveTokens.length} massive token${r.massiveTokens.length === 1 ? '' : 's'}${q ? ` and ${found.length} match${found.length === 1 ? '' : 'es'} of “${q}”${found.length > CHIP_LIMIT ? ` (first ${CHIP_LIMIT})` : ''}` : ''}`;
    chips.replaceChildren(...shown.flatMap((i, k) => (k && shown[k - 1] !== i - 1 ? [h('span', { class: 'gap muted' }, '…'), chip(i)] : [chip(i)])));
    keys();
    drawStrip(strip, r.tokens.length, massive, new Set(found));
  };
  search.addEventListener('input', () => { st.tokenQuery = (search as HTMLInputElement).value; matches(); });
  box.replaceChildren(h('div', { class: 'row' }, h('strong', {}, `${r.tokens.length.toLocaleString('en-US')} tokens`), summary, search), strip, chips);
  matches();
}

function drawStrip(canvas: HTMLCanvasElement, n: number, massive: Set<number>, found: Set<number>): void {
  const W = Math.min(900, Math.max(200, n));
  canvas.width = W; canvas.height = 10;
  const ctx = canvas.getContext('2d')!;
  const p = palette();
  ctx.fillStyle = p.grid;
  ctx.fillRect(0, 3, W, 4);
  const mark = (i: number, color: string) => { ctx.fillStyle = color; ctx.fillRect(Math.floor((i / n) * W), 0, Math.max(2, W / n), 10); };
  for (const i of found) mark(i, p.marker);
  for (const i of massive) mark(i, p.massive);
}
