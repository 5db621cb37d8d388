"""Active learning with a committee: explore with MD, label uncertain frames, retrain.

1. Train a committee of 4 Behler-Parrinello models on a narrow copper data set
   (strained bulk and 300 K snapshots, labelled with ASE's EMT).
2. Run Langevin MD at a higher temperature with the committee and record the
   maximum per-atom force deviation (DeePMD-kit's model deviation) at each step.
3. Frames whose deviation lies between --threshold and --trust-high are labelled
   with EMT and added to the data; the committee is retrained.
4. The same MD is run again with the new committee, and both committees are
   evaluated on the selected frames: deviation and force error against EMT fall.

Writes output/deviation.png (max deviation per step before and after) and
output/summary.txt. About 3-5 minutes on two cores.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import ase.io
import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

import nnpkit
from nnpkit.ase import NNPCalculator
from nnpkit.train import config_from_dict, train

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "train-copper"))
from generate_data import labelled, md_snapshots, strained_bulk  # noqa: E402


def train_committee(data_file: pathlib.Path, directory: pathlib.Path, epochs: int) -> nnpkit.Model:
    config = config_from_dict({
        "model": {"species": ["Cu"], "cutoff": 5.0, "hidden": [24, 24],
                  "symmetry_functions": {"n_radial": 10, "r_min": 1.8, "zetas": [1.0, 2.0, 4.0],
                                         "angular_etas": [0.0, 0.03]}},
        "data": {"train": str(data_file), "validation_fraction": 0.1},
        "loss": {"sigma_energy": 0.002, "sigma_forces": 0.05},
        "training": {"epochs": epochs, "batch_size": 8, "learning_rate": 0.01, "lr_schedule": "cosine",
                     "min_learning_rate": 1e-4, "early_stopping_patience": 0, "committee": 4, "progress": False},
        "output": {"directory": str(directory), "plots": False},
    })
    return nnpkit.load(train(config).model_path)


def explore(model: nnpkit.Model, temperature: float, steps: int, seed: int) -> tuple[list, np.ndarray]:
    """Langevin MD with the committee; frames and max force deviation per step."""
    atoms = bulk("Cu", "fcc", a=3.59, cubic=True) * (2, 2, 2)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    atoms.calc = NNPCalculator(model, committee_statistics=True)
    dyn = Langevin(atoms, 2 * units.fs, temperature_K=temperature, friction=0.05, rng=rng, fixcm=False)
    frames, deviation = [], []

    def record():
        atoms.get_forces()
        frames.append(atoms.copy())
        deviation.append(float(np.max(atoms.calc.results["forces_std"])))

    dyn.attach(record, interval=1)
    dyn.run(steps)
    return frames, np.array(deviation)


def committee_on(model: nnpkit.Model, frames: list) -> tuple[float, float]:
    """Mean max force deviation and force RMSE against EMT (eV/Angstrom) on labelled frames."""
    deviation, errors = [], []
    for atoms in frames:
        r = model.compute(atoms)
        deviation.append(float(r["forces_std"].max()))
        errors.append(r["forces"] - atoms.get_forces())
    return float(np.mean(deviation)), float(np.sqrt(np.mean(np.square(np.concatenate(errors)))))


def select(deviation: np.ndarray, low: float, high: float, max_frames: int, spacing: int) -> list[int]:
    """Steps with low <= deviation < high, at least ``spacing`` apart, most uncertain first."""
    chosen: list[int] = []
    for step in np.argsort(-deviation):
        if low <= deviation[step] < high and all(abs(step - c) >= spacing for c in chosen):
            chosen.append(int(step))
        if len(chosen) == max_frames:
            break
    return sorted(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--temperature", type=float, default=1100.0, help="exploration temperature (K)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--threshold", type=float, default=0.08, help="deviation that triggers labelling (eV/A)")
    parser.add_argument("--trust-high", type=float, default=2.0, help="deviation above which frames are discarded")
    parser.add_argument("--max-frames", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=300)
    args = parser.parse_args()
    out = HERE / "output"
    out.mkdir(exist_ok=True)
    started = time.perf_counter()

    rng = np.random.default_rng(5)
    initial = strained_bulk(rng, 16) + md_snapshots(rng, [300], 16)
    ase.io.write(out / "initial.extxyz", initial)
    before = train_committee(out / "initial.extxyz", out / "round-0", args.epochs)

    frames, dev_before = explore(before, args.temperature, args.steps, seed=11)
    chosen = select(dev_before, args.threshold, args.trust_high, args.max_frames, spacing=5)
    if not chosen:
        print(f"no frame above {args.threshold} eV/A: the committee is already confident here")
        return
    new_frames = [labelled(frames[k].copy()) for k in chosen]
    ase.io.write(out / "labelled.extxyz", new_frames)
    ase.io.write(out / "extended.extxyz", initial + new_frames)
    after = train_committee(out / "extended.extxyz", out / "round-1", args.epochs)
    _, dev_after = explore(after, args.temperature, args.steps, seed=11)

    dev_old, err_old = committee_on(before, new_frames)
    dev_new, err_new = committee_on(after, new_frames)
    dev_fixed_new = np.array([float(after.compute(f)["forces_std"].max()) for f in frames])
    lines = [
        f"initial data: {len(initial)} structures; exploration: {args.steps} MD steps at {args.temperature:.0f} K",
        f"frames above {args.threshold} eV/A: {int(np.sum(dev_before >= args.threshold))} of {len(dev_before)}; "
        f"labelled {len(chosen)} with EMT and retrained",
        f"on the labelled frames: mean max deviation {1000 * dev_old:.0f} -> {1000 * dev_new:.0f} meV/A, "
        f"force RMSE vs EMT {1000 * err_old:.0f} -> {1000 * err_new:.0f} meV/A",
        f"along the first trajectory: mean max deviation {1000 * dev_before.mean():.0f} -> "
        f"{1000 * dev_fixed_new.mean():.0f} meV/A",
        f"MD with the new committee: mean max deviation {1000 * dev_after.mean():.0f} meV/A, "
        f"{int(np.sum(dev_after >= args.threshold))} steps above the threshold",
        f"total {time.perf_counter() - started:.0f} s",
    ]
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    np.savez(out / "deviation.npz", before=dev_before, before_rescored=dev_fixed_new, after=dev_after,
             chosen=np.array(chosen))
    plot(dev_before, dev_fixed_new, dev_after, chosen, args.threshold, out / "deviation.png")


def plot(before, before_rescored, after, chosen, threshold, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    steps = np.arange(1, len(before) + 1)
    axes[0].semilogy(steps, before, label="initial committee")
    axes[0].semilogy(steps, before_rescored, label="retrained committee, same frames")
    axes[0].plot(np.array(chosen) + 1, before[chosen], "o", ms=4, mfc="none", color="C3", label="labelled with EMT")
    axes[0].set_title("exploration trajectory (run with the initial committee)")
    axes[1].semilogy(steps, before, label="MD with the initial committee", alpha=0.7)
    axes[1].semilogy(np.arange(1, len(after) + 1), after, label="MD with the retrained committee")
    axes[1].set_title("MD from the same start, before and after")
    for ax in axes:
        ax.set_ylim(bottom=0.3 * threshold)  # the perfect starting lattice has zero deviation
        ax.axhline(threshold, color="0.4", ls="--", lw=1, label="threshold")
        ax.set_xlabel("MD step")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("max per-atom force deviation (eV/A)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
