"""Model types the trainer knows, behind one small interface.

A :class:`ModelType` builds a module from the config, fits its input statistics
from the training structures, makes an evaluator (per-atom energies and their
gradients with respect to edge vectors, differentiable in the parameters), and
combines trained members into one committee module. New model families (ANI,
...) plug in with :func:`register_model_type`.
"""

import warnings
from typing import Any, Callable, List, Sequence

import torch

from ..models import BehlerParrinelloModel, DescriptorModel, MessagePassingModel, MessagePassingSizes, SymmetryFunctionSet
from .config import ModelConfig
from .data import Batch, Structure


def edge_gradients_to_atoms(batch: Batch, grad: torch.Tensor, need_virial: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """dE/dx per atom (r_e = x_j - x_i: +dE/dr_e to j, -dE/dr_e to i) and the virial
    W = -sum_e r_e (x) dE/dr_e of each structure, from per-edge gradients."""
    centre, neighbour = batch.edge_index[0], batch.edge_index[1]
    de_dx = torch.zeros(batch.species.shape[0], 3, dtype=grad.dtype)
    de_dx = de_dx.index_add(0, neighbour, grad).index_add(0, centre, -grad)
    virial = None
    if need_virial:
        per_edge = batch.edge_vectors.unsqueeze(2) * grad.unsqueeze(1)
        virial = -torch.zeros(batch.n_structures, 3, 3, dtype=grad.dtype).index_add(0, batch.edge_structure, per_edge)
    return de_dx, virial


class Evaluator:
    """Energies and their position derivatives through the module's own forward.

    ``dE/dr_e`` comes from ``torch.autograd.grad(E, edge_vectors, create_graph=...)``;
    the descriptor operators give the double backward needed for force training
    as long as parameter gradients are taken with ``torch.autograd.grad``.
    Called as ``evaluator(batch, need_forces, need_virial, create_graph)`` and returns
    (atom energies [N], dE/dx [N, 3] or None, virial [S, 3, 3] or None).
    """

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module

    def __call__(
        self, batch: Batch, need_forces: bool, need_virial: bool, create_graph: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        need_gradients = need_forces or need_virial
        vectors = batch.edge_vectors
        if need_gradients:
            vectors = vectors.detach().requires_grad_(True)
        with torch.set_grad_enabled(need_gradients or create_graph):
            energies = self.module(batch.species, batch.edge_index, vectors, batch.species.shape[0])
            if energies.dim() == 2:  # committee: train and report on the mean
                energies = energies.mean(0)
            if not need_gradients:
                return energies, None, None
            (grad,) = torch.autograd.grad(energies.sum(), vectors, create_graph=create_graph)
        de_dx, virial = edge_gradients_to_atoms(batch, grad, need_virial)
        return energies, de_dx, virial


#: store dE/dx = D @ vec(dE/dG) densely when D has more than this fraction of non-zeros
DENSE_FRACTION = 0.05


def _product(matrices: tuple[torch.Tensor, ...], v: torch.Tensor) -> torch.Tensor:
    return matrices[0] @ v if len(matrices) == 1 else _SparseProduct.apply(v, *matrices)


class _SparseProduct(torch.autograd.Function):
    """y = A @ v for a constant sparse A, with A^T stored beforehand: torch's own
    sparse backward would transpose (sort) A on every step."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, matrix: torch.Tensor, transposed: torch.Tensor) -> torch.Tensor:
        ctx.transposed = transposed
        return torch.sparse.mm(matrix, v)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return torch.sparse.mm(ctx.transposed, grad), None, None


class DescriptorCache:
    """Behler-Parrinello fast path: the symmetry functions G and their derivatives
    depend on geometry only, so they are computed once per structure. The
    operator's VJP with a one-hot column k gives every ``dG[centre(e), k] / dr_e``
    at once (each edge belongs to one centre). These are folded into a sparse
    matrix D (dense when most entries are non-zero) with ``dE/dx = D @ vec(dE/dG)`` and a dense V with ``virial = V @ vec(dE/dG)``,
    so a training step is the networks plus one sparse product per structure.
    Committee members share the descriptors, so one cache serves them all."""

    def __init__(self, module: DescriptorModel, structures: Sequence[Structure]) -> None:
        self.descriptors: list[torch.Tensor] = []
        self.position_matrices: list[tuple[torch.Tensor, ...]] = []  # (dense,) or (sparse, transposed)
        self.virial_matrices: list[torch.Tensor] = []
        for s in structures:
            vectors = s.edge_vectors.detach().requires_grad_(True)
            with torch.enable_grad():
                g = module.descriptors(s.species, s.edge_index, vectors, s.n_atoms)
                columns = []
                for k in range(g.shape[1]):
                    one_hot = torch.zeros_like(g)
                    one_hot[:, k] = 1.0
                    (dg,) = torch.autograd.grad(g, vectors, one_hot, retain_graph=k + 1 < g.shape[1])
                    columns.append(dg)
            self.descriptors.append(g.detach())
            jacobian = torch.stack(columns, dim=1)  # [E, K, 3]
            self.position_matrices.append(self._position_matrix(s, jacobian))
            self.virial_matrices.append(self._virial_matrix(s, jacobian))

    @staticmethod
    def _position_matrix(s: Structure, jacobian: torch.Tensor) -> torch.Tensor:
        n, k = s.n_atoms, jacobian.shape[1]
        centre, neighbour = s.edge_index[0], s.edge_index[1]
        cols = (centre.view(-1, 1, 1) * k + torch.arange(k).view(1, -1, 1)).expand(-1, k, 3)
        comp = torch.arange(3).view(1, 1, 3)
        rows = torch.cat([(3 * neighbour.view(-1, 1, 1) + comp).expand(-1, k, 3),
                          (3 * centre.view(-1, 1, 1) + comp).expand(-1, k, 3)]).reshape(-1)
        values = torch.cat([jacobian, -jacobian]).reshape(-1)
        indices = torch.stack([rows, torch.cat([cols, cols]).reshape(-1)])
        with warnings.catch_warnings():  # "sparse CSR support is in beta": the product we use works
            warnings.simplefilter("ignore", UserWarning)
            matrix = torch.sparse_coo_tensor(indices, values, (3 * n, n * k)).coalesce()
            if matrix._nnz() > DENSE_FRACTION * (3 * n) * (n * k):
                # small periodic cells: every atom sees every other, and dense is ~5x faster
                return (matrix.to_dense(),)
            return matrix.to_sparse_csr(), matrix.t().coalesce().to_sparse_csr()

    @staticmethod
    def _virial_matrix(s: Structure, jacobian: torch.Tensor) -> torch.Tensor:
        # W_ab = -sum_e r_a dE/dr_b,  dE/dr_e,b = sum_k dE/dG[centre(e), k] J[e, k, b]
        n, k = s.n_atoms, jacobian.shape[1]
        per_edge = -s.edge_vectors.view(-1, 1, 3, 1) * jacobian.unsqueeze(2)  # [E, K, a, b]
        per_centre = torch.zeros(n, k, 3, 3, dtype=jacobian.dtype).index_add(0, s.edge_index[0], per_edge)
        return per_centre.permute(2, 3, 0, 1).reshape(9, n * k).contiguous()


class CachedDescriptorEvaluator:
    """Energies and position derivatives of a :class:`~nnpkit.models.DescriptorModel`
    (Behler-Parrinello, ANI) from a :class:`DescriptorCache` of its full descriptor rows
    (``batch.indices`` index the structures it was built from), through the module's
    ``energies_from_descriptors``."""

    def __init__(self, module: DescriptorModel, cache: DescriptorCache) -> None:
        self.module = module
        self.cache = cache

    def __call__(
        self, batch: Batch, need_forces: bool, need_virial: bool, create_graph: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        need_gradients = need_forces or need_virial
        g = torch.cat([self.cache.descriptors[i] for i in batch.indices])
        with torch.set_grad_enabled(need_gradients or create_graph):
            if need_gradients:
                g = g.requires_grad_(True)
            energies = self.module.energies_from_descriptors(g, batch.species, None).mean(0)
            if not need_gradients:
                return energies, None, None
            (de_dg,) = torch.autograd.grad(energies.sum(), g, create_graph=create_graph)
            de_dx, virial, start = [], [], 0
            for i in batch.indices:
                n = self.cache.descriptors[i].shape[0]
                v = de_dg[start : start + n].reshape(-1, 1)
                start += n
                if need_forces:
                    de_dx.append(_product(self.cache.position_matrices[i], v).view(n, 3))
                if need_virial:
                    virial.append((self.cache.virial_matrices[i] @ v).view(3, 3))
        return (energies, torch.cat(de_dx) if need_forces else None,
                torch.stack(virial) if need_virial else None)


class ModelType:
    """Interface of a trainable model family."""

    name: str = ""

    def build(self, config: ModelConfig, species: list[str], dtype: torch.dtype) -> torch.nn.Module:
        raise NotImplementedError

    def fit_inputs(self, module: torch.nn.Module, structures: Sequence[Structure]) -> dict[str, Any]:
        """Fit input statistics from training structures; returns metadata to export."""
        return {}

    def copy_inputs(self, source: torch.nn.Module, target: torch.nn.Module) -> None:
        """Give ``target`` the fitted input statistics and energy offsets of ``source``."""
        with torch.no_grad():
            for name, buffer in source.named_buffers():
                target.get_buffer(name).copy_(buffer)

    def set_energy_offsets(self, module: torch.nn.Module, offsets: torch.Tensor) -> None:
        """Per-element energies added to every atom's network output (fitted by least squares)."""
        with torch.no_grad():
            module.get_buffer("energy_offset").copy_(offsets)

    def cache(self, module: torch.nn.Module, structures: Sequence[Structure]) -> Any:
        """Geometry-only data worth computing once per structure: the descriptors of a
        :class:`~nnpkit.models.DescriptorModel` (None for other modules)."""
        return DescriptorCache(module, structures) if isinstance(module, DescriptorModel) else None

    def evaluator(self, module: torch.nn.Module, cache: Any) -> Callable:
        """An :class:`Evaluator`, or with a :class:`DescriptorCache` from :meth:`cache`
        a :class:`CachedDescriptorEvaluator`."""
        return Evaluator(module) if cache is None else CachedDescriptorEvaluator(module, cache)

    def combine(self, members: Sequence[torch.nn.Module]) -> torch.nn.Module:
        return members[0] if len(members) == 1 else StackedCommittee(members)


class StackedCommittee(torch.nn.Module):
    """Committee of independent modules of one type: per-atom energies [M, N]."""

    # TorchScript reads attribute types from the class body
    species: List[str]
    cutoff: float
    interaction_range: float
    committee_size: int
    model_type: str

    def __init__(self, members: Sequence[torch.nn.Module]) -> None:
        super().__init__()
        first = members[0]
        self.members = torch.nn.ModuleList(members)
        self.species = list(first.species)
        self.cutoff = float(first.cutoff)
        self.interaction_range = float(first.interaction_range)
        self.committee_size = len(members)
        self.model_type = str(first.model_type)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        out: list[torch.Tensor] = []
        for member in self.members:
            out.append(member(species, edge_index, edge_vectors, n_local))
        return torch.stack(out)


class BehlerParrinelloType(ModelType):
    name = "behler_parrinello"

    def build(self, config: ModelConfig, species: list[str], dtype: torch.dtype) -> torch.nn.Module:
        options = dict(config.symmetry_functions)
        try:
            sf_set = SymmetryFunctionSet.standard(species, config.cutoff, **options)
        except TypeError as error:
            raise ValueError(f"config 'model.symmetry_functions': {error}") from None
        self.sf_set = sf_set
        module = BehlerParrinelloModel(sf_set, hidden=config.hidden, activation=config.activation or "tanh",
                                       dtype=dtype)
        small_output_layers(module)
        return module

    def fit_inputs(self, module: torch.nn.Module, structures: Sequence[Structure]) -> dict[str, Any]:
        with torch.no_grad():
            descriptors = torch.cat([module.descriptors(s.species, s.edge_index, s.edge_vectors, s.n_atoms)
                                     for s in structures])
            species = torch.cat([s.species for s in structures])
        # scaling and the training range (for extrapolation flags)
        module.fit_scaling(descriptors, species, training_range=True)
        return {"descriptor_ranges": module.training_ranges()}

    def combine(self, members: Sequence[torch.nn.Module]) -> torch.nn.Module:
        if len(members) == 1:
            return members[0]
        first = members[0]
        dtype = first.scale.dtype
        committee = BehlerParrinelloModel(
            self.sf_set, hidden=first.hidden, activation=first.activation, committee_size=len(members), dtype=dtype
        )
        with torch.no_grad():
            for name in ("scale", "shift", "energy_offset", "descriptor_min", "descriptor_max"):
                committee.get_buffer(name).copy_(first.get_buffer(name))
            for m, member in enumerate(members):
                for element, network in zip(committee.networks, member.networks):
                    element.members[m].load_state_dict(network.members[0].state_dict())
        return committee


class MessagePassingType(ModelType):
    name = "message_passing"

    def build(self, config: ModelConfig, species: list[str], dtype: torch.dtype) -> torch.nn.Module:
        sizes = MessagePassingSizes(n_layers=config.n_layers, features=config.features, n_basis=config.n_basis)
        module = MessagePassingModel(species, config.cutoff, sizes, dtype=dtype)
        small_output_layers(module)
        return module


def small_output_layers(module: torch.nn.Module, factor: float = 0.1) -> None:
    """Start near the fitted per-element offsets: shrink each network's last layer,
    so the first steps do not fight large random energies."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, torch.nn.Sequential) and isinstance(sub[-1], torch.nn.Linear) and sub[-1].out_features == 1:
                sub[-1].weight.mul_(factor)
                sub[-1].bias.zero_()


_MODEL_TYPES: dict[str, Callable[[], ModelType]] = {
    BehlerParrinelloType.name: BehlerParrinelloType,
    MessagePassingType.name: MessagePassingType,
}


def register_model_type(name: str, factory: Callable[[], ModelType]) -> None:
    """Make ``model.type: name`` trainable (e.g. an ANI model type)."""
    _MODEL_TYPES[name] = factory


def model_type(name: str) -> ModelType:
    if name not in _MODEL_TYPES:
        raise ValueError(f"config 'model.type': unknown model type '{name}' (known: {sorted(_MODEL_TYPES)})")
    return _MODEL_TYPES[name]()
