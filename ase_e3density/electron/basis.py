"""Gaussian auxiliary basis sets, shipped as data and readable without PySCF.

A basis function is ``phi(r) = sum_i w_i exp(-a_i r^2) r^l Y_lm(r)`` with ``Y_lm`` e3nn's
real spherical harmonics (see :mod:`ase_e3density.electron.harmonics`), exponents ``a_i`` in
bohr^-2 and weights ``w_i`` chosen so that ``int phi^2 = 1`` (PySCF's normalisation).
Coefficients of one atom are ordered shell by shell, each shell's ``2l+1`` components in
e3nn order; the e3nn irreps of an element's coefficients are :attr:`ElementBasis.irreps`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from importlib import resources
from math import gamma, pi, sqrt

import numpy as np
from ase.data import atomic_numbers, chemical_symbols

from ..errors import UnknownBasisError, UnsupportedElementError
from .gaussians import primitive_norm, radial_overlap
from .harmonics import monomials, solid_harmonic_matrix

__all__ = ["Shell", "ElementBasis", "BasisSet", "load_basis", "available_basis_sets"]

DECONTRACTED_SUFFIX = "-decontracted"


@dataclass(frozen=True)
class Shell:
    """One contracted shell: angular order, exponents (bohr^-2), normalised weights."""

    l: int
    exponents: tuple[float, ...]
    weights: tuple[float, ...]

    @classmethod
    def normalised(cls, l: int, exponents, coefficients) -> "Shell":
        """Shell whose function has unit L2 norm, from raw contraction coefficients."""
        a = np.asarray(exponents, dtype=float)
        c = np.asarray(coefficients, dtype=float) * primitive_norm(l, a)
        c = c / np.sqrt(c @ radial_overlap(l, a[:, None], a[None, :]) @ c)
        return cls(l, tuple(float(x) for x in a), tuple(float(x) for x in c))

    def raw_coefficients(self) -> np.ndarray:
        """Weights with the primitive norms divided out (what PySCF and most codes expect)."""
        return np.asarray(self.weights) / primitive_norm(self.l, np.asarray(self.exponents))

    def radial(self, r2: np.ndarray) -> np.ndarray:
        """``sum_i w_i exp(-a_i r^2)`` at squared distances ``r2`` (bohr^2)."""
        return sum(w * np.exp(-a * r2) for a, w in zip(self.exponents, self.weights))

    @property
    def size(self) -> int:
        return 2 * self.l + 1

    def moments(self, degree: int) -> np.ndarray:
        """``int x^a y^b z^c phi_m(r) d^3r`` in bohr units, shape (2l+1, n_monomials(degree))."""
        h_exps, m_exps = monomials(self.l), monomials(degree)
        out = np.zeros((self.size, len(m_exps)))
        if self.l > degree or (degree - self.l) % 2:
            return out  # orthogonality of spherical harmonics: these vanish exactly
        harm = solid_harmonic_matrix(self.l)  # (2l+1, n_mono(l))
        for j, me in enumerate(m_exps):
            total = h_exps + me[None, :]  # (n_mono(l), 3)
            for a, w in zip(self.exponents, self.weights):
                out[:, j] += w * (harm @ _gaussian_moment_3d(total, a))
        return out

    def radius(self, threshold: float) -> float:
        """Distance (bohr) beyond which ``|sum_m c_m phi_m| < threshold`` for ``|c| = 1``.

        Uses ``|sum_m c_m Y_lm| <= |c| sqrt((2l+1)/4pi)`` (addition theorem) and gives each
        primitive ``threshold / n_primitives``; each primitive's bound falls beyond its peak.
        """
        share = threshold / (sqrt((2 * self.l + 1) / (4 * pi)) * len(self.exponents))
        radius = 0.0
        for a, w in zip(self.exponents, self.weights):
            def f(r: float, a: float = a, w: float = w) -> float:
                return abs(w) * r**self.l * np.exp(-a * r * r) - share

            lo = sqrt(self.l / (2 * a))  # peak of r^l exp(-a r^2)
            if f(lo) <= 0:
                continue
            hi = 2 * lo + 1.0
            while f(hi) > 0:
                lo, hi = hi, 2 * hi
            for _ in range(50):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
            radius = max(radius, hi)
        return radius


def _gaussian_moment_3d(exps: np.ndarray, a: float) -> np.ndarray:
    """``int x^p y^q z^s exp(-a r^2) d^3r`` for rows (p, q, s) of exps."""
    g = np.where(exps % 2 == 0, np.vectorize(lambda n: gamma((n + 1) / 2))(exps) / a ** ((exps + 1) / 2), 0.0)
    return g.prod(axis=1)


@dataclass(frozen=True)
class ElementBasis:
    """The shells of one element, in coefficient order."""

    symbol: str
    shells: tuple[Shell, ...]

    @cached_property
    def n_functions(self) -> int:
        return sum(s.size for s in self.shells)

    @property
    def lmax(self) -> int:
        return max(s.l for s in self.shells)

    @property
    def irreps(self) -> str:
        """e3nn irreps string of this element's coefficients, e.g. ``"5x0e+2x1o+1x2e"``."""
        groups: list[list[int]] = []
        for s in self.shells:
            if groups and groups[-1][1] == s.l:
                groups[-1][0] += 1
            else:
                groups.append([1, s.l])
        return "+".join(f"{n}x{l}{'e' if l % 2 == 0 else 'o'}" for n, l in groups)

    @cached_property
    def shell_slices(self) -> tuple[tuple[Shell, slice], ...]:
        """Each shell with the slice of this element's coefficients it owns."""
        stops = np.cumsum([s.size for s in self.shells]).tolist()
        return tuple((s, slice(stop - s.size, stop)) for s, stop in zip(self.shells, stops))

    @cached_property
    def function_l(self) -> np.ndarray:
        """Angular order of every coefficient, shape (n_functions,)."""
        return np.concatenate([np.full(s.size, s.l) for s in self.shells])

    @cached_property
    def charge_integrals(self) -> np.ndarray:
        """``int phi_k d^3r`` (bohr^3/2), shape (n_functions,); nonzero only for s functions."""
        return np.concatenate([s.moments(0)[:, 0] for s in self.shells])

    @cached_property
    def dipole_integrals(self) -> np.ndarray:
        """``int r phi_k d^3r`` about the atom (bohr^5/2), shape (n_functions, 3)."""
        order = [tuple(e) for e in monomials(1)]
        cols = [order.index(e) for e in [(1, 0, 0), (0, 1, 0), (0, 0, 1)]]
        return np.concatenate([s.moments(1)[:, cols] for s in self.shells])

    @cached_property
    def second_moment_integrals(self) -> np.ndarray:
        """``int r r^T phi_k d^3r`` about the atom (bohr^7/2), shape (n_functions, 3, 3)."""
        index = {tuple(e): i for i, e in enumerate(monomials(2))}
        out = []
        for s in self.shells:
            m = s.moments(2)
            t = np.empty((s.size, 3, 3))
            for i in range(3):
                for j in range(3):
                    e = [0, 0, 0]
                    e[i] += 1
                    e[j] += 1
                    t[:, i, j] = m[:, index[tuple(e)]]
            out.append(t)
        return np.concatenate(out)

    @cached_property
    def moment_integrals(self) -> np.ndarray:
        """Charge, dipole and second-moment integrals side by side, shape (n_functions, 13)."""
        return np.concatenate([self.charge_integrals[:, None], self.dipole_integrals,
                               self.second_moment_integrals.reshape(-1, 9)], axis=1)

    @cached_property
    def overlap_matrix(self) -> np.ndarray:
        """One-centre overlap ``int phi_k phi_k'`` (dimensionless), zero between different (l, m)."""
        n = self.n_functions
        out = np.zeros((n, n))
        for si, rows in self.shell_slices:
            for sj, cols in self.shell_slices:
                if si.l != sj.l:
                    continue
                ai, wi, aj, wj = map(np.asarray, (si.exponents, si.weights, sj.exponents, sj.weights))
                out[rows, cols] = (wi @ radial_overlap(si.l, ai[:, None], aj[None]) @ wj) * np.eye(si.size)
        return out

    def to_dict(self) -> list[dict]:
        return [{"l": s.l, "exponents": list(s.exponents), "weights": list(s.weights)} for s in self.shells]


class BasisSet:
    """An auxiliary basis: a name and one :class:`ElementBasis` per supported element."""

    def __init__(self, name: str, elements: dict[str, ElementBasis]):
        self.name = name
        self.elements = dict(elements)

    def __repr__(self) -> str:
        return f"BasisSet({self.name!r}, {len(self.elements)} elements)"

    def __getitem__(self, symbol: str) -> ElementBasis:
        try:
            return self.elements[symbol]
        except KeyError:
            raise UnsupportedElementError(
                f"element {symbol} is not in basis set {self.name}; supported: {' '.join(self.symbols)}"
            ) from None

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.elements

    @property
    def symbols(self) -> list[str]:
        """Supported element symbols, in order of atomic number."""
        return sorted(self.elements, key=atomic_numbers.__getitem__)

    def check_supported(self, numbers) -> None:
        """Raise :class:`UnsupportedElementError` naming every element that is missing."""
        missing = sorted({chemical_symbols[z] for z in np.asarray(numbers).tolist()} - set(self.elements),
                         key=atomic_numbers.__getitem__)
        if missing:
            raise UnsupportedElementError(
                f"element(s) {', '.join(missing)} not in basis set {self.name}; supported: {' '.join(self.symbols)}"
            )

    def padded_table(self, species: list[str], attribute: str, width: int | None = None) -> np.ndarray:
        """(n_species, width, ...) array of a per-function property of each element, zero padded."""
        width = width or max(self[s].n_functions for s in species)
        first = np.asarray(getattr(self[species[0]], attribute))
        out = np.zeros((len(species), width, *first.shape[1:]))
        for k, s in enumerate(species):
            values = getattr(self[s], attribute)
            out[k, : len(values)] = values
        return out

    def widths(self, symbols) -> np.ndarray:
        """Number of functions of each atom, shape (n,)."""
        symbols = [str(s) for s in symbols]
        sizes = {s: self[s].n_functions for s in sorted(set(symbols))}
        return np.fromiter((sizes[s] for s in symbols), dtype=np.int64, count=len(symbols))

    def unpad(self, rows: np.ndarray, symbols) -> np.ndarray:
        """Flat coefficients (atom by atom) from per-atom rows padded to a common width."""
        rows = np.asarray(rows)
        widths = self.widths(symbols)
        if len(widths) == 0:
            return rows.reshape(-1)[:0]
        return rows[:, : widths.max()][np.arange(widths.max()) < widths[:, None]]

    def pad(self, coefficients: np.ndarray, symbols, width: int) -> np.ndarray:
        """Per-atom rows padded with zeros to ``width``: the inverse of :meth:`unpad`."""
        symbols = list(symbols)
        out = np.zeros((len(symbols), width))
        start = 0
        for a, s in enumerate(symbols):
            n = self[s].n_functions
            out[a, :n] = coefficients[start:start + n]
            start += n
        return out

    def offsets(self, symbols) -> np.ndarray:
        """Start of each atom's coefficients in a flat vector, plus the total, shape (n+1,)."""
        return np.concatenate([[0], np.cumsum(self.widths(symbols))]).astype(np.int64)

    def subset(self, symbols) -> "BasisSet":
        """The same basis restricted to ``symbols``."""
        return BasisSet(self.name, {s: self[s] for s in symbols})

    def to_dict(self) -> dict:
        """JSON-serialisable definition with normalised weights (exponents in bohr^-2)."""
        return {"name": self.name, "normalised": True, "elements": {s: e.to_dict() for s, e in self.elements.items()}}

    @classmethod
    def from_dict(cls, doc: dict) -> "BasisSet":
        """Inverse of :meth:`to_dict`; also reads the raw shipped files (``coefficients``)."""
        elements = {}
        for symbol, shells in doc["elements"].items():
            if doc.get("normalised"):
                built = [Shell(s["l"], tuple(s["exponents"]), tuple(s["weights"])) for s in shells]
            else:
                built = [Shell.normalised(s["l"], s["exponents"], s["coefficients"]) for s in shells]
            elements[symbol] = ElementBasis(symbol, tuple(built))
        return cls(doc["name"], elements)

    def decontracted(self) -> "BasisSet":
        """Every primitive its own shell (duplicates removed), sorted by l then exponent."""
        elements = {}
        for symbol, eb in self.elements.items():
            prims = sorted({(s.l, a) for s in eb.shells for a in s.exponents}, key=lambda p: (p[0], -p[1]))
            elements[symbol] = ElementBasis(symbol, tuple(Shell.normalised(l, [a], [1.0]) for l, a in prims))
        name = self.name if self.name.endswith(DECONTRACTED_SUFFIX) else self.name + DECONTRACTED_SUFFIX
        return BasisSet(name, elements)


def available_basis_sets() -> list[str]:
    """Names accepted by :func:`load_basis`."""
    files = resources.files("ase_e3density") / "data" / "basis"
    names = sorted(p.name[: -len(".json")] for p in files.iterdir() if p.name.endswith(".json"))
    return [n + suffix for n in names for suffix in ("", DECONTRACTED_SUFFIX)]


@lru_cache(maxsize=None)
def load_basis(name: str = "def2-universal-jfit-decontracted") -> BasisSet:
    """A shipped basis by name (case-insensitive); append ``-decontracted`` to decontract it."""
    key = name.lower()
    decontract = key.endswith(DECONTRACTED_SUFFIX)
    stem = key[: -len(DECONTRACTED_SUFFIX)] if decontract else key
    path = resources.files("ase_e3density") / "data" / "basis" / f"{stem}.json"
    if not path.is_file():
        raise UnknownBasisError(f"unknown basis set {name!r}; available: {', '.join(available_basis_sets())}")
    basis = BasisSet.from_dict(json.loads(path.read_text()))
    return basis.decontracted() if decontract else basis
