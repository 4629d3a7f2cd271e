"""The ``torch.export`` form of a network: exported once at deploy time, run without Python network code.

A network's dense inference path processes edges in chunks with a Python loop whose trip count depends
on the edge count; an exported graph would freeze that count at the example's. So every
:class:`~ase_e3density.nn.blocks.Interaction` of the network to export runs its dense path with all edges
in one chunk (the same operations as ``Interaction.forward_blocks`` with one block and one chunk), and the
program is traced without autograd, with the atom, edge and structure counts dynamic.

Example inputs are made from the names of the network's ``forward`` arguments (the graph conventions of
:mod:`ase_e3density.graph.inputs`, see :data:`INPUTS`), so this module holds no kind's name.
"""
from __future__ import annotations

import inspect
import io
import types

import torch

from ..errors import InvalidStructureError, ModelFileError

__all__ = ["INPUTS", "MIN_ATOMS", "MIN_EDGES", "ExportedNetwork", "export_network", "load_program"]

MIN_ATOMS = 2
"""Fewest atoms (all structures of a call together) an exported program accepts."""
MIN_EDGES = 2
"""Fewest edges an exported program accepts."""

INPUTS = ("positions", "species", "occupancy", "edge_index", "edge_shift", "total_charge", "batch")
"""The ``forward`` argument names a network may use to be exportable (the graph layer's conventions):
positions (atoms, 3) Å, species (atoms,) index, occupancy (atoms, species) fractions, edge_index (2, edges),
edge_shift (edges, 3) Å, total_charge (structures,) e, batch (atoms,) structure index."""


def _one_chunk(layer, h: torch.Tensor, edge_sh: torch.Tensor, edge_radial: torch.Tensor, sender: torch.Tensor,
               receiver: torch.Tensor) -> torch.Tensor:
    """A layer's dense path with every edge in one chunk and no Python loop over edge counts."""
    both = torch.addmm(layer.bias_in, h, layer.weight_in)
    x, skip = both[:, :layer.n_in], both[:, layer.n_in:]
    messages = layer._messages(x.index_select(0, sender), edge_sh, edge_radial)
    pooled = torch.zeros((h.shape[0], layer.n_mid), dtype=h.dtype, device=h.device).index_add_(0, receiver, messages)
    return layer._output(h, pooled, skip)


def _example(names: list[str], n_species: int, dtype: torch.dtype) -> tuple[tuple[torch.Tensor, ...], tuple]:
    """Example inputs (two structures of three atoms, every pair an edge) and their dynamic dimensions."""
    unknown = [n for n in names if n not in INPUTS]
    if unknown:
        raise ModelFileError(f"cannot export a network whose forward takes {', '.join(unknown)}; exportable "
                             f"inputs: {', '.join(INPUTS)}")
    atoms, edges = torch.export.Dim("atoms", min=MIN_ATOMS), torch.export.Dim("edges", min=MIN_EDGES)
    structures = torch.export.Dim("structures", min=1)
    gen = torch.Generator().manual_seed(0)
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    pairs = [(i, j) for g in (0, 3) for i in range(g, g + 3) for j in range(g, g + 3) if i != j]
    species = torch.randint(0, n_species, (6,), generator=gen)
    tensors = {
        "positions": (torch.rand((6, 3), generator=gen, dtype=torch.float64).to(dtype) * 1.5, {0: atoms}),
        "species": (species, {0: atoms}),
        "occupancy": (torch.nn.functional.one_hot(species, n_species).to(dtype), {0: atoms}),
        "edge_index": (torch.tensor(pairs).T.contiguous(), {1: edges}),
        "edge_shift": (torch.zeros((len(pairs), 3), dtype=dtype), {0: edges}),
        "total_charge": (torch.zeros(2, dtype=dtype), {0: structures}),
        "batch": (batch, {0: atoms}),
    }
    return tuple(tensors[n][0] for n in names), tuple(tensors[n][1] for n in names)


def export_network(network: torch.nn.Module, n_species: int) -> bytes:
    """The ``.pt2`` bytes of ``network`` (an eager network of :mod:`ase_e3density.nn`, weights loaded) exported
    on its dense path, all edges in one chunk. ``network`` itself is changed (prepared, layers rebound):
    pass a copy."""
    from ..nn.blocks import Interaction

    network = network.eval()
    network.prepare_inference(0)
    for layer in network.modules():
        if isinstance(layer, Interaction):
            layer.forward = types.MethodType(_one_chunk, layer)
    names = list(inspect.signature(network.forward).parameters)
    dtype = next(network.parameters()).dtype
    example, dynamic = _example(names, n_species, dtype)
    with torch.no_grad():
        try:
            program = torch.export.export(network, example, dynamic_shapes=dynamic)
        except Exception as exc:  # torch raises many kinds, with long traces
            raise ModelFileError(f"torch.export could not export this {type(network).__name__} "
                                 f"({str(exc).splitlines()[0]})") from exc
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    return buffer.getvalue()


class ExportedNetwork(torch.nn.Module):
    """An exported program as a network module; inputs below its smallest sizes are refused in one line."""

    def __init__(self, program: torch.export.ExportedProgram, device: torch.device):
        super().__init__()
        self.program = program.module().to(device)
        self.names = list(program.graph_signature.user_inputs)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        given = dict(zip(self.names, inputs))
        n_atoms = given["positions"].shape[0] if "positions" in given else MIN_ATOMS
        n_edges = given["edge_index"].shape[1] if "edge_index" in given else MIN_EDGES
        if n_atoms < MIN_ATOMS or n_edges < MIN_EDGES:
            raise InvalidStructureError(f"{n_atoms} atom(s) with {n_edges} edge(s) within the cutoff: the "
                                        f"torch.export program takes at least {MIN_ATOMS} atoms and {MIN_EDGES} edges; "
                                        "use runtime='torchscript' or 'eager'")
        return self.program(*inputs)


def load_program(data: bytes, device: torch.device) -> ExportedNetwork:
    """The network module of an exported program's ``.pt2`` bytes, on ``device``."""
    try:
        program = torch.export.load(io.BytesIO(data))
    except Exception as exc:  # a program of another torch, or corrupt bytes
        raise ModelFileError(f"the torch.export program could not be loaded ({str(exc).splitlines()[0]})") from exc
    return ExportedNetwork(program, device)
