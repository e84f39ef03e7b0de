import type { NodeProto } from 'onnx-buf';
import type { GraphIndex } from '../onnx/graph';
import { metadata } from '../onnx/graph';
import { isPostNorm, residualAdds, toBlocks } from './residual';
import type { BlockMatcher, ResidualPoint } from './types';

// TorchScript names (`/model/layers.3/Add_1`, `/transformer/h.3/…`, `/vit/encoder/layer.3/…`) and
// dynamo name scopes (`model.layers.3`) both carry the block index after a container name.
const SCOPE = /(?<![A-Za-z0-9_])(layers|layer|h|blocks|block|encoder_layers|decoder_layers)[._](\d+)(?!\d)/;

export function scopeOf(n: NodeProto): { key: string; index: number } | undefined {
  const sources = [metadata(n, 'pkg.torch.onnx.name_scopes'), metadata(n, 'namespace'), n.name];
  for (const s of sources) {
    if (!s) continue;
    const m = outermostScope(s);
    if (m) return m;
  }
  return undefined;
}

/**
 * How many layers the weights' names count (`model.layers.0.…` … `model.layers.27.…`), with the
 * name of the first: what the names say, whatever the graph's structure.
 */
export function namedLayers(names: Iterable<string>): { count: number; example: string } | undefined {
  const seen = new Map<number, string>();
  for (const n of names) {
    const m = outermostScope(n);
    if (m && !seen.has(m.index)) seen.set(m.index, m.key);
  }
  if (seen.size < 2) return undefined;
  const first = seen.get(Math.min(...seen.keys()))!;
  return { count: seen.size, example: first };
}

/** The first (outermost) container scope in a name: deeper ones (e.g. `mlp.layers.0`) are inside its block. */
function outermostScope(s: string): { key: string; index: number } | undefined {
  const m = SCOPE.exec(s);
  return m ? { key: `${m[1]}.${m[2]}`, index: Number(m[2]) } : undefined;
}

/** Blocks grouped by the scope their residual sums sit in. */
export const scopeNamesMatcher: BlockMatcher = {
  name: 'scope-names',
  match(g: GraphIndex) {
    const points = residualAdds(g);
    const scoped = points.map((p) => ({ p, s: scopeOf(g.graph.node[p.nodeIndex]) }));
    const keys = new Set(scoped.filter((x) => x.s).map((x) => x.s!.key));
    if (keys.size < 1) return undefined;
    const groups: ResidualPoint[][] = [];
    const scopes: string[] = [];
    let current: string | undefined;
    for (const { p, s } of scoped) {
      if (!s) continue;
      if (s.key !== current) { groups.push([]); scopes.push(s.key); current = s.key; }
      groups[groups.length - 1].push(p);
    }
    // Scopes whose sums never mix tokens are not transformer blocks (e.g. a conv stem's `layers.0`).
    const keep = groups.map((grp) => grp.some((p) => p.mixer));
    const gs = groups.filter((_, i) => keep[i]);
    const ss = scopes.filter((_, i) => keep[i]);
    if (!gs.length) return undefined;
    const postNorm = isPostNorm(g, points);
    const blocks = toBlocks(g, points, gs, postNorm, ss);
    return { matcher: this.name, blocks, postNorm, warnings: [] };
  },
};
