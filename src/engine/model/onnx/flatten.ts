import type { GraphProto, NodeProto } from 'onnx-buf';
import { attr } from './graph';
import { makeNode } from './build';

/**
 * Merged decoders (Optimum `decoder_model_merged.onnx`) keep both the no-past and the with-past
 * graph as branches of one `If` switched by `use_cache_branch`. A tensor inside a branch cannot be
 * a graph output, and we always run without past, so we lift the no-past (else) branch into the
 * main graph. Returns the names of the switch inputs that became irrelevant.
 */
export function liftCacheBranches(g: GraphProto): string[] {
  const lifted: string[] = [];
  for (let i = 0; i < g.node.length; i++) {
    const node = g.node[i];
    if (node.opType !== 'If' || node.domain !== '') continue;
    const cond = node.input[0];
    if (!/use_cache|cache_branch/i.test(cond)) continue;
    const branch = attr(node, 'else_branch')?.g;
    if (!branch) continue;
    const rename = new Map<string, string>();
    branch.output.forEach((o, k) => { if (node.output[k]) rename.set(o.name, node.output[k]); });
    const nodes: NodeProto[] = branch.node.map((n) => {
      n.input = n.input.map((x) => rename.get(x) ?? x);
      n.output = n.output.map((x) => rename.get(x) ?? x);
      return n;
    });
    // A branch output that is directly an outer tensor or initializer needs an Identity.
    const produced = new Set(nodes.flatMap((n) => n.output));
    branch.output.forEach((o, k) => {
      const target = node.output[k];
      if (target && !produced.has(target)) {
        nodes.push(makeNode('Identity', [o.name], [target], `${node.name}/lift_identity_${k}`));
      }
    });
    g.initializer.push(...branch.initializer);
    g.valueInfo.push(...branch.valueInfo.filter((v) => !rename.has(v.name)));
    g.node.splice(i, 1, ...nodes);
    i += nodes.length - 1;
    lifted.push(cond);
  }
  return lifted;
}
