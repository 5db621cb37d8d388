"""Cost of committee statistics for Behler-Parrinello committees, against the mean-only evaluation.

With committee statistics (member energies and forces, energy_std, forces_std) the
runner calls the model's ``forward_members``: the symmetry functions are computed
once and one multi-seed backward pass through them gives every member's forces.
This prints, per committee and committee size M, the seconds per energy + forces
call without and with the statistics and their ratio (the goal of issue 12 is at
most 1.5x), timed in interleaved rounds after a warm-up (medians, range min-max):

- the bundled copper committee (examples/models/copper-bp.pt, M = 4), fcc copper
  supercell; other sizes M are made by hand from its members (copies of the
  trained networks with slightly perturbed weights, same descriptors);
- a converted n2p2 potential (default ../shared/data/n2p2/Cu2S_PBE beside the
  repository; skipped with a message when absent) on its structure repeated,
  as a committee of M copies of its networks with perturbed weights.

    python bench/bench_committee.py [--members 4 6 8] [--threads 1] [--rounds 5]
                                    [--copper-atoms 864] [--n2p2 DIR] [--n2p2-repeat 2 2 2]

The machine's load average is printed with each block: on a shared machine read
the figures next to it.
"""

import argparse
import copy
import pathlib
import sys
import tempfile
import types
from typing import List, Tuple

import torch

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from bench_ani import interleaved, load_average, median, spread  # noqa: E402
from bench_core import supercell  # noqa: E402

from nnpkit.train.models import StackedCommittee  # noqa: E402

DEFAULT_COPPER = REPO / "examples" / "models" / "copper-bp.pt"
DEFAULT_N2P2 = REPO.parent / "shared" / "data" / "n2p2" / "Cu2S_PBE"


def perturbed_(module: torch.nn.Module, seed: int, relative: float = 0.02) -> torch.nn.Module:
    """Multiply every parameter of ``module`` by (1 + relative * noise): a distinct
    member of about the trained one's quality."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float64).to(parameter.dtype)
            parameter.mul_(1.0 + relative * noise)
    return module


def grown_bp_committee(path: str, n_members: int) -> torch.nn.Module:
    """A BehlerParrinelloModel of ``n_members`` from the model file at ``path``: its
    descriptors, scaling and offsets, member m's networks those of member m mod M
    (perturbed for m >= M)."""
    from nnpkit.models import BehlerParrinelloModel

    scripted = torch.jit.load(path)
    descriptor = scripted.descriptor
    sf_set = types.SimpleNamespace(
        species=list(scripted.species), cutoff=float(scripted.cutoff), n_per_element=list(scripted.n_per_element),
        n_columns=int(descriptor.n_columns), sf_int=descriptor.sf_int, sf_real=descriptor.sf_real,
    )
    dtype = scripted.scale.dtype
    model = BehlerParrinelloModel(sf_set, hidden=list(scripted.hidden), activation=str(scripted.activation),
                                  committee_size=n_members, dtype=dtype)
    trained = int(scripted.committee_size)
    base = BehlerParrinelloModel(sf_set, hidden=list(scripted.hidden), activation=str(scripted.activation),
                                 committee_size=trained, dtype=dtype)
    base.load_state_dict(scripted.state_dict())  # files of every version: old names are mapped
    with torch.no_grad():
        for name in ("scale", "shift", "energy_offset", "descriptor_min", "descriptor_max"):
            model.get_buffer(name).copy_(base.get_buffer(name))
        for e, element in enumerate(model.networks):
            for m, member in enumerate(element.members):
                member.load_state_dict(base.networks[e].members[m % trained].state_dict())
                if m >= trained:
                    perturbed_(member, seed=31 * m + e)
    return model


class N2p2Committee(StackedCommittee):
    """Members that are n2p2 models over the same symmetry functions: computed once
    (member 0's), every member's networks on them; ``forward_members`` as
    BehlerParrinelloModel's."""

    def _member_energies(self, g: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        out: List[torch.Tensor] = []
        copies: List[torch.Tensor] = g.unbind(0) if g.dim() == 3 else []  # one stacked backward, as ElementCommittee
        for m, member in enumerate(self.members):
            out.append(member._energies(copies[m] if g.dim() == 3 else g, species, None)[0])
        return torch.stack(out)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor, n_local: int
    ) -> torch.Tensor:
        g = self.members[0].descriptors(species, edge_index, edge_vectors, n_local)
        return self._member_energies(g, species)

    @torch.jit.export
    def forward_members(
        self, species: torch.Tensor, edge_index: torch.Tensor, member_edge_vectors: torch.Tensor, n_local: int,
        extrapolation: bool,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        g = self.members[0].descriptors(species, edge_index, member_edge_vectors, n_local)
        return self._member_energies(g, species), torch.zeros(0, dtype=torch.int64)


def n2p2_committee(directory: str, n_members: int) -> torch.nn.Module:
    from nnpkit.convert.n2p2 import build_model

    first = build_model(directory, progress=lambda *_: None)
    members = [first] + [perturbed_(copy.deepcopy(first), seed=m) for m in range(1, n_members)]
    return N2p2Committee(members)


def exported(module: torch.nn.Module, folder: str, name: str):
    import nnpkit
    from nnpkit.export import export

    path = str(pathlib.Path(folder) / name)
    export(module.eval(), path)
    return nnpkit.load(path)


def time_block(title: str, models: dict, atoms, rounds: int) -> None:
    print(f"\n{title}: {len(atoms)} atoms; {load_average()}")
    print(f"{'M':>3} | {'mean-only s':>24} | {'committee s':>24} | {'ratio':>5} | {'max|dF| mean':>12}")
    for n_members, model in models.items():
        mean_only = model.compute(atoms, committee_statistics=False, extrapolation=False)
        with_stats = model.compute(atoms, committee_statistics=True, extrapolation=False)
        d_forces = abs(mean_only["forces"] - with_stats["forces"]).max()
        t = interleaved({
            "mean": lambda: model.compute(atoms, committee_statistics=False, extrapolation=False),
            "committee": lambda: model.compute(atoms, committee_statistics=True, extrapolation=False),
        }, rounds)
        ratio = median(t["committee"]) / median(t["mean"])
        print(f"{n_members:>3} | {spread(t['mean'], digits=4):>24} | {spread(t['committee'], digits=4):>24} | "
              f"{ratio:>4.2f}x | {d_forces:>12.1e}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, nargs="+", default=[4, 6, 8])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--copper", default=str(DEFAULT_COPPER), help="a BehlerParrinelloModel committee file")
    parser.add_argument("--copper-atoms", type=int, default=864)
    parser.add_argument("--n2p2", default=str(DEFAULT_N2P2), help="an n2p2 potential directory (input.nn ...)")
    parser.add_argument("--n2p2-repeat", type=int, nargs=3, default=[2, 2, 2],
                        help="repetitions of the n2p2 directory's input.data structure")
    args = parser.parse_args()

    import nnpkit
    from nnpkit.io import read_n2p2_data

    nnpkit.set_num_threads(args.threads)
    print(f"committee statistics / mean-only, energy + forces per call, {args.threads} thread(s), "
          f"{args.rounds} rounds")
    with tempfile.TemporaryDirectory() as folder:
        copper = {m: exported(grown_bp_committee(args.copper, m), folder, f"copper-{m}.pt") for m in args.members}
        time_block(f"BP committee {pathlib.Path(args.copper).name}", copper, supercell(args.copper_atoms),
                   args.rounds)
        n2p2_dir = pathlib.Path(args.n2p2)
        if not (n2p2_dir / "input.nn").is_file():
            print(f"\nn2p2 potential skipped: no input.nn in {n2p2_dir} (pass --n2p2 DIR)")
            return 0
        atoms = read_n2p2_data(str(n2p2_dir / "input.data"))[0] * tuple(args.n2p2_repeat)
        n2p2 = {m: exported(n2p2_committee(str(n2p2_dir), m), folder, f"n2p2-{m}.pt") for m in args.members}
        time_block(f"n2p2 {n2p2_dir.name}, committee of perturbed copies", n2p2, atoms, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
