/**
 * Arrow keys within a group of controls (a toolbar of block buttons, a list of token chips): one
 * of them is in the tab order, the arrows (and Home / End) move the focus among the rest, as the
 * WAI-ARIA toolbar and list patterns do. Items are what `selector` finds at the time, so a group
 * whose items are drawn again keeps working; `refresh(k)` puts item k in the tab order.
 */
export function roving(group: HTMLElement, selector: string): (current?: number) => void {
  const items = () => [...group.querySelectorAll<HTMLElement>(selector)];
  const refresh = (current = 0) => items().forEach((el, k) => { el.tabIndex = k === current ? 0 : -1; });
  group.addEventListener('keydown', (e) => {
    const all = items();
    const at = all.indexOf(document.activeElement as HTMLElement);
    if (at < 0) return;
    const to = ({ ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: all.length - 1 } as Record<string, number>)[e.key];
    if (to === undefined) return;
    e.preventDefault();
    const k = Math.max(0, Math.min(all.length - 1, to));
    refresh(k);
    all[k].focus();
  });
  refresh();
  return refresh;
}
