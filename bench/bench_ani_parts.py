"""ANI-2x on a water box, part by part: where an energy + forces call spends its time.

Times each stage of ``Model.compute`` on its own, in this process, 1 thread by
default, interleaved over rounds (medians, range min-max):

- the neighbour search (``nnpkit._core.neighbor_list``, radial cutoff);
- the ``ani_aev`` operator: forward, and forward + vector-Jacobian product (a
  fixed random seed for dE/dAEV);
- the ``ani_networks`` operator on the box's AEV layout (its species' columns only),
  forward + backward, with its multiply-adds per call and the rate they run at;
- the whole ``Model.compute`` (mean only).

The parts do not add up to the whole exactly (the whole has the runner's edge
passes, the autograd engine and Python around them), but they say which stage to
work on. Compare the networks' rate with the machine's multiply-add peak.

    python bench/bench_ani_parts.py [--size 1000] [--dtype float32] [--threads 1] [--rounds 5]

Needs the ANI-2x NeuroChem files (../shared/data/ani-model-zoo beside the repository,
or --info pointing at ani-2x_8x.info).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

import torch

REPO = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))
from bench_ani import DEFAULT_INFO, interleaved, load_average, median, spread, water_box  # noqa: E402


def network_layers(module: torch.jit.ScriptModule, active: list[int]) -> tuple[list, list, list, torch.Tensor, int]:
    """The ``ani_networks`` operator's weights, biases and layer counts for the AEV of
    the ``active`` species (model indices), its column map, and the multiply-adds of
    one row per element (forward; the backward takes as many)."""
    columns = module._aev_columns(torch.tensor(active))
    weights: list[torch.Tensor] = []
    biases: list[torch.Tensor] = []
    n_layers: list[int] = []
    macs_per_row: dict[int, int] = {}
    for e, network in enumerate(module.networks.children()):
        if e not in active:
            n_layers.append(0)
            continue
        w, b = network.operator_layers(network.first_layer_columns(columns))
        weights += w
        biases += b
        n_layers.append(len(w))
        macs_per_row[e] = int(w[0].shape[0] * b[0].shape[1]) + sum(int(x.shape[1] * x.shape[2]) for x in w[1:])
    return weights, biases, n_layers, columns, macs_per_row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1000, help="atoms of the water box (about)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--info", default=str(DEFAULT_INFO), help="ANI-2x's ani-2x_8x.info")
    args = parser.parse_args()
    info = pathlib.Path(args.info)
    if not info.exists():
        print(f"skipped: no ANI-2x NeuroChem files at {info}")
        return 0

    import nnpkit
    from nnpkit.convert.ani import convert_neurochem

    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    path = pathlib.Path(tempfile.mkdtemp(prefix="bench-ani-parts-")) / f"ani2x-{args.dtype}.pt"
    convert_neurochem(info, path, dtype=dtype)
    model = nnpkit.load(path)
    module = torch.jit.load(str(path))
    for parameter in module.parameters():
        parameter.requires_grad_(False)

    atoms = water_box(args.size)
    n = len(atoms)
    positions, cell = atoms.get_positions(), atoms.cell.array
    edge_index, _, vectors = nnpkit._core.neighbor_list(positions, cell, [True] * 3, float(module.cutoff))
    edge_index = torch.from_numpy(edge_index)
    vectors = torch.from_numpy(vectors).to(dtype)
    symbols = list(module.species)
    active = sorted({symbols.index(s) for s in atoms.get_chemical_symbols()})
    remap = {s: k for k, s in enumerate(active)}
    species = torch.tensor([symbols.index(s) for s in atoms.get_chemical_symbols()])
    aev_species = torch.tensor([remap[int(s)] for s in species])
    weights, biases, n_layers, columns, macs_per_row = network_layers(module, active)
    width = int(columns.numel())
    seed = torch.rand(n, width, dtype=dtype, generator=torch.Generator().manual_seed(1))
    aev_rows = (torch.rand(n, width, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 0.5).to(dtype)
    macs = 2 * sum(macs_per_row[int(s)] for s in species) * int(biases[0].shape[0])

    def aev_forward() -> None:
        with torch.no_grad():
            module.aev(vectors, edge_index, aev_species, len(active), n)

    def aev_with_vjp() -> None:
        x = vectors.clone().requires_grad_(True)
        module.aev(x, edge_index, aev_species, len(active), n).backward(seed)

    def networks() -> None:
        x = aev_rows.clone().requires_grad_(True)
        energies = torch.ops.nnpkit.ani_networks(x, species, n, weights, biases, n_layers, module.energy_offset,
                                                 float(module.celu_alpha), None, None)
        energies.mean(0).sum().backward()

    contenders = {
        "neighbour list": lambda: nnpkit._core.neighbor_list(positions, cell, [True] * 3, float(module.cutoff)),
        "AEV forward": aev_forward,
        "AEV forward + VJP": aev_with_vjp,
        "networks fwd + bwd": networks,
        "Model.compute": lambda: model.compute(atoms, committee_statistics=False, extrapolation=False),
    }
    times = interleaved(contenders, args.rounds, calls=3)
    print(f"ANI-2x, {n}-atom water box, {args.dtype}, {args.threads} thread(s), {args.rounds} rounds; {load_average()}")
    print(f"{'part':>20} | {'ms per call':>22}")
    for name, t in times.items():
        print(f"{name:>20} | {spread(t, 1e3, 2):>22}")
    rate = macs / median(times["networks fwd + bwd"]) / 1e9
    print(f"networks: {macs / 1e9:.3f} GMAC per call (forward and backward, {width} AEV columns), {rate:.1f} GMAC/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
