"""Train the bundled copper model and validate it against EMT.

    python run.py            # generate EMT data (if absent), train 4 members, validate
    python run.py --validate # only validate output/copper-bp.pt (else the bundled ../models/copper-bp.pt)
    python run.py --install  # also copy output/copper-bp.pt over the bundled ../models/copper-bp.pt

Writes output/copper-bp.pt (--install copies it to ../models/copper-bp.pt, the model
`make demo` runs), output/report.txt,
output/*.png (learning curves, parity) and output/validation.txt: energy and force
errors on held-out structures, lattice constant, bulk modulus and vacancy
formation energy of the committee against EMT.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import time
import warnings

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState
from ase.optimize import BFGS

import nnpkit
from nnpkit.ase import NNPCalculator
from nnpkit.train import load_config, train
from nnpkit.train.report import format_metrics

HERE = pathlib.Path(__file__).resolve().parent


def lattice_constant_and_bulk_modulus(calc) -> tuple[float, float]:
    """Birch-Murnaghan fit of the conventional fcc cell from -3% to +3% in a."""
    volumes, energies = [], []
    for a in np.linspace(3.59 * 0.97, 3.59 * 1.03, 9):
        atoms = bulk("Cu", "fcc", a=a, cubic=True)
        atoms.calc = calc
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    v0, _, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    return v0 ** (1 / 3), b / units.GPa


def vacancy_formation_energy(calc, a: float, relax: bool) -> float:
    """E(N-1 with vacancy) - (N-1)/N E(N) in a 3x3x3 conventional cell (108 sites)."""
    perfect = bulk("Cu", "fcc", a=a, cubic=True) * (3, 3, 3)
    perfect.calc = calc
    e_bulk = perfect.get_potential_energy()
    defect = perfect.copy()
    del defect[0]
    defect.calc = calc
    if relax:
        BFGS(defect, logfile=None).run(fmax=0.005, steps=200)
    return defect.get_potential_energy() - (len(defect) / len(perfect)) * e_bulk


def validate(model_path: pathlib.Path, out: pathlib.Path) -> dict:
    import ase.io

    model = nnpkit.load(model_path)
    # the E-V scan strains the crystal beyond the training data on purpose: no warnings there
    nnp, emt = NNPCalculator(model, extrapolation=False), EMT()
    results: dict = {"committee_size": model.committee_size}
    # errors of the exported committee (mean) on the held-out test structures, by kind
    test = ase.io.read(HERE / "test.extxyz", index=":")
    e_err, f_err, f_ref, deviation, flagged = [], [], [], [], 0
    for atoms in test:
        with warnings.catch_warnings():  # counted below instead
            warnings.simplefilter("ignore", nnpkit.ExtrapolationWarning)
            r = model.compute(atoms, committee_statistics=True)
        flagged += int(r.get("extrapolation_counts", np.zeros(1)).any())
        e_err.append((r["energy"] - atoms.get_potential_energy()) / len(atoms))
        f_err.append((r["forces"] - atoms.get_forces()).ravel())
        f_ref.append(atoms.get_forces().ravel())
        deviation.append(float(r["forces_std"].max()))
    f_err_all = np.concatenate(f_err)
    results["test_energy_rmse_meV_per_atom"] = 1000 * float(np.sqrt(np.mean(np.square(e_err))))
    results["test_force_rmse_meV_per_A"] = 1000 * float(np.sqrt(np.mean(f_err_all**2)))
    results["test_force_mae_meV_per_A"] = 1000 * float(np.mean(np.abs(f_err_all)))
    results["test_reference_force_rms_meV_per_A"] = 1000 * float(np.sqrt(np.mean(np.concatenate(f_ref) ** 2)))
    results["test_mean_max_force_deviation_meV_per_A"] = 1000 * float(np.mean(deviation))
    results["test_structures_outside_training_range"] = flagged
    for name, calc in (("nnp", nnp), ("emt", emt)):
        a, b = lattice_constant_and_bulk_modulus(calc)
        results[f"{name}_lattice_constant_A"] = a
        results[f"{name}_bulk_modulus_GPa"] = b
        results[f"{name}_vacancy_formation_unrelaxed_eV"] = vacancy_formation_energy(calc, a, relax=False)
        results[f"{name}_vacancy_formation_relaxed_eV"] = vacancy_formation_energy(calc, a, relax=True)
    lines = [
        f"model: {model_path.name} (committee of {model.committee_size}, {model.metadata['dtype']})",
        f"test set ({len(test)} structures): energy RMSE {results['test_energy_rmse_meV_per_atom']:.2f} meV/atom, "
        f"force RMSE {results['test_force_rmse_meV_per_A']:.1f} meV/A (MAE {results['test_force_mae_meV_per_A']:.1f}; "
        f"reference force RMS {results['test_reference_force_rms_meV_per_A']:.0f} meV/A); "
        f"{flagged} with descriptors outside the training range",
        f"{'property':<34}{'NNP':>10}{'EMT':>10}{'error':>10}",
    ]
    for label, key, fmt in (
        ("lattice constant (A)", "lattice_constant_A", "{:.4f}"),
        ("bulk modulus (GPa)", "bulk_modulus_GPa", "{:.1f}"),
        ("vacancy formation, unrelaxed (eV)", "vacancy_formation_unrelaxed_eV", "{:.3f}"),
        ("vacancy formation, relaxed (eV)", "vacancy_formation_relaxed_eV", "{:.3f}"),
    ):
        n, e = results[f"nnp_{key}"], results[f"emt_{key}"]
        lines.append(f"{label:<34}{fmt.format(n):>10}{fmt.format(e):>10}{fmt.format(n - e):>10}")
    text = "\n".join(lines) + "\n"
    (out / "validation.txt").write_text(text)
    (out / "validation.json").write_text(json.dumps(results, indent=1))
    print(text, end="")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--validate", action="store_true", help="skip training, validate the existing model")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints in output/")
    parser.add_argument("--force", action="store_true", help="retrain although output/ holds a trained model")
    parser.add_argument("--install", action="store_true",
                        help="copy the trained model over the bundled examples/models/copper-bp.pt")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--config", default="train.yaml",
                        help="training config (train.yaml: the bundled BP model; train-ani.yaml: an ANI-style one)")
    args = parser.parse_args()
    config = load_config(HERE / args.config)
    config.training.progress = not args.no_progress
    started = time.perf_counter()
    if not (HERE / "train.extxyz").exists() or not (HERE / "test.extxyz").exists():
        from generate_data import main as generate

        generate()
        print(f"data generated in {time.perf_counter() - started:.0f} s")
    if not args.validate:
        t0 = time.perf_counter()
        result = train(config, resume=args.resume, force=args.force)
        seconds = [h["seconds"] for history in result.histories for h in history]
        print(open(config.output_directory + "/report.txt").read(), end="")
        print(f"training: {time.perf_counter() - t0:.0f} s in all, {np.mean(seconds):.3f} s per epoch "
              f"({len(result.data.pool)} structures)")
        if result.evaluation is not None:
            print(f"test: {format_metrics(result.evaluation)}")
    out = pathlib.Path(config.output_directory)
    out.mkdir(exist_ok=True)
    model_path = pathlib.Path(config.model_path)
    bundled = HERE.parent / "models" / "copper-bp.pt"
    validate(model_path if model_path.exists() else bundled, out)
    if args.install:
        shutil.copyfile(model_path, bundled)
        print(f"installed {model_path} as {bundled}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
