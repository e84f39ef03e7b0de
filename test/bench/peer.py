"""The seed's own method, as a peer for npm run bench:peer: a PyTorch forward pass of the planted
LLaMA with forward hooks capturing every block's hidden state, then the paper's statistics (top-3
|value|, median |value|, massive = above 100 and 1000x the median). Reads the same ONNX file the
engine scans (python3-onnx), dequantizing its 4-bit MatMulNBits weights to fp32 once at load, as a
PyTorch user would hold them. Prints one JSON line.

usage: /usr/bin/python3 peer.py MODEL.onnx IDS.json THREADS WARMUP RUNS HEADS
"""
import json, re, resource, sys, time

import numpy as np
import onnx
from onnx import numpy_helper
import torch
from torch import nn


def blas_library():
    """Which BLAS this process really loaded (the Debian alternatives pick one at run time)."""
    with open('/proc/self/maps') as f:
        libs = sorted({line.split()[-1] for line in f if re.search(r'lib(open)?blas|libblis|libmkl', line)})
    return [l for l in libs if l.startswith('/')]


def dequantize(packed, scales, K, N):
    """MatMulNBits 4-bit, block 32, zero point 8: packed [N, K/32, 16] -> weight [N, K] (out, in)."""
    p = packed.reshape(N, K // 32, 16)
    q = np.empty((N, K // 32, 32), dtype=np.uint8)
    q[:, :, 0::2] = p & 0x0F
    q[:, :, 1::2] = p >> 4
    w = (q.astype(np.float32) - 8.0) * scales.reshape(N, K // 32, 1)
    return torch.from_numpy(w.reshape(N, K))


class RMSNorm(nn.Module):
    def __init__(self, g, eps):
        super().__init__()
        self.g, self.eps = g, eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.g


def rotate(x, cos, sin):
    h = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., h:], x[..., :h]], -1) * sin


class Block(nn.Module):
    def __init__(self, w, heads, kv_heads, eps):
        super().__init__()
        self.w, self.heads, self.kv_heads = w, heads, kv_heads
        self.n1, self.n2 = RMSNorm(w['ln1'], eps), RMSNorm(w['ln2'], eps)

    def forward(self, x, cos, sin, mask):
        T, d = x.shape[1], x.shape[2]
        hd = d // self.heads
        a = self.n1(x)
        q = (a @ self.w['q'].T).view(1, T, self.heads, hd).transpose(1, 2)
        k = (a @ self.w['k'].T).view(1, T, self.kv_heads, hd).transpose(1, 2)
        v = (a @ self.w['v'].T).view(1, T, self.kv_heads, hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        rep = self.heads // self.kv_heads
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        p = torch.softmax(q @ k.transpose(-1, -2) / hd ** 0.5 + mask, -1)
        x = x + (p @ v).transpose(1, 2).reshape(1, T, d) @ self.w['o'].T
        m = self.n2(x)
        return x + (torch.nn.functional.silu(m @ self.w['gate'].T) * (m @ self.w['up'].T)) @ self.w['down'].T


def main():
    model_file, ids_file, threads, warmup, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    ids = json.load(open(ids_file))
    t0 = time.perf_counter()
    m = onnx.load(model_file, load_external_data=True)
    init = {t.name: t for t in m.graph.initializer}
    nbits = {n.input[1]: {a.name: a.i for a in n.attribute} for n in m.graph.node if n.op_type == 'MatMulNBits'}
    arr = lambda name: numpy_helper.to_array(init[name])

    def weight(name):
        if name + '_Q4' in init:
            a = nbits[name + '_Q4']
            return dequantize(arr(name + '_Q4'), arr(name + '_scales'), a['K'], a['N'])
        return torch.from_numpy(arr(name).copy()).T.contiguous()  # [in, out] -> [out, in]

    cfg = [n for n in init if re.fullmatch(r'model\.layers\.\d+\.input_layernorm\.weight', n)]
    L = len(cfg)
    embed = torch.from_numpy(arr('model.embed_tokens.weight').copy())
    d = embed.shape[1]
    kvd = (nbits.get('model.layers.0.self_attn.k_proj.weight_Q4') or {'N': None})['N'] or arr('model.layers.0.self_attn.k_proj.weight').shape[1]
    heads = int(sys.argv[6])
    hd = d // heads
    kv_heads = kvd // hd
    blocks = nn.ModuleList()
    for l in range(L):
        P = f'model.layers.{l}'
        w = {k: weight(f'{P}.{n}.weight') for k, n in [('q', 'self_attn.q_proj'), ('k', 'self_attn.k_proj'), ('v', 'self_attn.v_proj'), ('o', 'self_attn.o_proj'), ('gate', 'mlp.gate_proj'), ('up', 'mlp.up_proj'), ('down', 'mlp.down_proj')]}
        w['ln1'] = torch.from_numpy(arr(f'{P}.input_layernorm.weight').copy())
        w['ln2'] = torch.from_numpy(arr(f'{P}.post_attention_layernorm.weight').copy())
        blocks.append(Block(w, heads, kv_heads, 1e-5))
    cos_t = torch.from_numpy(arr('model.layers.0.self_attn.rotary_emb.cos_cached').copy())
    sin_t = torch.from_numpy(arr('model.layers.0.self_attn.rotary_emb.sin_cached').copy())
    del m, init
    load_s = time.perf_counter() - t0

    hidden = []
    for b in blocks:
        b.register_forward_hook(lambda mod, inp, out: hidden.append(out.detach()))

    def stats(x):
        a = x.abs().flatten()
        top = torch.topk(a, 3)
        med = a.median().item()
        bar = max(100.0, 1000.0 * med)
        idx = torch.nonzero(x.abs()[0] >= bar)
        idx = idx[x.abs()[0][idx[:, 0], idx[:, 1]] > 100.0]
        return {'top': top.values.tolist(), 'median': med, 'massive': idx.tolist()}

    T = len(ids)
    ids_t = torch.tensor(ids)
    mask = torch.triu(torch.full((T, T), float('-inf')), 1)
    times, result = [], None
    with torch.no_grad():
        for r in range(warmup + runs):
            hidden.clear()
            t1 = time.perf_counter()
            x = embed[ids_t].unsqueeze(0)
            cos, sin = cos_t[:T], sin_t[:T]
            for b in blocks:
                x = b(x, cos, sin, mask)
            per_block = [stats(h) for h in hidden]
            if r >= warmup:
                times.append(time.perf_counter() - t1)
            result = per_block
    found_blocks = [i for i, s in enumerate(result) if s['massive']]
    tokens = sorted({t for s in result for t, _ in s['massive']})
    channels = sorted({c for s in result for _, c in s['massive']})
    print(json.dumps({
        'loadS': load_s, 'wallS': sorted(times)[len(times) // 2], 'peakRssMB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        'threads': torch.get_num_threads(), 'blas': blas_library(), 'torch': torch.__version__,
        'found': {'blocks': found_blocks, 'tokens': tokens, 'channels': channels, 'top': max(s['top'][0] for s in result)},
    }))


if __name__ == '__main__':
    main()
