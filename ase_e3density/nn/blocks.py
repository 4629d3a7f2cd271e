"""One interaction block: edge tensor products weighted by a radial MLP, then a gate."""
from __future__ import annotations

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

    def forward(self, h: torch.Tensor, edge_sh: torch.Tensor, edge_radial: torch.Tensor,
                sender: torch.Tensor, receiver: torch.Tensor) -> torch.Tensor:
        x = self.linear_in(h)
        messages = self.tp(x[sender], edge_sh, self.radial(edge_radial))
        pooled = torch.zeros((h.shape[0], messages.shape[1]), dtype=h.dtype, device=h.device)
        pooled = pooled.index_add(0, receiver, messages) * self.norm
        out = self.gate(self.linear_out(pooled) + self.self_connection(h))
        if self.residual:
            out = out + h
        return out
