"""The cell-list neighbour search equals a brute-force search over periodic images."""

import itertools

import numpy as np
import pytest

from nnpkit import _core


def brute_force(positions, cell, pbc, cutoff):
    """Every (i, j, shift) with |x_j - x_i + shift.cell| < cutoff, by explicit images."""
    inv = np.linalg.inv(cell) if all(pbc) else None
    ranges = []
    for d in range(3):
        if pbc[d]:
            # enough images: cutoff / plane spacing, plus the span of the atoms
            recip = np.linalg.inv(cell)[:, d]
            spacing = 1.0 / np.linalg.norm(recip)
            frac = positions @ np.linalg.inv(cell)[:, d]
            span = frac.max() - frac.min()
            n = int(np.ceil(cutoff / spacing + span)) + 1
            ranges.append(range(-n, n + 1))
        else:
            ranges.append(range(0, 1))
    del inv
    pairs = set()
    for shift in itertools.product(*ranges):
        t = np.array(shift) @ cell if any(pbc) else np.zeros(3)
        d = positions[None, :, :] + t[None, None, :] - positions[:, None, :]
        close = np.argwhere((d**2).sum(-1) < cutoff**2)
        for i, j in close:
            if i == j and not any(shift):
                continue
            pairs.add((int(i), int(j), tuple(int(s) for s in shift)))
    return pairs


def nnpkit_pairs(positions, cell, pbc, cutoff):
    edge_index, shifts, vectors = _core.neighbor_list(positions, cell, list(pbc), cutoff)
    # edge vectors consistent with the shifts
    expected = positions[edge_index[1]] - positions[edge_index[0]] + shifts @ cell
    np.testing.assert_allclose(vectors, expected, atol=1e-10)
    assert np.all(np.diff(edge_index[0]) >= 0), "edges must be grouped by centre"
    pairs = {(int(i), int(j), tuple(int(s) for s in sh)) for i, j, sh in zip(edge_index[0], edge_index[1], shifts)}
    assert len(pairs) == edge_index.shape[1], "duplicate edges"
    return pairs


def skewed_cell(a, b, c, rng, skew=0.6):
    cell = np.diag([a, b, c]).astype(float)
    cell[1, 0] = skew * a * rng.uniform(-1, 1)
    cell[2, 0] = skew * a * rng.uniform(-1, 1)
    cell[2, 1] = skew * b * rng.uniform(-1, 1)
    return cell


CASES = {
    "random-orthorhombic": (40, lambda r: np.diag([9.0, 10.0, 11.0]), (True, True, True), 3.5),
    "dense": (120, lambda r: np.diag([7.0, 7.0, 7.0]), (True, True, True), 3.0),
    "dilute": (8, lambda r: np.diag([18.0, 16.0, 17.0]), (True, True, True), 7.0),
    "skewed-triclinic": (30, lambda r: skewed_cell(8.0, 8.0, 8.0, r, skew=0.9), (True, True, True), 4.0),
    "small-box-many-images": (3, lambda r: skewed_cell(2.5, 3.0, 2.8, r, skew=0.5), (True, True, True), 7.0),
    "cutoff-over-half-box": (5, lambda r: np.diag([5.0, 5.0, 5.0]), (True, True, True), 4.0),
    "mixed-slab": (25, lambda r: skewed_cell(6.0, 7.0, 20.0, r, skew=0.3), (True, True, False), 4.0),
    "mixed-wire": (20, lambda r: np.diag([4.0, 15.0, 15.0]), (True, False, False), 5.0),
    "open": (30, lambda r: np.diag([10.0, 10.0, 10.0]), (False, False, False), 4.0),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_brute_force(name, seed):
    n, make_cell, pbc, cutoff = CASES[name]
    rng = np.random.default_rng(seed)
    cell = make_cell(rng)
    # positions partly outside the cell, to exercise wrapping
    positions = rng.uniform(-0.3, 1.3, size=(n, 3)) @ cell
    expected = brute_force(positions, cell, pbc, cutoff)
    got = nnpkit_pairs(positions, cell, pbc, cutoff)
    assert len(expected) > 0
    assert got == expected


@pytest.mark.parametrize("threads", [1, 2])
def test_many_chunks_on_threads_concatenate_in_order(threads):
    """600 atoms: the search runs in chunks of at most 256 centres (eight or more per
    thread), found on the threads and copied to their offsets. The list equals the
    brute force, stays grouped by centre, and is the same list on 1 and 2 threads."""
    import nnpkit

    rng = np.random.default_rng(7)
    cell = skewed_cell(14.0, 15.0, 16.0, rng, skew=0.3)
    positions = rng.uniform(-0.2, 1.2, size=(600, 3)) @ cell
    before = nnpkit.get_num_threads()
    try:
        nnpkit.set_num_threads(threads)
        got = nnpkit_pairs(positions, cell, (True, True, True), 3.2)
        edges = _core.neighbor_list(positions, cell, [True] * 3, 3.2)
        nnpkit.set_num_threads(1 if threads == 2 else 2)
        other = _core.neighbor_list(positions, cell, [True] * 3, 3.2)
    finally:
        nnpkit.set_num_threads(before)
    assert got == brute_force(positions, cell, (True, True, True), 3.2)
    for mine, theirs in zip(edges, other):
        np.testing.assert_array_equal(mine, theirs)


def test_open_boundaries_ignore_the_cell():
    rng = np.random.default_rng(3)
    positions = rng.uniform(0, 12, size=(50, 3))
    a = nnpkit_pairs(positions, np.zeros((3, 3)), (False, False, False), 3.0)
    b = nnpkit_pairs(positions, np.diag([1.0, 2.0, 3.0]), (False, False, False), 3.0)
    assert a == b and len(a) > 0


def test_empty_and_single_atom():
    edge_index, shifts, vectors = _core.neighbor_list(np.zeros((0, 3)), np.eye(3), [True] * 3, 2.0)
    assert edge_index.shape == (2, 0)
    # a single atom in a small periodic box sees its own images
    edge_index, shifts, vectors = _core.neighbor_list(np.zeros((1, 3)), np.eye(3) * 2.0, [True] * 3, 2.5)
    assert edge_index.shape[1] == 6  # the six face images at 2.0; the next ones are 2.83 away
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 2.0)
    assert sorted(map(tuple, shifts)) == sorted(
        [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)])


@pytest.mark.parametrize(
    "positions, cell, pbc, message",
    [
        (np.array([[0.0, np.nan, 0.0]]), np.eye(3), [True] * 3, "not finite"),
        (np.zeros((2, 3)), np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 0, 1.0]]), [True] * 3, "singular"),
        (np.zeros((2, 3)), np.diag([1.0, 0.0, 1.0]), [True] * 3, "zero"),
        (np.zeros((2, 3)), np.diag([0.01, 5.0, 5.0]), [True] * 3, "too small"),
    ],
)
def test_bad_input_is_refused(positions, cell, pbc, message):
    with pytest.raises(ValueError, match=message):
        _core.neighbor_list(positions, cell, pbc, 3.0)


def test_a_model_reuses_its_list_across_systems_of_other_sizes():
    """The engine keeps one neighbour list per thread from call to call: a small system
    after a large one (fewer edges than the list holds), the large one again, and a
    structure that fails in between give exactly what each gave before."""
    from ase.build import bulk

    import nnpkit
    from conftest import REPO

    model = nnpkit.load(REPO / "examples" / "models" / "copper-bp.pt")
    small = bulk("Cu", "fcc", a=3.61, cubic=True)
    small.rattle(0.05, seed=1)
    large = small.repeat((3, 3, 3))
    large.rattle(0.05, seed=2)
    for _ in range(2):  # TorchScript's first calls run other graphs (rounding-level differences)
        model.compute(small)
    first_small = model.compute(small)
    first_large = model.compute(large)
    with pytest.raises(Exception):  # two atoms on top of each other
        broken = large.copy()
        broken.positions[1] = broken.positions[0]
        model.compute(broken)
    again_small = model.compute(small)
    again_large = model.compute(large)
    for first, again in ((first_small, again_small), (first_large, again_large)):
        assert first["energy"] == again["energy"]
        np.testing.assert_array_equal(first["forces"], again["forces"])
