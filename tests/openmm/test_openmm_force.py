"""NNPForce in OpenMM against the Python API: energies, forces, subsets, dynamics, errors."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch

import nnpkit
from conftest import export_nan_gradient_model, make_bp, make_mp
from openmm_helpers import (
    HCNO,
    KJMOL_PER_EV,
    OPENCL,
    PLATFORMS,
    TRICLINIC_CELL,
    context_for,
    energy_forces,
    force_atol,
    import_plugin,
    keep_locale,  # noqa: F401  (module-wide autouse fixture)
    make_system,
    numbers_hcno,
    one_thread,  # noqa: F401  (module-wide autouse fixture)
    openmm,
    platform_properties,
    random_molecule,
    reference,
    unit,
)

nnp_openmm = import_plugin()
NNPForce = nnp_openmm.NNPForce


@pytest.fixture(scope="module")
def hcno_models(tmp_path_factory):
    d = tmp_path_factory.mktemp("openmm-models")
    bp = nnpkit.export(make_bp(species=HCNO, cutoff=4.0, seed=3), d / "bp.pt")
    mp = nnpkit.export(make_mp(species=HCNO, cutoff=3.5, seed=4), d / "mp.pt")
    committee = nnpkit.export(make_bp(species=HCNO, cutoff=4.0, committee_size=3, seed=7), d / "committee.pt")
    # Same network, declared in nm and kJ/mol: the plugin must convert nothing but the model's numbers.
    nm = nnpkit.export(make_bp(species=HCNO, cutoff=4.0, seed=3), d / "bp-nm.pt", length_unit="nm",
                       energy_unit="kJ/mol", cutoff=0.4)
    nan_gradient = export_nan_gradient_model(d / "nan-gradient.pt", HCNO)
    return {"bp": bp, "mp": mp, "committee": committee, "nm": nm, "nan_gradient": nan_gradient}


def add_force(system, model_file, numbers, particles=None, periodic=False, group=0):
    force = NNPForce(model_file, numbers, particles)
    force.setUsesPeriodicBoundaryConditions(periodic)
    force.setForceGroup(group)
    system.addForce(force)
    return force


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("periodic", [False, True], ids=["open", "triclinic"])
@pytest.mark.parametrize("kind", ["bp", "mp"])
def test_matches_python_api(hcno_models, platform, periodic, kind):
    """Every platform gives Model.compute's numbers (which are Reference's): the model energy exactly
    (positions reach it in double precision), forces to the platform's force resolution."""
    path = hcno_models[kind]
    model = nnpkit.load(path)
    positions = random_molecule(16, seed=1, box=8.0)
    numbers = numbers_hcno(16)
    system = make_system(numbers, TRICLINIC_CELL)
    force = add_force(system, path, numbers, periodic=periodic)
    assert force.usesPeriodicBoundaryConditions() == periodic
    assert system.usesPeriodicBoundaryConditions() == periodic
    energy, forces = energy_forces(context_for(system, positions, platform))
    ref_energy, ref_forces, _ = reference(model, positions, numbers, TRICLINIC_CELL, periodic)
    assert abs(energy - ref_energy) <= 1e-10 * abs(ref_energy)
    np.testing.assert_allclose(forces, ref_forces, rtol=0, atol=force_atol(platform, np.abs(ref_forces).max()))
    if periodic:  # the box matters: the periodic and open energies differ
        assert abs(ref_energy - reference(model, positions, numbers)[0]) > 1e-3


@pytest.mark.parametrize("platform", [OPENCL])
@pytest.mark.parametrize("precision", ["mixed", "single"])
def test_device_precisions(hcno_models, platform, precision):
    """Mixed precision keeps positions to about double precision (float plus a correction), so the model
    energy is Reference's; single rounds positions to float (relative 6e-8). Both round forces to float."""
    path = hcno_models["mp"]
    positions = random_molecule(16, seed=1, box=8.0)
    numbers = numbers_hcno(16)
    system = make_system(numbers, TRICLINIC_CELL)
    add_force(system, path, numbers, periodic=True)
    context = context_for(system, positions, platform, precision=precision)
    assert context.getPlatform().getPropertyValue(context, "Precision") == precision
    energy, forces = energy_forces(context)
    ref_energy, ref_forces, _ = reference(nnpkit.load(path), positions, numbers, TRICLINIC_CELL, True)
    assert energy == pytest.approx(ref_energy, rel=1e-10 if precision == "mixed" else 1e-6)
    scale = np.abs(ref_forces).max()
    atol = force_atol(platform, scale, precision) if precision == "mixed" else 1e-5 * scale
    np.testing.assert_allclose(forces, ref_forces, rtol=0, atol=atol)


def test_platforms_agree_and_units_converted(hcno_models):
    positions = random_molecule(12, seed=2)
    numbers = numbers_hcno(12)
    results = {}
    for platform in ("Reference", "CPU"):
        for kind in ("bp", "nm"):
            system = make_system(numbers, TRICLINIC_CELL)
            add_force(system, hcno_models[kind], numbers, periodic=True)
            results[platform, kind] = energy_forces(context_for(system, positions, platform))
    e0, f0 = results["Reference", "bp"]
    assert results["CPU", "bp"][0] == pytest.approx(e0, rel=1e-12)
    np.testing.assert_allclose(results["CPU", "bp"][1], f0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(results["CPU", "nm"][1], results["Reference", "nm"][1], rtol=1e-12, atol=1e-12)
    # A model declared in kJ/mol and nm sees the same numbers OpenMM holds: no conversion at all.
    model_nm = nnpkit.load(hcno_models["nm"])
    ref = model_nm.compute(positions=positions, numbers=numbers, cell=TRICLINIC_CELL, pbc=True)
    assert results["Reference", "nm"][0] == pytest.approx(ref["energy"] * KJMOL_PER_EV, rel=1e-10)


def test_forces_are_minus_energy_gradient(hcno_models):
    positions = random_molecule(10, seed=3)
    numbers = numbers_hcno(10)
    system = make_system(numbers, TRICLINIC_CELL)
    add_force(system, hcno_models["mp"], numbers, periodic=True)
    context = context_for(system, positions)
    _, forces = energy_forces(context)
    h = 1e-5  # nm
    x = positions / 10.0
    for atom, axis in [(0, 0), (3, 1), (7, 2), (9, 0)]:
        energies = []
        for sign in (1, -1):
            moved = x.copy()
            moved[atom, axis] += sign * h
            context.setPositions(moved)
            energies.append(energy_forces(context)[0])
        numerical = -(energies[0] - energies[1]) / (2 * h)
        assert numerical == pytest.approx(forces[atom, axis], rel=1e-6, abs=1e-6 * np.abs(forces).max())


@pytest.mark.parametrize("platform", PLATFORMS[1:])
@pytest.mark.parametrize("periodic", [False, True], ids=["open", "triclinic"])
def test_subset_feels_model_alone(hcno_models, periodic, platform):
    path = hcno_models["bp"]
    model = nnpkit.load(path)
    n = 20
    positions = random_molecule(n, seed=4, box=8.5)
    numbers = numbers_hcno(n)
    subset = [17, 2, 9, 4, 11, 0]  # any order
    system = make_system(numbers, TRICLINIC_CELL)
    add_force(system, path, [numbers[i] for i in subset], subset, periodic=periodic)
    energy, forces = energy_forces(context_for(system, positions, platform))
    ref_energy, ref_forces, _ = reference(model, positions[subset], [numbers[i] for i in subset],
                                          TRICLINIC_CELL, periodic)
    assert energy == pytest.approx(ref_energy, rel=1e-10)
    outside = [i for i in range(n) if i not in subset]
    assert np.all(forces[outside] == 0.0)
    np.testing.assert_allclose(forces[subset], ref_forces, rtol=0,
                               atol=force_atol(platform, np.abs(ref_forces).max()))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_force_groups(hcno_models, platform):
    positions = random_molecule(8, seed=5)
    numbers = numbers_hcno(8)
    system = make_system(numbers)
    add_force(system, hcno_models["bp"], numbers, group=3)
    context = context_for(system, positions, platform)
    total, _ = energy_forces(context)
    assert energy_forces(context, groups={3})[0] == total != 0.0
    energy0, forces0 = energy_forces(context, groups={0, 1})
    assert energy0 == 0.0 and np.all(forces0 == 0.0)


def _energy_only(context, groups=-1):
    return context.getState(getEnergy=True, groups=groups).getPotentialEnergy().value_in_unit(
        unit.kilojoule_per_mole)


@pytest.mark.parametrize("platform", ["Reference", "CPU"])
def test_energy_only_evaluations_skip_the_backward_pass(hcno_models, platform):
    """getState(getEnergy=True) and a CustomIntegrator's "energy" ask for no forces (OpenMM's
    includeForces=false; VerletIntegrator's getState would, for its kinetic energy): with a model whose
    gradient is NaN they give its energy, and any force evaluation fails. (On OpenCL the model starts
    on a worker thread a moment before OpenMM says whether it wants forces, so skipping is the rule
    there but not guaranteed; the next test checks that energy-only evaluations stay right there.)"""
    positions = random_molecule(8, seed=5)
    numbers = numbers_hcno(8)
    expected = nnpkit.load(hcno_models["nan_gradient"]).compute(positions=positions, numbers=numbers,
                                                                forces=False)["energy"] * KJMOL_PER_EV
    system = make_system(numbers)
    add_force(system, hcno_models["nan_gradient"], numbers, group=2)
    context = context_for(system, positions, platform, openmm.LangevinMiddleIntegrator(300.0, 1.0, 0.0005))
    assert _energy_only(context) == pytest.approx(expected, rel=1e-12)
    assert _energy_only(context, groups={2}) == pytest.approx(expected, rel=1e-12)
    assert _energy_only(context, groups={0}) == 0.0
    with pytest.raises(openmm.OpenMMException, match="non-finite energy or force"):
        context.getState(getForces=True)
    assert _energy_only(context) == pytest.approx(expected, rel=1e-12)  # still usable after the error

    integrator = openmm.CustomIntegrator(0.0005)
    integrator.addGlobalVariable("e", 0.0)
    integrator.addComputeGlobal("e", "energy")
    context = context_for(system, positions, platform, integrator)
    integrator.step(3)
    assert integrator.getGlobalVariableByName("e") == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_energy_only_and_full_evaluations_interleave(hcno_models, platform):
    """Energy-only evaluations between MD steps (as MonteCarloBarostat makes) leave the forces
    and the trajectory as they are without them."""
    positions = random_molecule(10, seed=12, min_distance=1.3)
    numbers = numbers_hcno(10)
    system = make_system(numbers, TRICLINIC_CELL)
    add_force(system, hcno_models["mp"], numbers, periodic=True)
    runs = []
    for energy_only in (True, False):  # one after the other: Reference's random numbers are process-wide
        integrator = openmm.LangevinMiddleIntegrator(300.0, 1.0, 0.0005)
        integrator.setRandomNumberSeed(5)
        context = context_for(system, positions, platform, integrator)
        energies = []
        for _ in range(6):
            energies.append(_energy_only(context) if energy_only else energy_forces(context)[0])
            integrator.step(1)
        runs.append((energies, *energy_forces(context)))
    (energies0, e0, f0), (energies1, e1, f1) = runs
    np.testing.assert_allclose(energies0, energies1, rtol=1e-12)
    assert e0 == pytest.approx(e1, rel=1e-12) and np.abs(f0).max() > 1.0
    np.testing.assert_allclose(f0, f1, rtol=0, atol=force_atol(platform, np.abs(f1).max()))


def _total_energy(context):
    state = context.getState(getEnergy=True)
    return (state.getPotentialEnergy() + state.getKineticEnergy()).value_in_unit(unit.kilojoule_per_mole)


def test_nve_conserves_energy(hcno_models):
    positions = random_molecule(12, seed=6, min_distance=1.3)
    numbers = numbers_hcno(12)
    system = make_system(numbers, TRICLINIC_CELL)
    add_force(system, hcno_models["bp"], numbers, periodic=True)
    context = context_for(system, positions, "CPU", openmm.VerletIntegrator(0.00025))
    context.setVelocitiesToTemperature(100.0, 1)
    integrator = context.getIntegrator()
    totals, kinetic = [], []
    for _ in range(25):
        integrator.step(8)
        totals.append(_total_energy(context))
        kinetic.append(context.getState(getEnergy=True).getKineticEnergy().value_in_unit(unit.kilojoule_per_mole))
    drift = np.ptp(totals)
    assert drift < 2e-3 * np.ptp(kinetic), (drift, np.ptp(kinetic))


def test_langevin_is_stable(hcno_models):
    positions = random_molecule(12, seed=7, min_distance=1.3)
    numbers = numbers_hcno(12)
    system = make_system(numbers, TRICLINIC_CELL)
    add_force(system, hcno_models["mp"], numbers, periodic=True)
    integrator = openmm.LangevinMiddleIntegrator(300.0, 5.0, 0.0005)
    integrator.setRandomNumberSeed(11)
    context = context_for(system, positions, "CPU", integrator)
    context.setVelocitiesToTemperature(300.0, 2)
    integrator.step(150)
    energy, forces = energy_forces(context)
    assert np.isfinite(energy) and np.all(np.isfinite(forces))
    temperature = 2 * context.getState(getEnergy=True).getKineticEnergy() / (
        3 * len(numbers) * unit.MOLAR_GAS_CONSTANT_R)
    assert 30.0 < temperature.value_in_unit(unit.kelvin) < 3000.0


@pytest.mark.parametrize("platform", ["Reference", OPENCL])
def test_serialization_round_trip(hcno_models, platform):
    positions = random_molecule(10, seed=8)
    numbers = numbers_hcno(10)
    system = make_system(numbers + [1], TRICLINIC_CELL)
    subset = list(range(10))
    force = add_force(system, hcno_models["bp"], numbers, subset, periodic=True, group=2)
    force.setName("my model")
    xml = openmm.XmlSerializer.serialize(force)
    copy = NNPForce.cast(openmm.XmlSerializer.deserialize(xml))
    assert (copy.getModelFile(), copy.getAtomicNumbers(), copy.getParticles(), copy.getName(),
            copy.getForceGroup(), copy.usesPeriodicBoundaryConditions(), copy.actsOnAllParticles()) == (
        force.getModelFile(), force.getAtomicNumbers(), force.getParticles(), "my model", 2, True, False)
    everything = NNPForce.cast(openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(
        NNPForce(hcno_models["bp"], numbers))))
    assert everything.actsOnAllParticles() and everything.getParticles() == tuple(range(10))
    all_positions = np.vstack([positions, [[4.0, 4.0, 15.0]]])
    energy, forces = energy_forces(context_for(system, all_positions, "Reference"))
    system2 = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(system))
    energy2, forces2 = energy_forces(context_for(system2, all_positions, platform))
    assert energy2 == energy
    np.testing.assert_allclose(forces2, forces, rtol=0, atol=force_atol(platform, np.abs(forces).max()))


@pytest.mark.parametrize("platform", ["CPU", OPENCL])
def test_committee_deviation_and_reporter(hcno_models, tmp_path, platform):
    path = hcno_models["committee"]
    model = nnpkit.load(path)
    positions = random_molecule(10, seed=9)
    numbers = numbers_hcno(10)
    system = make_system(numbers + [8], TRICLINIC_CELL)
    subset = list(range(1, 11))
    add_force(system, path, numbers, subset, periodic=True)
    all_positions = np.vstack([[[0.5, 0.5, 0.5]], positions])
    context = context_for(system, all_positions, platform)
    deviation = nnp_openmm.committee_deviation(context)
    ref = model.compute(positions=positions, numbers=numbers, cell=TRICLINIC_CELL, pbc=True, committee_statistics=True)
    assert deviation["energy_std"] == pytest.approx(ref["energy_std"] * KJMOL_PER_EV, rel=1e-10)
    np.testing.assert_allclose(deviation["forces_std"], ref["forces_std"] * KJMOL_PER_EV * 10.0, rtol=1e-10)
    np.testing.assert_allclose(deviation["member_energies"], ref["member_energies"] * KJMOL_PER_EV, rtol=1e-10)
    assert deviation["energy_std"] > 0 and deviation["max_forces_std"] == deviation["forces_std"].max()

    from openmm.app import Simulation, Topology

    topology = Topology()
    residue = topology.addResidue("MOL", topology.addChain())
    for z in [8] + numbers:
        topology.addAtom("X", openmm.app.Element.getByAtomicNumber(z), residue)
    simulation = Simulation(topology, system, openmm.VerletIntegrator(0.0002), openmm.Platform.getPlatformByName(platform),
                            platform_properties(platform))
    simulation.context.setPositions(all_positions / 10.0)
    out = tmp_path / "model_devi.out"
    reporter = nnp_openmm.NNPUncertaintyReporter(str(out), 5)
    simulation.reporters.append(reporter)
    simulation.step(20)
    reporter.close()
    lines = [line.split() for line in out.read_text().splitlines() if not line.startswith("#")]
    assert [int(line[0]) for line in lines] == [5, 10, 15, 20]
    last = nnp_openmm.committee_deviation(simulation.context)
    assert float(lines[-1][2]) == pytest.approx(last["energy_std"], rel=1e-7)
    assert float(lines[-1][3]) == pytest.approx(last["max_forces_std"], rel=1e-7)


def test_topology_helper(hcno_models):
    from openmm.app import Element, Topology

    numbers = numbers_hcno(9)
    topology = Topology()
    residue = topology.addResidue("MOL", topology.addChain())
    for z in numbers:
        topology.addAtom("X", Element.getByAtomicNumber(z), residue)
    force = nnp_openmm.create_nnp_force(hcno_models["bp"], topology, atoms=[1, 3, 5])
    assert force.getParticles() == (1, 3, 5)
    assert force.getAtomicNumbers() == tuple(numbers[i] for i in (1, 3, 5))
    assert not force.usesPeriodicBoundaryConditions()
    topology.setPeriodicBoxVectors([openmm.Vec3(1, 0, 0), openmm.Vec3(0, 1, 0), openmm.Vec3(0, 0, 1)])
    assert nnp_openmm.create_nnp_force(hcno_models["bp"], topology).usesPeriodicBoundaryConditions()
    by_symbol = NNPForce(hcno_models["bp"], ["H", "C", 7, Element.getBySymbol("O")])
    assert by_symbol.getAtomicNumbers() == (1, 6, 7, 8)


def _context_error(system, n_atoms):
    with pytest.raises(openmm.OpenMMException) as info:
        context_for(system, random_molecule(n_atoms, seed=10))
    return str(info.value)


def test_bad_input_raises_at_context_creation(hcno_models, tmp_path):
    numbers = numbers_hcno(6)
    system = make_system(numbers)
    add_force(system, tmp_path / "missing.pt", numbers)
    assert "model file not found" in _context_error(system, 6)

    system = make_system(numbers[:5] + [16])
    add_force(system, hcno_models["bp"], numbers[:5] + [16])
    message = _context_error(system, 6)
    assert "particle 5 is S" in message and "H C N O" in message

    system = make_system(numbers)
    add_force(system, hcno_models["bp"], numbers[:3], [0, 1, 6])
    assert "particle index 6 is out of range" in _context_error(system, 6)

    system = make_system(numbers)
    add_force(system, hcno_models["bp"], numbers[:2], [1, 1])
    assert "listed twice" in _context_error(system, 6)

    # A model file whose metadata declares a unit nobody knows.
    extra = {"nnpkit.json": ""}
    module = torch.jit.load(hcno_models["bp"], _extra_files=extra)
    metadata = json.loads(extra["nnpkit.json"])
    metadata["length_unit"] = "furlong"
    bad = tmp_path / "furlong.pt"
    torch.jit.save(module, str(bad), _extra_files={"nnpkit.json": json.dumps(metadata)})
    system = make_system(numbers)
    add_force(system, bad, numbers)
    assert "unknown length unit 'furlong'" in _context_error(system, 6)

    # Without a particle list the force acts on every particle: the counts must match.
    system = make_system(numbers)
    add_force(system, hcno_models["bp"], numbers[:4])
    assert "got 4 elements and no particle list, but the System has 6 particles" in _context_error(system, 6)

    with pytest.raises(ValueError, match="unknown chemical element symbol 'Xx'"):
        NNPForce(hcno_models["bp"], ["H", "Xx"])
    with pytest.raises(ValueError, match="2 elements for 1 particles"):
        NNPForce(hcno_models["bp"], ["H", "O"], [0])


def test_ml_mm_errors_name_system_particles(hcno_models):
    """The core reports positions in the force's particle list; the user reads System indices."""
    numbers = numbers_hcno(6)
    system = make_system(numbers[:4] + [16] + numbers[5:])
    add_force(system, hcno_models["bp"], [numbers[0], numbers[2], 16], [0, 2, 4])
    assert "particle 4 is S" in _context_error(system, 6)

    system = make_system(numbers)
    add_force(system, hcno_models["bp"], [numbers[1], numbers[3], numbers[5]], [1, 3, 5])
    positions = random_molecule(6, seed=12)
    positions[3, 2] = np.nan
    context = context_for(system, positions)
    with pytest.raises(openmm.OpenMMException, match="position of particle 3 is not finite"):
        context.getState(getEnergy=True)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_overlapping_atoms_raise_clear_error(hcno_models, platform):
    numbers = numbers_hcno(4)
    system = make_system(numbers)
    add_force(system, hcno_models["bp"], numbers)
    positions = random_molecule(4, seed=11)
    positions[1] = positions[0]
    context = context_for(system, positions, platform)  # on OpenCL the error comes from a worker thread
    with pytest.raises(openmm.OpenMMException, match="overlap"):
        context.getState(getEnergy=True)
    with pytest.raises(openmm.OpenMMException, match="overlap"):
        context.getIntegrator().step(1)
    context.setPositions(random_molecule(4, seed=11) / 10.0)
    assert np.isfinite(energy_forces(context)[0])  # the Context is still usable


def test_open_force_in_periodic_system_warns(hcno_models, capfd):
    numbers = numbers_hcno(6)
    positions = random_molecule(6, seed=13)
    system = make_system(numbers, TRICLINIC_CELL)
    add_force(system, hcno_models["bp"], numbers, periodic=False)
    context_for(system, positions)
    assert "NNPForce warning" not in capfd.readouterr().err  # a box alone does not make a System periodic
    nonbonded = openmm.NonbondedForce()
    nonbonded.setNonbondedMethod(openmm.NonbondedForce.CutoffPeriodic)
    nonbonded.setCutoffDistance(0.4)
    for _ in numbers:
        nonbonded.addParticle(0.0, 0.3, 0.0)
    system.addForce(nonbonded)
    context_for(system, positions)
    err = capfd.readouterr().err
    assert err.count("NNPForce warning: the System is periodic but this NNPForce is not") == 1
    assert "setUsesPeriodicBoundaryConditions(True)" in err
    NNPForce.cast(system.getForce(0)).setUsesPeriodicBoundaryConditions(True)
    context_for(system, positions)
    assert "NNPForce warning" not in capfd.readouterr().err


def test_plugin_loaded_once():
    """One copy of the plugin library in the process (Python's loader and the SWIG module share it),
    loaded without OPENMM_PLUGIN_DIR, and the CPU platform still there."""
    import os

    maps = pathlib.Path("/proc/self/maps")
    if maps.exists():
        mapped = {line.split()[-1] for line in maps.read_text().splitlines() if "libNNPKitOpenMM" in line}
        assert mapped == {os.path.realpath(nnpkit.openmm_plugin_path())}
    assert "OPENMM_PLUGIN_DIR" not in os.environ
    names = {openmm.Platform.getPlatform(i).getName() for i in range(openmm.Platform.getNumPlatforms())}
    assert {"Reference", "CPU"} <= names
