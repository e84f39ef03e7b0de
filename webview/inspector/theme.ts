import { css } from '../dom';

/** A CSS colour (#rgb, #rrggbb, rgb(), rgba()) as RGB. */
export function parseColor(c: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})/i.exec(c) ?? /^#([0-9a-f]{3})$/i.exec(c);
  if (m) {
    const hex = m[1].length === 3 ? m[1].split('').map((x) => x + x).join('') : m[1];
    return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  }
  const rgb = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(c);
  return rgb ? [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])] : [128, 128, 128];
}

export type ThemeKind = 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';

/** VS Code marks the theme kind on the body's class. */
export function themeKind(): ThemeKind {
  const c = document.body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  return c.contains('vscode-light') ? 'light' : 'dark';
}

/** Canvas colours of the current theme: read from VS Code's CSS variables each time a canvas is drawn. */
export function palette() {
  const kind = themeKind();
  const hc = kind.startsWith('high-contrast');
  return {
    kind,
    background: css('--vscode-editor-background', kind === 'light' || kind === 'high-contrast-light' ? '#ffffff' : '#1e1e1e'),
    foreground: css('--vscode-editor-foreground', kind === 'light' || kind === 'high-contrast-light' ? '#000000' : '#cccccc'),
    grid: css('--vscode-editorWidget-border', hc ? css('--vscode-contrastBorder', '#6fc3df') : '#8884'),
    /** The bulk of the map: a cool ramp from the background. */
    bulk: css('--vscode-charts-blue', '#3794ff'),
    /** Massive activations: the one warm colour on the map, never used for anything else. */
    massive: css('--vscode-charts-red', '#f14c4c'),
    /** Markers (column ticks, focus): the theme's focus colour. */
    marker: css('--vscode-focusBorder', '#007fd4'),
    series: [css('--vscode-charts-red', '#f14c4c'), css('--vscode-charts-orange', '#d18616'), css('--vscode-charts-yellow', '#cca700'), css('--vscode-charts-blue', '#3794ff'), css('--vscode-charts-green', '#89d185'), css('--vscode-charts-purple', '#b180d7')],
  };
}

/**
 * Calls `redraw` when the theme changes: VS Code swaps the body's class and the CSS variables on
 * the root element's style, and canvases keep what they were drawn with until drawn again.
 */
export function onThemeChange(redraw: () => void): void {
  let last = `${document.body.className}|${document.documentElement.getAttribute('style') ?? ''}`;
  const check = () => {
    const now = `${document.body.className}|${document.documentElement.getAttribute('style') ?? ''}`;
    if (now === last) return;
    last = now;
    redraw();
  };
  const o = new MutationObserver(check);
  o.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  o.observe(document.documentElement, { attributes: true, attributeFilter: ['style'] });
}

/** A theme colour with transparency (bands, fills). */
export function withAlpha(color: string, alpha: number): string {
  return `rgba(${parseColor(color).join(',')},${alpha})`;
}
