"""Active learning with a committee: explore with MD, label uncertain frames, retrain.

0. Train a committee of 4 Behler-Parrinello models on a narrow copper data set
   (strained bulk and 300 K snapshots, labelled with ASE's EMT).
Then, for each round:
1. Run Langevin MD at a higher temperature with the current committee, recording
   the maximum per-atom force deviation (DeePMD-kit's model deviation) per step.
2. Label with EMT the frames whose deviation lies between --threshold and
   --trust-high (at least 5 steps apart, most uncertain first). One in six goes
   to a held-out set (the validation set of the next training), the rest is added
   to the training data; every member trains on all training data (members differ
   in their seeds), as in DeePMD-kit.
3. Retrain the committee and score the old and new committee on the frames just
   labelled: the deviation and the error against EMT fall, on the frames trained
   on and on the held-out ones.
A last MD run with the final committee shows how far the deviation fell along the
trajectory. Writes output/deviation.png and output/summary.txt.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from dataclasses import dataclass

import ase.io
import numpy as np
from ase import units
from ase.build import bulk
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta

import nnpkit
from nnpkit.ase import NNPCalculator
from nnpkit.train import config_from_dict, train

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "train-copper"))
from generate_data import labelled, md_snapshots, strained_bulk  # noqa: E402

HELD_OUT_EVERY = 6  # one labelled frame in six is held out for validation


def train_committee(train_file: pathlib.Path, validation_file: pathlib.Path, directory: pathlib.Path,
                    epochs: int) -> nnpkit.Model:
    config = config_from_dict({
        "model": {"species": ["Cu"], "cutoff": 5.0, "hidden": [24, 24],
                  "symmetry_functions": {"n_radial": 10, "r_min": 1.8, "zetas": [1.0, 2.0, 4.0],
                                         "angular_etas": [0.0, 0.03]}},
        "data": {"train": str(train_file), "validation": str(validation_file)},
        "loss": {"sigma_energy": 0.002, "sigma_forces": 0.05},
        "training": {"epochs": epochs, "batch_size": 8, "learning_rate": 0.01, "lr_schedule": "cosine",
                     "min_learning_rate": 1e-4, "early_stopping_patience": 0, "committee": 4, "progress": False},
        "output": {"directory": str(directory), "plots": False},
    })
    return nnpkit.load(train(config, force=True).model_path)  # this script owns its output folders


def explore(model: nnpkit.Model, temperature: float, steps: int, seed: int) -> tuple[list, np.ndarray]:
    """Langevin MD with the committee; frames and max force deviation per step."""
    atoms = bulk("Cu", "fcc", a=3.59, cubic=True) * (2, 2, 2)
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature, rng=rng)
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


def score(model: nnpkit.Model, frames: list) -> tuple[float, float]:
    """Mean max force deviation and force RMSE against EMT (eV/Angstrom) on labelled frames."""
    deviation, errors = [], []
    for atoms in frames:
        r = model.compute(atoms, committee_statistics=True)
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


@dataclass
class Round:
    deviation: np.ndarray  # max deviation per MD step with this round's committee
    chosen: list[int]
    trained: list  # labelled frames added to the training data
    held_out: list  # labelled frames added to the validation data
    scores: dict[str, tuple[float, float]]  # "trained before", ... -> (deviation, RMSE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--temperature", type=float, default=1100.0, help="exploration temperature (K)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.08, help="deviation that triggers labelling (eV/A)")
    parser.add_argument("--trust-high", type=float, default=1.0, help="deviation above which frames are discarded")
    parser.add_argument("--max-frames", type=int, default=36, help="frames labelled per round")
    parser.add_argument("--epochs", type=int, default=400)
    args = parser.parse_args()
    out = HERE / "output"
    out.mkdir(exist_ok=True)
    started = time.perf_counter()

    rng = np.random.default_rng(5)
    initial = strained_bulk(rng, 18) + md_snapshots(rng, [300], 18)
    training_data = [s for i, s in enumerate(initial) if i % 9]
    validation_data = initial[::9]
    print(f"initial data: {len(training_data)} training, {len(validation_data)} validation structures")

    def retrain(r: int) -> nnpkit.Model:
        ase.io.write(out / f"train-{r}.extxyz", training_data)
        ase.io.write(out / f"validation-{r}.extxyz", validation_data)
        return train_committee(out / f"train-{r}.extxyz", out / f"validation-{r}.extxyz", out / f"round-{r}",
                               args.epochs)

    committee = retrain(0)
    rounds: list[Round] = []
    for r in range(args.rounds):
        frames, deviation = explore(committee, args.temperature, args.steps, seed=11)
        chosen = select(deviation, args.threshold, args.trust_high, args.max_frames, spacing=5)
        print(f"round {r + 1}: {int(np.sum(deviation >= args.threshold))} of {len(deviation)} steps above "
              f"{args.threshold} eV/A, mean max deviation {1000 * deviation.mean():.0f} meV/A; "
              f"labelling {len(chosen)}")
        if not chosen:
            rounds.append(Round(deviation, [], [], [], {}))
            break
        new = [labelled(frames[k].copy()) for k in chosen]
        held_out, trained = new[::HELD_OUT_EVERY], [f for i, f in enumerate(new) if i % HELD_OUT_EVERY]
        training_data += trained
        validation_data += held_out
        scores = {f"{part} before": score(committee, part_frames)
                  for part, part_frames in (("trained", trained), ("held-out", held_out))}
        committee = retrain(r + 1)
        scores.update({f"{part} after": score(committee, part_frames)
                       for part, part_frames in (("trained", trained), ("held-out", held_out))})
        rounds.append(Round(deviation, chosen, trained, held_out, scores))
    _, final_deviation = explore(committee, args.temperature, args.steps, seed=11)

    lines = [
        f"initial data: {len(initial)} structures (strained bulk, 300 K MD), 32 atoms; exploration: "
        f"{args.steps} Langevin steps at {args.temperature:.0f} K from the same start; "
        f"threshold {args.threshold} eV/A, trust-high {args.trust_high} eV/A",
    ]
    for r, rd in enumerate(rounds, start=1):
        lines.append(f"round {r}: {int(np.sum(rd.deviation >= args.threshold))} of {len(rd.deviation)} steps above "
                     f"the threshold (mean max deviation {1000 * rd.deviation.mean():.0f} meV/A); labelled "
                     f"{len(rd.chosen)}: {len(rd.trained)} trained on, {len(rd.held_out)} held out")
        for part in ("trained", "held-out"):
            if f"{part} before" in rd.scores:
                (d0, e0), (d1, e1) = rd.scores[f"{part} before"], rd.scores[f"{part} after"]
                lines.append(f"  {part:8s} frames: mean max deviation {1000 * d0:4.0f} -> {1000 * d1:4.0f} meV/A, "
                             f"force RMSE vs EMT {1000 * e0:4.0f} -> {1000 * e1:4.0f} meV/A")
    lines.append(f"final committee: {int(np.sum(final_deviation >= args.threshold))} of {len(final_deviation)} "
                 f"steps above the threshold (mean max deviation {1000 * final_deviation.mean():.0f} meV/A)")
    lines.append(f"total {time.perf_counter() - started:.0f} s")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    np.savez(out / "deviation.npz", final=final_deviation,
             **{f"round{r}": rd.deviation for r, rd in enumerate(rounds, start=1)})
    plot(rounds, final_deviation, args.threshold, out / "deviation.png")


def plot(rounds: list[Round], final_deviation: np.ndarray, threshold: float, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    curves = [rd.deviation for rd in rounds] + [final_deviation]
    for k, deviation in enumerate(curves):
        label = "initial committee" if k == 0 else f"after round {k}"
        steps = np.arange(1, len(deviation) + 1)
        axes[0].semilogy(steps, deviation, label=label, lw=1)
        if k < len(rounds) and rounds[k].chosen:
            chosen = np.array(rounds[k].chosen)
            axes[0].plot(chosen + 1, deviation[chosen], "o", ms=3, mfc="none", color=f"C{k}")
    axes[0].axhline(threshold, color="0.4", ls="--", lw=1, label="threshold")
    axes[0].set_ylim(bottom=0.3 * threshold)  # the perfect starting lattice has zero deviation
    axes[0].set_xlabel("MD step (same start and thermostat noise each time)")
    axes[0].set_ylabel("max per-atom force deviation (eV/A)")
    axes[0].set_title("exploration MD; circles: frames labelled with EMT")
    axes[0].legend(fontsize=8)

    bars = [(r, part) for r, rd in enumerate(rounds, start=1) for part in ("trained", "held-out")
            if f"{part} before" in rd.scores]
    x = np.arange(len(bars))
    for offset, (when, hatch) in zip((-0.2, 0.2), (("before", ""), ("after", "//"))):
        deviation = [1000 * rounds[r - 1].scores[f"{part} {when}"][0] for r, part in bars]
        error = [1000 * rounds[r - 1].scores[f"{part} {when}"][1] for r, part in bars]
        axes[1].bar(x + offset - 0.1, deviation, 0.2, color="C0", hatch=hatch, edgecolor="k",
                    label=f"deviation, {when} retraining")
        axes[1].bar(x + offset + 0.1, error, 0.2, color="C3", hatch=hatch, edgecolor="k",
                    label=f"RMSE vs EMT, {when} retraining")
    axes[1].set_xticks(x, [f"round {r}\n{part}" for r, part in bars])
    axes[1].set_ylabel("meV/A")
    axes[1].set_title("on the labelled frames")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
