"""Every misuse of pair_style nnp ends in a LAMMPS error naming the problem,
never in a crash or a silently wrong number."""

from __future__ import annotations

import pytest

from conftest import random_triclinic
from lammps_support import BOX, lmp, structure, wrapped, write_data  # noqa: F401 (lmp, structure are fixtures)

def fails_with(lmp, commands: str, message: str) -> None:
    with pytest.raises(Exception, match=message):
        lmp.commands_string(commands)


def test_missing_model_file(lmp, structure, tmp_path):
    fails_with(lmp, BOX.format(units="metal", newton="on", data=structure) + f"pair_style nnp {tmp_path}/nope.pt",
               "model file not found")


def test_file_that_is_not_a_model(lmp, structure, tmp_path):
    (tmp_path / "bad.pt").write_text("not a model")
    fails_with(lmp, BOX.format(units="metal", newton="on", data=structure) + f"pair_style nnp {tmp_path}/bad.pt",
               "not a TorchScript archive")


@pytest.mark.parametrize(
    "coeff, message",
    [
        ("Cu Zn", r"element Zn \(atom type 2\) is not in model .* \(model species: Cu Ni\)"),
        ("Cu Qq", r"'Qq' \(atom type 2\) is not a chemical element"),
        ("Cu", r"one element symbol \(or NULL\) for each of the 2 atom types"),
        ("NULL NULL", "maps no atom type"),
    ],
)
def test_bad_pair_coeff(lmp, structure, bp_model, coeff, message):
    fails_with(lmp, BOX.format(units="metal", newton="on", data=structure)
               + f"pair_style nnp {bp_model.path}\npair_coeff * * {coeff}", message)


def test_unknown_keyword(lmp, structure, bp_model):
    fails_with(lmp, BOX.format(units="metal", newton="on", data=structure)
               + f"pair_style nnp {bp_model.path} dev_freq 10", "unknown keyword 'dev_freq'")


def test_newton_pair_off(lmp, structure, bp_model):
    fails_with(lmp, BOX.format(units="metal", newton="off", data=structure)
               + f"pair_style nnp {bp_model.path}\npair_coeff * * Cu Ni\nrun 0", "requires newton pair on")


def test_lj_units_refused(lmp, structure, bp_model):
    fails_with(lmp, BOX.format(units="lj", newton="on", data=structure) + f"pair_style nnp {bp_model.path}",
               "does not support 'units lj'")


def test_overlapping_atoms(lmp, tmp_path, bp_model):
    atoms = wrapped(random_triclinic(n_atoms=10, seed=5))
    atoms.positions[3] = atoms.positions[7] + [1e-6, 0, 0]
    write_data(atoms, tmp_path / "o.data", ["Cu", "Ni"])
    fails_with(lmp, BOX.format(units="metal", newton="on", data=tmp_path / "o.data")
               + f"pair_style nnp {bp_model.path}\npair_coeff * * Cu Ni\nrun 0",
               r"atoms (4 and 8|8 and 4) are .* apart, closer than")


def test_tiled_communication_in_a_box_smaller_than_the_reach(lmp, structure, mp_model):
    fails_with(lmp, BOX.format(units="metal", newton="on", data=structure)
               + f"comm_style tiled\npair_style nnp {mp_model.path}\npair_coeff * * Cu Ni\nrun 0",
               "comm_style tiled cannot hold several periodic images")


def test_neighbor_list_overflow_is_a_lammps_error(lmp, structure, bp_model):
    fails_with(lmp, BOX.format(units="metal", newton="on", data=structure)
               + f"neigh_modify one 5 page 1000\npair_style nnp {bp_model.path}\npair_coeff * * Cu Ni\nrun 0",
               "neigh_modify one")


def test_box_thinner_than_the_core_allows(lmp, tmp_path, bp_model):
    """The core's periodic-image rule (the one the Python neighbour search applies) refuses the box."""
    from ase import Atoms

    atoms = Atoms("CuNi", positions=[[1.0, 1.0, 0.01], [4.0, 4.0, 0.01]], cell=[8.0, 8.0, 0.02], pbc=True)
    write_data(atoms, tmp_path / "thin.data", ["Cu", "Ni"])
    fails_with(lmp, BOX.format(units="metal", newton="on", data=tmp_path / "thin.data")
               + f"pair_style nnp {bp_model.path}\npair_coeff * * Cu Ni\nrun 0",
               r"too small for the model's interaction range plus skin: 6\.5 spans more than 200 images.*"
               r"direction 2.*replicate the box")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("model", ["bp_model", "mp_model"])  # both edge builders of the plugin
def test_non_finite_position_names_the_atom(lmp, structure, request, model, value):
    """LAMMPS checks positions itself ("Non-numeric atom coords") only when it rebuilds
    its neighbour list, and a NaN displacement never triggers a rebuild. A position that
    turns NaN or infinite between rebuilds reaches pair_style nnp as non-finite edges:
    the core names the atom, the error its ID (an infinite position must not simply put
    the atom out of everyone's reach)."""
    lmp.commands_string(BOX.format(units="metal", newton="on", data=structure) + "neigh_modify every 10 check no\n"
                        + f"pair_style nnp {request.getfixturevalue(model).path}\npair_coeff * * Cu Ni\nrun 0")
    tags = lmp.numpy.extract_atom("id")
    positions = lmp.numpy.extract_atom("x")
    positions[list(tags).index(6), 1] = value
    # pre no: no setup, so no rebuild of the neighbour list (and run 0 pre no computes nothing)
    fails_with(lmp, "run 1 pre no", r"the position of atom 6 is not finite \(NaN or infinity\) at step 1 \(atom ID\)")
