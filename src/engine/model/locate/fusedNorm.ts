import type { GraphIndex } from '../onnx/graph';
import { fusedInput, fusedOutputSlot, isSkipNorm } from '../onnx/fusedOps';
import { classifyBranch, groupByMixer, isPostNorm, longestChain, regionAbove, residualAdds, skipPassThrough, toBlocks } from './residual';
import type { BlockMatcher, ResidualPoint } from './types';

/**
 * Graphs from the ORT transformer optimizer and the onnxruntime-genai builder fuse each residual
 * sum into a Skip(Simplified)LayerNormalization whose optional 4th output is input + skip.
 */
export const fusedNormMatcher: BlockMatcher = {
  name: 'fused-norm',
  match(g: GraphIndex) {
    const fused = g.graph.node.map((n, i) => [n, i] as const).filter(([n]) => isSkipNorm(n));
    if (fused.length < 2) return undefined;
    const plain = residualAdds(g);
    const indices = [...fused.map(([, i]) => i), ...plain.map((p) => p.nodeIndex)].sort((a, b) => a - b);
    const cands: ResidualPoint[] = [];
    const streams = new Set<string>();
    for (const idx of indices) {
      const p = plain.find((q) => q.nodeIndex === idx);
      if (p) { cands.push(p); streams.add(p.tensor); continue; }
      const n = g.graph.node[idx];
      if (!isSkipNorm(n)) continue;
      const op = n.opType;
      // input + skip is symmetric: exporters put the stream in either slot.
      const input = fusedInput(n, op, 'input');
      const other = fusedInput(n, op, 'skip');
      const [skip, update] = streams.has(skipPassThrough(g, input)) && !streams.has(skipPassThrough(g, other)) ? [input, other] : [other, input];
      const sum = n.output[fusedOutputSlot(op, 'sum')];
      const tensor = sum || `${n.name || `${op}_${idx}`}/residual_sum`;
      cands.push({ nodeIndex: idx, tensor, fusedOutput: sum ? undefined : { nodeIndex: idx, slot: 3 }, branch: new Set([idx]), skip, update });
      streams.add(tensor);
    }
    // Plain sums join the fused ones only where they continue the same stream: with attention left
    // unfused, rotary and mask additions also look like x + f(x).
    const chain = longestChain(g, cands);
    let floor = -1;
    for (const p of chain) {
      if (p.update !== undefined) {
        p.branch = regionAbove(g, [p.update, p.skip], floor);
        Object.assign(p, classifyBranch(g, p.branch, p.skip));
        delete p.update;
      }
      floor = p.nodeIndex;
    }
    const blocks = toBlocks(g, chain, groupByMixer(chain), isPostNorm(g, plain));
    if (!blocks.length) return undefined;
    return { matcher: this.name, blocks, postNorm: false, warnings: [] };
  },
};
