import type { GraphIndex } from '../onnx/graph';
import { SKIP_NORMS } from './ops';
import { branchHasAttention, groupByAttention, isPostNorm, regionAbove, residualAdds, toBlocks } from './residual';
import type { BlockMatcher, ResidualPoint } from './types';

/**
 * Graphs from the ORT transformer optimizer and the onnxruntime-genai builder fuse each residual
 * sum into a Skip(Simplified)LayerNormalization whose optional 4th output is input + skip.
 */
export const fusedNormMatcher: BlockMatcher = {
  name: 'fused-norm',
  match(g: GraphIndex) {
    const fused = g.graph.node.map((n, i) => [n, i] as const).filter(([n]) => SKIP_NORMS.has(n.opType));
    if (fused.length < 2) return undefined;
    const plain = residualAdds(g);
    const indices = [...fused.map(([, i]) => i), ...plain.map((p) => p.nodeIndex)].sort((a, b) => a - b);
    const points: ResidualPoint[] = [];
    let floor = -1;
    for (const idx of indices) {
      const p = plain.find((q) => q.nodeIndex === idx);
      if (p) { points.push(p); floor = idx; continue; }
      const n = g.graph.node[idx];
      const branch = regionAbove(g, [n.input[0], n.input[1]], floor);
      const tensor = n.output[3] || `${n.name || `${n.opType}_${idx}`}/residual_sum`;
      points.push({
        nodeIndex: idx, tensor, fusedOutput: n.output[3] ? undefined : { nodeIndex: idx, slot: 3 },
        hasAttention: branchHasAttention(g, branch), branch, skip: n.input[1],
      });
      floor = idx;
    }
    const blocks = toBlocks(g, points, groupByAttention(points), isPostNorm(g, plain));
    if (!blocks.length) return undefined;
    return { matcher: this.name, blocks, postNorm: false, warnings: [] };
  },
};
