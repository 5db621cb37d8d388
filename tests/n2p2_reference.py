"""n2p2's published formulas in NumPy (symmetry functions, scaling, networks) and
n2p2-format potentials written from them: the reference of the symmetry-function
operator tests (tests/models) and of the n2p2 converter tests (tests/convert)."""

from __future__ import annotations

import math
import random

import numpy as np

from nnpkit.models import symmetry_functions as sf

SPECIES = ["H", "O"]
ELEMENTS = SPECIES  # n2p2 order (by atomic number)
Z = {"H": 1, "O": 8}


# ------------------------------------------------------------------ reference


def ref_cutoff(kind: int, r: float, rc: float, alpha: float) -> float:
    if r >= rc:
        return 0.0
    if kind == 0:
        return 1.0
    if kind in (2, 3):
        value = math.tanh(1.0 - r / rc) ** 3
        return value / math.tanh(1.0) ** 3 if kind == 3 else value
    rci = alpha * rc
    if r < rci:
        return 1.0
    x = (r - rci) / (rc - rci)
    return {
        1: lambda: 0.5 * (math.cos(math.pi * x) + 1.0),
        4: lambda: math.exp(1.0 - 1.0 / (1.0 - x * x)),
        5: lambda: 1.0 - 3.0 * x**2 + 2.0 * x**3,
        6: lambda: 1.0 - 10.0 * x**3 + 15.0 * x**4 - 6.0 * x**5,
        7: lambda: 1.0 - 35.0 * x**4 + 84.0 * x**5 - 70.0 * x**6 + 20.0 * x**7,
        8: lambda: 1.0 - 126.0 * x**5 + 420.0 * x**6 - 540.0 * x**7 + 315.0 * x**8 - 70.0 * x**9,
    }[kind]()


def ref_core(subtype: str, x: float) -> float:
    if subtype.endswith("a"):
        x, subtype = x * (2.0 - x), subtype[:-1]
    if subtype == "e":
        return math.exp(1.0 - 1.0 / (1.0 - x * x))
    return {"p1": 1.0 - 3.0 * x**2 + 2.0 * x**3,
            "p2": 1.0 - 10.0 * x**3 + 15.0 * x**4 - 6.0 * x**5,
            "p3": 1.0 - 35.0 * x**4 + 84.0 * x**5 - 70.0 * x**6 + 20.0 * x**7,
            "p4": 1.0 - 126.0 * x**5 + 420.0 * x**6 - 540.0 * x**7 + 315.0 * x**8 - 70.0 * x**9}[subtype]


def ref_compact(subtype: str, a: float, left: float, right: float) -> float:
    x = abs(a - 0.5 * (left + right)) / (0.5 * (right - left))
    return ref_core(subtype, x) if x < 1.0 else 0.0


def ref_value(f, i: int, pos: np.ndarray, symbols: list[str]) -> float:
    """G of atom i, by direct sums over neighbours (open boundaries)."""
    n = len(pos)
    others = [j for j in range(n) if j != i]
    dist = lambda a, b: float(np.linalg.norm(pos[b] - pos[a]))  # noqa: E731
    t = f.n2p2_type
    total = 0.0
    if t in (2, 12):
        for j in others:
            if t == 2 and symbols[j] != f.neighbor:
                continue
            w = Z[symbols[j]] if t == 12 else 1.0
            r = dist(i, j)
            total += w * math.exp(-f.eta * (r - f.rs) ** 2) * ref_cutoff(f.cutoff_type, r, f.rc, f.alpha)
        return total
    if t in (20, 23):
        for j in others:
            if t == 20 and symbols[j] != f.neighbor:
                continue
            r = dist(i, j)
            if f.rl < r < f.rc:
                total += (Z[symbols[j]] if t == 23 else 1.0) * ref_compact(f.subtype, r, f.rl, f.rc)
        return total
    for a in range(len(others)):
        for b in range(a + 1, len(others)):
            j, k = others[a], others[b]
            neighbors = getattr(f, "neighbors", None)
            if neighbors is not None and sorted((symbols[j], symbols[k])) != sorted(neighbors):
                continue
            w = Z[symbols[j]] * Z[symbols[k]] if t in (13, 24, 25) else 1.0
            rij, rik, rjk = dist(i, j), dist(i, k), dist(j, k)
            cos = float(np.dot(pos[j] - pos[i], pos[k] - pos[i])) / (rij * rik)
            if t in (3, 9, 13):
                narrow = t != 9
                if narrow and rjk >= f.rc:
                    continue
                base = 1.0 + f.lambda_ * cos
                if base <= 0.0:
                    continue
                s = (rij - f.rs) ** 2 + (rik - f.rs) ** 2 + ((rjk - f.rs) ** 2 if narrow else 0.0)
                fc = ref_cutoff(f.cutoff_type, rij, f.rc, f.alpha) * ref_cutoff(f.cutoff_type, rik, f.rc, f.alpha)
                if narrow:
                    fc *= ref_cutoff(f.cutoff_type, rjk, f.rc, f.alpha)
                total += w * 2.0 ** (1.0 - f.zeta) * base**f.zeta * math.exp(-f.eta * s) * fc
            else:  # compact angular
                narrow = t in (21, 24)
                if not (f.rl < rij < f.rc and f.rl < rik < f.rc):
                    continue
                if narrow and not (max(f.rl, 0.0) < rjk < f.rc):
                    continue
                theta = math.degrees(math.acos(cos))
                if not f.angle_left <= theta <= f.angle_right:
                    continue
                radial = ref_compact(f.subtype, rij, f.rl, f.rc) * ref_compact(f.subtype, rik, f.rl, f.rc)
                if narrow:
                    radial *= ref_compact(f.subtype, rjk, f.rl, f.rc)
                angular = ref_compact(f.subtype.rstrip("a"), math.radians(theta), math.radians(f.angle_left),
                                      math.radians(f.angle_right))
                total += w * radial * angular
    return total


# ------------------------------------------------------------------ fixtures


def cluster(seed: int, n: int = 7) -> tuple[np.ndarray, list[str]]:
    """A compact random cluster with no close contacts and no collinear triplets."""
    rng = np.random.default_rng(seed)
    pos: list[np.ndarray] = []
    while len(pos) < n:
        trial = rng.uniform(0.0, 3.3, 3)
        if all(np.linalg.norm(trial - p) > 1.0 for p in pos):
            pos.append(trial)
    return np.array(pos), [SPECIES[i % 2] for i in range(n)]



# ------------------------------------------------------------------ n2p2 potentials


def sf_functions(cutoff_type: int, alpha: float):
    """Per element, the functions in the order n2p2 sorts them (type, then its parameters)."""
    kw = dict(cutoff_type=cutoff_type, alpha=alpha)
    out = {}
    for c in ELEMENTS:
        out[c] = [
            sf.RadialSymmetryFunction(c, "H", 0.3, 4.0, 0.5, **kw),
            sf.RadialSymmetryFunction(c, "O", 0.3, 4.0, 0.5, **kw),
            sf.RadialSymmetryFunction(c, "H", 0.3, 4.0, 1.5, **kw),
            sf.AngularSymmetryFunction(c, ("H", "O"), 0.02, 1.0, -1.0, 4.0, **kw, narrow=True),
            sf.AngularSymmetryFunction(c, ("H", "O"), 0.02, 1.0, 1.0, 4.0, **kw, narrow=True),
            sf.AngularSymmetryFunction(c, ("H", "H"), 0.02, 2.0, 1.0, 4.0, **kw, narrow=False),
            sf.WeightedRadialSymmetryFunction(c, 0.2, 4.0, 0.0, **kw),
            sf.WeightedRadialSymmetryFunction(c, 0.5, 4.0, 1.0, **kw),
            sf.WeightedAngularSymmetryFunction(c, 0.01, 1.0, 1.0, 4.0, 0.0, **kw),
            sf.CompactRadialSymmetryFunction(c, "H", -4.0, 4.0, "p2"),
            sf.CompactRadialSymmetryFunction(c, "O", 1.0, 3.8, "p2a"),
            sf.CompactAngularSymmetryFunction(c, ("H", "O"), 0.5, 4.0, 30.0, 150.0, "p3", narrow=True),
            sf.CompactAngularSymmetryFunction(c, ("H", "H"), -4.0, 4.0, 0.0, 180.0, "p4a", narrow=False),
            sf.CompactRadialSymmetryFunction(c, None, 0.5, 3.9, "e"),
            sf.CompactAngularSymmetryFunction(c, None, -4.0, 4.0, 60.0, 180.0, "p1", narrow=True),
            sf.CompactAngularSymmetryFunction(c, None, 0.0, 4.0, -90.0, 90.0, "p2", narrow=False),
        ]
    return out


#: The fields of input.nn's ``symfunction_short`` line after the centre element and
#: the type, per n2p2 type: attributes of the function (``neighbors.k``: element k of
#: the pair; n2p2 lists the pair of types 3 and 9 in reverse).
SF_FIELDS = {
    2: "neighbor eta rs rc",
    3: "neighbors.1 neighbors.0 eta lambda_ zeta rc rs",
    9: "neighbors.1 neighbors.0 eta lambda_ zeta rc rs",
    12: "eta rs rc",
    13: "eta rs lambda_ zeta rc",
    20: "neighbor rl rc subtype",
    21: "neighbors.0 neighbors.1 rl rc angle_left angle_right subtype",
    22: "neighbors.0 neighbors.1 rl rc angle_left angle_right subtype",
    23: "rl rc subtype",
    24: "rl rc angle_left angle_right subtype",
    25: "rl rc angle_left angle_right subtype",
}


def sf_line(f) -> str:
    def field(name: str) -> str:
        if name.startswith("neighbors."):
            return f.neighbors[int(name[-1])]
        value = getattr(f, name)
        return f"{value:g}" if name == "lambda_" else str(value)

    t = f.n2p2_type
    return " ".join([f.center, str(t)] + [field(name) for name in SF_FIELDS[t].split()])


SCALING_KEYWORDS = {
    "scale": ["scale_symmetry_functions"],
    "center": ["center_symmetry_functions"],
    "scale_center": ["scale_symmetry_functions", "center_symmetry_functions"],
    "scale_sigma": ["scale_symmetry_functions_sigma"],
    "none": [],
}


def write_potential(directory, *, cutoff_type=1, alpha=0.0, scaling="scale", activations="t s", nodes=(5, 4),
                    normalize_nodes=False, normalization=(-2.5, 3.0, 1.7), offsets=(-0.4, -2.0), seed=0):
    """Write input.nn, scaling.data and weights into ``directory``; return what the reference needs."""
    rng = np.random.default_rng(seed)
    functions = sf_functions(cutoff_type, alpha)
    lines = [f"number_of_elements 2", "elements O H  # listed out of order on purpose",
             f"cutoff_type {cutoff_type} {alpha}", f"global_hidden_layers_short {len(nodes)}",
             "global_nodes_short " + " ".join(map(str, nodes)), f"global_activation_short {activations} l",
             "element_nodes_short O 1 6", "epochs 10  ! training keyword", "kalman_q0 0.01"]
    lines += SCALING_KEYWORDS[scaling]
    lines += ["scale_min_short -1.0", "scale_max_short 1.0"]
    if normalize_nodes:
        lines.append("normalize_nodes")
    if normalization is not None:
        lines += [f"mean_energy {normalization[0]}", f"conv_energy {normalization[1]}",
                  f"conv_length {normalization[2]}"]
    for e, value in zip(ELEMENTS, offsets):
        lines.append(f"atom_energy {e} {value}")
    sf_lines = [f"symfunction_short {sf_line(f)}" for e in ELEMENTS for f in functions[e]]
    random.Random(seed).shuffle(sf_lines)
    (directory / "input.nn").write_text("\n".join(lines + sf_lines) + "\n")

    stats, weights = {}, {}
    with open(directory / "scaling.data", "w") as out:
        out.write("# scaling data\n")
        for k, e in enumerate(ELEMENTS):
            n = len(functions[e])
            g_min = rng.uniform(0.0, 0.2, n)
            g_max = g_min + rng.uniform(0.5, 4.0, n)
            g_mean = 0.5 * (g_min + g_max)
            g_sigma = rng.uniform(0.2, 1.0, n)
            stats[e] = (g_min, g_max, g_mean, g_sigma)
            for i in range(n):
                out.write(f"{k + 1} {i + 1} {g_min[i]:.17g} {g_max[i]:.17g} {g_mean[i]:.17g} {g_sigma[i]:.17g}\n")
    for e in ELEMENTS:
        sizes = [len(functions[e]), 6 if e == "O" else nodes[0], *nodes[1:], 1]
        layers = []
        flat = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            w, bias = rng.normal(0, 0.5, (a, b)), rng.normal(0, 0.3, b)
            layers.append((w, bias))
            flat += list(w.ravel()) + list(bias)  # n2p2 order: from-neuron major, then biases
        weights[e] = layers
        with open(directory / f"weights.{Z[e]:03d}.data", "w") as out:
            out.write("# weights\n" + "".join(f"{v:.17g} a 0 0 0 0 0\n" for v in flat))
    return dict(functions=functions, stats=stats, weights=weights, scaling=scaling, activations=activations + " l",
                normalize_nodes=normalize_nodes, normalization=normalization or (0.0, 1.0, 1.0), offsets=offsets)


def ref_activation(letter, x):
    return {
        "l": lambda: x, "t": lambda: np.tanh(x), "s": lambda: 1 / (1 + np.exp(-x)), "p": lambda: np.log1p(np.exp(x)),
        "r": lambda: np.maximum(x, 0), "g": lambda: np.exp(-x * x / 2), "c": lambda: np.cos(x),
        "S": lambda: 1 - 1 / (1 + np.exp(-x)), "e": lambda: np.exp(-x), "h": lambda: x * x,
    }[letter]()


def ref_energy(spec, pos, symbols):
    """n2p2's energy in its output units, straight from the published formulas."""
    mean, conv_e, _ = spec["normalization"]
    total = 0.0
    for i, s in enumerate(symbols):
        g = np.array([ref_value(f, i, pos, symbols) for f in spec["functions"][s]])
        g_min, g_max, g_mean, g_sigma = spec["stats"][s]
        smin, smax = -1.0, 1.0
        x = {"scale": lambda: smin + (smax - smin) * (g - g_min) / (g_max - g_min),
             "center": lambda: g - g_mean,
             "scale_center": lambda: smin + (smax - smin) * (g - g_mean) / (g_max - g_min),
             "scale_sigma": lambda: smin + (smax - smin) * (g - g_mean) / g_sigma,
             "none": lambda: g}[spec["scaling"]]()
        for (w, b), letter in zip(spec["weights"][s], spec["activations"].split()):
            x = x @ w + b
            if spec["normalize_nodes"]:
                x = x / w.shape[0]
            x = ref_activation(letter, x)
        total += x[0] / conv_e + mean + spec["offsets"][ELEMENTS.index(s)]
    return total
