"""One interaction block: edge tensor products weighted by a radial MLP, then a gate.

Two ways to run the same function. Training (autograd) uses e3nn's modules as built. Inference,
after :meth:`Interaction.prepare`, uses dense copies of the same weights: the three linear maps as
two matrix products and the tensor product as one small product per input irrep (the harmonics
contracted with the coupling coefficients, then a batched product with the channels), a few dozen
operator calls per layer instead of hundreds. Edges are processed ``edge_chunk`` at a time, so the
per-edge temporaries stay small and memory grows with atoms, not with atoms times their
temporaries. ``prepare`` copies the weights: call it again after they change.
"""
from __future__ import annotations

from typing import List

import torch
from e3nn import o3
from e3nn.nn import FullyConnectedNet, Gate
from e3nn.util.jit import compile_mode

from ..errors import E3DensityError


def gated_irreps(target: o3.Irreps) -> tuple[o3.Irreps, o3.Irreps, o3.Irreps]:
    """Split a hidden irreps into (scalars, gates, gated) for e3nn's Gate."""
    scalars = o3.Irreps([(mul, ir) for mul, ir in target if ir.l == 0]).simplify()
    gated = o3.Irreps([(mul, ir) for mul, ir in target if ir.l > 0]).simplify()
    gates = o3.Irreps([(mul, "0e") for mul, _ in gated]).simplify()
    return scalars, gates, gated


@compile_mode("script")
class Interaction(torch.nn.Module):
    """Message passing: ``m_i = sum_j TP(h_j, Y(r_ij); R(|r_ij|)) / sqrt(avg_neighbours)``.

    ``required``: irreps this block must be able to produce (it refuses to be built otherwise).

    Linear layers before and after the tensor product keep it narrow (NequIP-style), a
    linear self-connection carries each atom's own features, and a gated nonlinearity
    (SiLU on scalars, sigmoid gates on l > 0) closes the block.
    """

    def __init__(self, irreps_in: o3.Irreps, irreps_sh: o3.Irreps, irreps_out: o3.Irreps,
                 n_radial: int, radial_hidden: int, avg_neighbours: float, required: o3.Irreps | None = None):
        super().__init__()
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        scalars, gates, gated = gated_irreps(self.irreps_out)
        # odd scalars (parity "both") need an odd activation: tanh keeps the sign flip
        scalar_acts = [torch.nn.functional.silu if ir.p == 1 else torch.tanh for _, ir in scalars]
        self.gate = Gate(scalars, scalar_acts, gates, [torch.sigmoid] * len(gates), gated)
        wanted = self.gate.irreps_in
        mid, instructions = [], []
        for i, (mul, ir_in) in enumerate(self.irreps_in):
            for j, (_, ir_sh) in enumerate(irreps_sh):
                for ir_out in ir_in * ir_sh:
                    if ir_out in wanted:
                        instructions.append((i, j, len(mid), "uvu", True))
                        mid.append((mul, ir_out))
        mid = o3.Irreps(mid)
        # hidden irreps the inputs cannot make yet stay zero (pseudo-irreps appear from layer 2 on);
        # irreps the output heads need must be made here
        unreachable = [str(ir) for _, ir in o3.Irreps(required or "") if ir not in mid]
        if unreachable:
            raise E3DensityError(f"irreps {', '.join(unreachable)} cannot be made from {self.irreps_in} and spherical "
                             f"harmonics {irreps_sh}: raise the hidden l_max or sh_lmax")
        mid_sorted, perm, _ = mid.sort()
        instructions = [(i, j, perm[k], mode, train) for i, j, k, mode, train in instructions]
        self.linear_in = o3.Linear(self.irreps_in, self.irreps_in)
        self.tp = o3.TensorProduct(self.irreps_in, irreps_sh, mid_sorted, instructions,
                                   shared_weights=False, internal_weights=False)
        self.radial = FullyConnectedNet([n_radial, radial_hidden, self.tp.weight_numel], torch.nn.functional.silu)
        self.linear_out = o3.Linear(mid_sorted.simplify(), wanted)
        self.self_connection = o3.Linear(self.irreps_in, wanted)
        self.norm = float(avg_neighbours) ** -0.5
        self.residual = self.irreps_in == self.irreps_out
        self._dense_layout(mid_sorted)
        self._output_layout(mid_sorted, wanted)
        # the gate as a few elementwise operations when every scalar is even (SiLU); e3nn's Gate otherwise
        self.n_scalars, self.n_gates = scalars.dim, gates.dim
        self.plain_gate = all(ir.p == 1 for _, ir in scalars)
        self.gate_index = torch.tensor([k for k, ir in enumerate(ir for mul, ir in gated for _ in range(mul))
                                        for _ in range(ir.dim)], dtype=torch.long)
        self.scalar_scale = torch.zeros(0)
        self.gated_scale = torch.zeros(0)

    # -- the dense inference path --------------------------------------------------------------
    def _dense_layout(self, mid: o3.Irreps) -> None:
        """Where each (input irrep, channel, output component) of the tensor product lands.

        Messages are laid out by input irrep, then channel u, then the components of every path
        from that irrep; ``to_mid`` maps this layout to e3nn's, ``weight_index`` picks each
        column's radial weight (``uvu``: one weight per path and channel).
        """
        slices = mid.slices()
        offsets, k = [], 0
        for ins in self.tp.instructions:
            offsets.append(k)
            k += ins.path_shape[0] * ins.path_shape[1]
        starts, muls, dims, cols, to_mid, weight_index = [], [], [], [], [], []
        for i, ((mul, ir), block) in enumerate(zip(self.irreps_in, self.irreps_in.slices())):
            paths = [(n, ins) for n, ins in enumerate(self.tp.instructions) if ins.i_in1 == i]
            if not paths:
                continue
            starts.append(block.start)
            muls.append(mul)
            dims.append(ir.dim)
            cols.append(torch.tensor([slices[ins.i_out].start + m for _, ins in paths
                                      for m in range(mid[ins.i_out].ir.dim)], dtype=torch.long))
            for u in range(mul):
                for n, ins in paths:
                    d_out = mid[ins.i_out].ir.dim
                    to_mid += [slices[ins.i_out].start + u * d_out + m for m in range(d_out)]
                    weight_index += [offsets[n] + u] * d_out
        self.block_start, self.block_mul, self.block_dim, self.block_cols = starts, muls, dims, cols
        self.to_mid = torch.tensor(to_mid, dtype=torch.long)
        self.weight_index = torch.tensor(weight_index, dtype=torch.long)
        self.block_coupling = [torch.zeros(0) for _ in cols]
        self.coupling = torch.zeros(0)  # every block's coupling side by side: one product per chunk
        self.coupling_start = [0 for _ in cols]
        self.radial_in = torch.zeros(0)  # the radial MLP's two matrices, normalisations folded in
        self.radial_out = torch.zeros(0)
        self.weight_in = torch.zeros(0)
        self.bias_in = torch.zeros(0)
        self.n_in = self.irreps_in.dim
        self.n_mid = mid.dim
        self.n_sh = self.tp.irreps_in2.dim
        self.n_weights = self.tp.weight_numel
        self.edge_chunk = 0
        self.fused = False

    def _output_layout(self, mid: o3.Irreps, wanted: o3.Irreps) -> None:
        """linear_out irrep by irrep: pooled messages gathered as (component, channel) per irrep, one
        matrix product per irrep (``W (x) I``, no zero blocks), added into the output columns."""
        ours = {int(m): k for k, m in enumerate(self.to_mid.tolist())}
        gather, channels, outs, dims, rows0, cols0, target = [], [], [], [], [], [], []
        mid_slices, wanted_slices = mid.slices(), wanted.slices()
        for ir in sorted({ir for _, ir in wanted} & {ir for _, ir in mid}):
            rows = [sl.start + c * ir.dim for (mul, i), sl in zip(mid, mid_slices) if i == ir for c in range(mul)]
            cols = [sl.start + v * ir.dim for (mul, i), sl in zip(wanted, wanted_slices) if i == ir for v in range(mul)]
            gather += [ours[r + m] for m in range(ir.dim) for r in rows]
            target += [c + m for c in cols for m in range(ir.dim)]
            channels.append(len(rows))
            outs.append(len(cols))
            dims.append(ir.dim)
            rows0.append(torch.tensor(rows, dtype=torch.long))
            cols0.append(torch.tensor(cols, dtype=torch.long))
        self.out_gather = torch.tensor(gather, dtype=torch.long)
        self.out_target = torch.tensor(target, dtype=torch.long)
        self.out_channels, self.out_muls, self.out_dims = channels, outs, dims
        self.out_rows, self.out_cols = rows0, cols0
        self.out_weights = [torch.zeros(0) for _ in rows0]

    @torch.jit.export
    def prepare(self, edge_chunk: int) -> None:
        """Copy the current weights into the dense inference path, used from now on without autograd.

        Each affine e3nn map becomes (matrix, bias) by probing it with zero and unit vectors.
        """
        with torch.no_grad():
            self._prepare(edge_chunk)

    def _prepare(self, edge_chunk: int) -> None:
        like = self.linear_in.weight
        n_sh, n_weights = self.n_sh, self.n_weights
        eye = torch.eye(self.n_in, dtype=like.dtype, device=like.device)
        zero = torch.zeros((1, self.n_in), dtype=like.dtype, device=like.device)
        b_in, b_sc = self.linear_in(zero), self.self_connection(zero)
        w_in, w_sc = self.linear_in(eye) - b_in, self.self_connection(eye) - b_sc
        zero_mid = torch.zeros((1, self.n_mid), dtype=like.dtype, device=like.device)
        b_out = self.linear_out(zero_mid)
        w_out = self.linear_out(torch.eye(self.n_mid, dtype=like.dtype, device=like.device)) - b_out
        self.weight_in = torch.cat([w_in, w_sc], dim=1)
        self.bias_in = torch.cat([b_in[0], b_sc[0] + b_out[0]])
        weights: List[torch.Tensor] = []
        for k in range(len(self.out_rows)):
            rows, cols = self.out_rows[k].to(like.device), self.out_cols[k].to(like.device)
            weights.append((w_out.index_select(0, rows).index_select(1, cols) * self.norm).contiguous())
        self.out_weights = weights
        self.out_gather = self.out_gather.to(like.device)
        self.out_target = self.out_target.to(like.device)
        # coupling coefficients with e3nn's path weights: the product with unit weights on unit vectors
        x = torch.eye(self.n_in, dtype=like.dtype, device=like.device)
        y = torch.eye(n_sh, dtype=like.dtype, device=like.device)
        probe = self.tp(x.repeat_interleave(n_sh, dim=0), y.repeat(self.n_in, 1),
                        torch.ones((self.n_in * n_sh, n_weights), dtype=like.dtype, device=like.device))
        probe = probe.view(self.n_in, n_sh, self.n_mid)
        coupling: List[torch.Tensor] = []
        for k in range(len(self.block_start)):
            start, dim = self.block_start[k], self.block_dim[k]
            cols = self.block_cols[k].to(like.device)
            block = probe[start:start + dim].index_select(2, cols)  # (dim, n_sh, K)
            coupling.append(block.permute(1, 0, 2).reshape(n_sh, -1).contiguous())
        self.block_coupling = coupling
        starts: List[int] = []
        width = 0
        for block in coupling:
            starts.append(width)
            width += block.shape[1]
        self.coupling_start = starts
        self.coupling = torch.cat(coupling, dim=1)
        # the radial MLP (e3nn's FullyConnectedNet, two layers, no biases) as two plain matrices: its weight
        # normalisations and the activation's constant (read off the activation itself) folded in
        first = self.radial.layer0
        self.radial_in = first.weight / (first.h_in * first.var_in) ** 0.5
        one = torch.ones(1, dtype=like.dtype, device=like.device)
        scale = first.act(one) / torch.nn.functional.silu(one)
        hidden = self.radial_in.shape[1]
        self.radial_out = self.radial.layer1(torch.eye(hidden, dtype=like.dtype, device=like.device)) * scale
        self.to_mid = self.to_mid.to(like.device)
        self.weight_index = self.weight_index.to(like.device)
        # e3nn's activations carry normalisation constants: read them off the gate itself
        probe = torch.zeros((1, self.n_scalars + self.n_gates + self.gate_index.shape[0]), dtype=like.dtype,
                            device=like.device)
        probe[:, :self.n_scalars] = 1.0
        probe[:, self.n_scalars + self.n_gates:] = 1.0  # gates at 0: sigmoid 1/2
        gated = self.gate(probe)[0]
        one = torch.ones(1, dtype=like.dtype, device=like.device)
        self.scalar_scale = gated[:self.n_scalars] / torch.nn.functional.silu(one)
        self.gated_scale = gated[self.n_scalars:] * 2.0
        self.gate_index = self.gate_index.to(like.device)
        self.edge_chunk = edge_chunk
        self.fused = True

    def _gate(self, x: torch.Tensor) -> torch.Tensor:
        if not self.plain_gate:
            return self.gate(x)
        scalars = torch.nn.functional.silu(x[:, :self.n_scalars]) * self.scalar_scale
        if self.n_gates == 0:
            return scalars
        gates = torch.sigmoid(x[:, self.n_scalars:self.n_scalars + self.n_gates]).index_select(1, self.gate_index)
        return torch.cat([scalars, x[:, self.n_scalars + self.n_gates:] * gates * self.gated_scale], dim=1)

    def _messages(self, x: torch.Tensor, edge_sh: torch.Tensor, edge_radial: torch.Tensor) -> torch.Tensor:
        """Dense-path messages (edges, n_mid) in this block's own layout; ``x``: sender features."""
        hidden = torch.nn.functional.silu(torch.mm(edge_radial, self.radial_in))
        weights = torch.mm(hidden, self.radial_out).index_select(1, self.weight_index)
        coupled_all = torch.mm(edge_sh, self.coupling)
        n = x.shape[0]
        parts: List[torch.Tensor] = []
        for k in range(len(self.block_start)):
            start, mul, dim = self.block_start[k], self.block_mul[k], self.block_dim[k]
            first = self.coupling_start[k]
            width = self.block_coupling[k].shape[1]
            coupled = coupled_all[:, first:first + width].view(n, dim, -1)
            channels = x[:, start:start + mul * dim].reshape(n, mul, dim)
            if dim == 1:  # scalars: an outer product, cheaper as a broadcast than as bmm
                parts.append((channels * coupled).reshape(n, -1))
            else:
                parts.append(torch.bmm(channels, coupled).reshape(n, -1))
        return torch.cat(parts, dim=1).mul_(weights)

    @torch.jit.export
    def forward_blocks(self, h: torch.Tensor, edge_sh: torch.Tensor, edge_radial: torch.Tensor,
                       sender: torch.Tensor, receiver: torch.Tensor, atom_bounds: List[int],
                       edge_bounds: List[int]) -> torch.Tensor:
        """The dense path one block of receiving atoms at a time.

        Block k holds atoms ``atom_bounds[k]:atom_bounds[k+1]`` and their incoming edges
        ``edge_bounds[k]:edge_bounds[k+1]`` (edges sorted by receiver; one block of every atom takes them in
        any order); its messages (``edge_chunk`` edges at a time) are pooled into a buffer of the block's
        atoms and go through the output map and the gate at once, so with many blocks no (atoms x messages)
        array exists and each block's work stays in cache. Same numbers as e3nn's path (summation order
        within an atom aside).
        """
        both = torch.addmm(self.bias_in, h, self.weight_in)
        x, skip = both[:, :self.n_in], both[:, self.n_in:]
        parts: List[torch.Tensor] = []
        for k in range(len(atom_bounds) - 1):
            a, b = atom_bounds[k], atom_bounds[k + 1]
            e0, e1 = edge_bounds[k], edge_bounds[k + 1]
            pooled = torch.zeros((b - a, self.n_mid), dtype=h.dtype, device=h.device)
            step = self.edge_chunk if self.edge_chunk > 0 else max(e1 - e0, 1)
            for start in range(e0, e1, step):
                stop = min(start + step, e1)
                sent = x.index_select(0, sender[start:stop])
                local = receiver[start:stop] - a if a > 0 else receiver[start:stop]
                pooled.index_add_(0, local, self._messages(sent, edge_sh[start:stop], edge_radial[start:stop]))
            parts.append(self._output(h[a:b], pooled, skip[a:b]))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)

    def _output(self, h: torch.Tensor, pooled: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Gate of linear_out(pooled) + self-connection, linear_out one irrep at a time."""
        n = h.shape[0]
        grouped = pooled.index_select(1, self.out_gather)
        parts: List[torch.Tensor] = []
        start = 0
        for k in range(len(self.out_weights)):
            channels, dim = self.out_channels[k], self.out_dims[k]
            block = grouped[:, start:start + channels * dim].reshape(n * dim, channels)
            start += channels * dim
            mixed = torch.mm(block, self.out_weights[k]).view(n, dim, -1)
            parts.append(mixed.transpose(1, 2).reshape(n, -1))
        out = self._gate(skip.index_add(1, self.out_target, torch.cat(parts, dim=1)))
        if self.residual:
            out = out + h
        return out

    def forward(self, h: torch.Tensor, edge_sh: torch.Tensor, edge_radial: torch.Tensor,
                sender: torch.Tensor, receiver: torch.Tensor) -> torch.Tensor:
        if self.fused and not torch.is_grad_enabled():
            return self.forward_blocks(h, edge_sh, edge_radial, sender, receiver, [0, h.shape[0]],
                                       [0, sender.shape[0]])  # one block: every atom, edges in any order
        x = self.linear_in(h)
        messages = self.tp(x[sender], edge_sh, self.radial(edge_radial))
        pooled = torch.zeros((h.shape[0], messages.shape[1]), dtype=h.dtype, device=h.device)
        pooled = pooled.index_add(0, receiver, messages) * self.norm
        out = self.gate(self.linear_out(pooled) + self.self_connection(h))
        if self.residual:
            out = out + h
        return out
