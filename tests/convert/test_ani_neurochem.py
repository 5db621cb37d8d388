"""The NeuroChem reader on small files written here (no shared data needed): the
converted model equals TorchANI reading the same files, `nnpkit convert ani`
works, and every malformed input gets a message naming the problem."""

import bz2
import math
import pathlib
import shutil

import numpy as np
import pytest
import torch
from ase import Atoms

import nnpkit
from ani_reference import HARTREE_IN_EV, load_torchani, torchani_results
from nnpkit.cli import main
from nnpkit.convert.ani import read_neurochem

SYMBOLS = ["H", "C", "O"]
PARAMS_TEXT = """DESC = ANI_NORMAL
TM = 1
Rcr = 4.6000e+00
Rca = 3.1000e+00
EtaR = [1.6000000e+01]
ShfR = [9.0000000e-01,1.6000000e+00,2.3000000e+00,3.0000000e+00,3.7000000e+00]
Zeta = [3.2000000e+01]
ShfZ = [1.9634954e-01,9.8174770e-01,1.7671459e+00,2.5525440e+00]
EtaA = [8.0000000e+00]
ShfA = [9.0000000e-01,1.7000000e+00,2.5000000e+00]
Atyp = [H,C,O]
"""
AEV_LENGTH = 3 * 5 + 6 * 12
HIDDEN = [10, 6]


def layer_text(symbol, n, nodes, inputs, activation):
    return (
        f"layer [\nnodes={nodes};\nactivation={activation};\ntype=0;\nblocksize={inputs};\ndropout=0;\n"
        f"dropset=0.000000;\nmaskupdate=0.000000;\nmaxnorm=0;\nnorm=0.000000;\nnormupdate=0.000000;\n"
        f"l2norm=0;\nl2valu=0.000000;\nbtchnorm=0;\n"
        f"weights=FILE:ANN-{symbol}.nnf-l{n}.wparam[{nodes * inputs}];\n"
        f"biases=FILE:ANN-{symbol}.nnf-l{n}.bparam[{nodes}];\n]\n"
    )


def write_neurochem(root: pathlib.Path, members=2, seed=0) -> pathlib.Path:
    """A small ANI ensemble in NeuroChem's layout; returns its .info file."""
    rng = np.random.default_rng(seed)
    model_dir = root / "tiny_2x"
    model_dir.mkdir(parents=True)
    (model_dir / "tiny.params").write_text(PARAMS_TEXT)
    (model_dir / "sae_linfit.dat").write_text("H,0=-0.60\nC,1=-38.05\nO,2=-75.16\n")
    dims = [AEV_LENGTH] + HIDDEN + [1]
    for m in range(members):
        networks = model_dir / f"train{m}" / "networks"
        networks.mkdir(parents=True)
        for s in SYMBOLS:
            text = f"inputsize={AEV_LENGTH};\natom_net {s} $\n"
            for n, (i, o) in enumerate(zip(dims[:-1], dims[1:]), 1):
                text += layer_text(s, n, o, i, 6 if n == len(dims) - 1 else 9)
                (rng.normal(size=(o, i)) / math.sqrt(i)).astype("<f4").tofile(networks / f"ANN-{s}.nnf-l{n}.wparam")
                (rng.normal(size=o) * 0.1).astype("<f4").tofile(networks / f"ANN-{s}.nnf-l{n}.bparam")
            text += "\n $ \n"
            (networks / f"ANN-{s}.nnf").write_bytes(b"1121=\n" + bz2.compress(text.encode("ascii")))
    info = root / "tiny_2x.info"
    info.write_text(f"tiny_2x/tiny.params\ntiny_2x/sae_linfit.dat\ntiny_2x/train\n{members}\n")
    return info


def methanol_and_water():
    return Atoms(
        "COHHHHOHH",
        positions=[[0.0, 0.0, 0.0], [1.42, 0.05, 0.0], [-0.4, 1.0, 0.1], [-0.35, -0.5, 0.9], [-0.38, -0.55, -0.85],
                   [1.75, -0.85, 0.1], [3.1, 1.2, 0.3], [3.4, 0.6, -0.4], [3.3, 2.1, 0.0]],
    )


def test_tiny_model_matches_torchani_reading_the_same_files(tmp_path):
    info = write_neurochem(tmp_path / "data")
    out = tmp_path / "tiny.pt"
    assert main(["convert", "ani", str(info), "-o", str(out)]) == 0
    model = nnpkit.load(out)
    assert model.committee_size == 2 and model.species == SYMBOLS
    atoms = methanol_and_water()
    ours = model.compute(atoms, committee_statistics=True)
    ref = torchani_results(load_torchani(info, tmp_path), atoms)
    assert abs(ours["energy"] / HARTREE_IN_EV - ref["energy"]) < 1e-10
    # TorchANI's forces carry torch's CELU backward, which scales by 1/alpha with alpha
    # rounded to float32 (relative error ~1e-8); nnpkit's derivative is exact.
    assert np.abs(ours["forces"] / HARTREE_IN_EV - ref["forces"]).max() < 1e-8
    np.testing.assert_allclose(ours["member_energies"] / HARTREE_IN_EV, ref["member_energies"], atol=1e-10)


def test_member_selection_and_float32(tmp_path, capsys):
    info = write_neurochem(tmp_path / "data", members=3)
    out = tmp_path / "one.pt"
    assert main(["convert", "ani", str(info), "-o", str(out), "--members", "2", "--dtype", "float32"]) == 0
    captured = capsys.readouterr()
    assert "Hartree" in captured.out and "member 1/1" in captured.err
    model = nnpkit.load(out)
    assert model.committee_size == 1 and model.metadata["dtype"] == "float32"
    full = read_neurochem(info)
    species = torch.tensor([SYMBOLS.index(s) for s in methanol_and_water().get_chemical_symbols()])
    atoms = methanol_and_water()
    edge_index, _, vectors = nnpkit._core.neighbor_list(atoms.positions, np.zeros((3, 3)), [False] * 3, 4.6)
    member2 = full(species, torch.from_numpy(edge_index), torch.from_numpy(vectors), len(atoms))[2].sum().item()
    assert model.compute(atoms)["energy"] / HARTREE_IN_EV == pytest.approx(member2, abs=2e-4)


def corrupt(info, how):
    base = info.parent / "tiny_2x"
    net = base / "train1" / "networks"
    if how == "missing weights":
        (net / "ANN-C.nnf-l2.wparam").unlink()
    elif how == "short weights":
        data = (net / "ANN-O.nnf-l2.wparam").read_bytes()
        (net / "ANN-O.nnf-l2.wparam").write_bytes(data[:-8])
    elif how == "unknown constant":
        (base / "tiny.params").write_text(PARAMS_TEXT + "Kappa = [1.0]\n")
    elif how == "missing constant":
        (base / "tiny.params").write_text(PARAMS_TEXT.replace("EtaA = [8.0000000e+00]\n", ""))
    elif how == "two etas":
        (base / "tiny.params").write_text(PARAMS_TEXT.replace("EtaR = [1.6000000e+01]", "EtaR = [16.0,8.0]"))
    elif how == "gaussian activation":
        text = bz2.decompress((net / "ANN-H.nnf").read_bytes()[6:]).decode().replace("activation=9", "activation=5", 1)
        (net / "ANN-H.nnf").write_bytes(b"1121=\n" + bz2.compress(text.encode()))
    elif how == "garbled network":
        (net / "ANN-H.nnf").write_bytes(b"1121=\nnot bz2 at all")
    elif how == "missing member":
        shutil.rmtree(base / "train1")
    elif how == "missing self energy":
        (base / "sae_linfit.dat").write_text("H,0=-0.60\nC,1=-38.05\n")
    elif how == "short info":
        info.write_text("tiny_2x/tiny.params\n")


@pytest.mark.parametrize(
    "how, error, message",
    [
        ("missing weights", FileNotFoundError, "ANN-C.nnf-l2.wparam"),
        ("short weights", ValueError, "expected 60 float32 numbers"),
        ("unknown constant", ValueError, "unknown AEV constant 'Kappa'"),
        ("missing constant", ValueError, "missing AEV constants EtaA"),
        ("two etas", ValueError, "EtaR must have one value"),
        ("gaussian activation", ValueError, "activation 5 \\(Gaussian\\)"),
        ("garbled network", ValueError, "cannot decompress"),
        ("missing member", FileNotFoundError, "train1"),
        ("missing self energy", ValueError, "no self energy for O"),
        ("short info", ValueError, "expected four lines"),
    ],
)
def test_malformed_input_is_named(tmp_path, how, error, message):
    info = write_neurochem(tmp_path / "data")
    corrupt(info, how)
    with pytest.raises(error, match=message):
        read_neurochem(info)
