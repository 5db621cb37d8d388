"""Conversion of n2p2 short-range neural network potentials (2G-HDNNP).

Reads ``input.nn``, ``scaling.data`` and ``weights.ZZZ.data`` from one directory and
writes an nnpkit model file that reproduces n2p2's energies and forces: elements in
n2p2's order (by atomic number), symmetry functions sorted exactly as n2p2 sorts
them (that order is the network input order and the row order of scaling.data),
n2p2's scaling, normalization and activations. n2p2 files do not declare units: the
caller says which ones the potential was trained in (default Angstrom and eV).

Command line: ``nnpkit convert n2p2 DIR -o MODEL [--length-unit Bohr --energy-unit Hartree]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

Progress = Callable[[str], None]

# Keywords n2p2 reads for prediction, handled by this converter.
_PHYSICS_KEYWORDS = {
    "number_of_elements", "elements", "atom_energy", "cutoff_type", "symfunction_short",
    "scale_symmetry_functions", "scale_min_short", "scale_max_short", "center_symmetry_functions",
    "scale_symmetry_functions_sigma", "global_hidden_layers_short", "global_nodes_short",
    "global_activation_short", "element_nodes_short", "normalize_nodes", "mean_energy", "conv_length",
    "conv_energy", "nnp_type", "nn_type",
}

# n2p2's training-only keywords (and their alternative names): they do not change predictions.
_TRAINING_KEYWORDS = {
    "random_seed", "test_fraction", "epochs", "use_short_forces", "rmse_threshold", "rmse_threshold_energy",
    "rmse_threshold_force", "rmse_threshold_charge", "rmse_threshold_trials", "rmse_threshold_trials_energy",
    "rmse_threshold_trials_force", "rmse_threshold_trials_charge", "energy_fraction", "force_fraction",
    "charge_fraction", "use_old_weights_short", "weights_min", "weights_max", "nguyen_widrow_weights_short",
    "precondition_weights", "main_error_metric", "write_trainpoints", "write_trainforces", "write_weights_epoch",
    "write_neuronstats", "write_trainlog", "repeated_energy_update", "updater_type", "parallel_mode",
    "jacobian_mode", "update_strategy", "selection_mode", "selection_mode_energy", "selection_mode_force",
    "selection_mode_charge", "task_batch_size_energy", "task_batch_size_force", "gradient_type", "gradient_eta",
    "gradient_adam_eta", "gradient_adam_beta1", "gradient_adam_beta2", "gradient_adam_epsilon", "kalman_type",
    "kalman_epsilon", "kalman_eta", "kalman_etatau", "kalman_etamax", "kalman_q0", "kalman_qtau", "kalman_qmin",
    "kalman_lambda_short", "kalman_nue_short", "memorize_symfunc_results", "force_weight",
    "short_energy_error_threshold", "short_force_error_threshold", "short_energy_fraction", "short_force_fraction",
    "write_symfunctions", "write_binding_energy_only", "force_energy_ratio", "use_old_weights_charge",
}

# Fragments of keyword names that belong to physics this converter does not support
# (charges, electrostatics, 3G/4G-HDNNPs): such a keyword is refused, not ignored.
_UNSUPPORTED_FRAGMENTS = ("electrostatic", "ewald", "kspace", "charge", "hardness", "gausswidth", "screen",
                          "four_pi", "vdw", "dispersion", "qeq")

# nnp_type values meaning a plain short-range NNP.
_SHORT_RANGE_TYPES = {"0", "2", "2G-HDNNP", "2g-hdnnp", "HDNNP_2G", "short"}


class N2p2FormatError(ValueError):
    """An n2p2 input file is missing, malformed or uses something unsupported."""


@dataclass
class InputNN:
    """The keywords of an input.nn file: name -> [(arguments, line number)]."""

    path: str
    keywords: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def has(self, key: str) -> bool:
        return key in self.keywords

    def value(self, key: str, default: str | None = None) -> str:
        if key not in self.keywords:
            if default is not None:
                return default
            raise N2p2FormatError(f"{self.path}: required keyword '{key}' is missing")
        entries = self.keywords[key]
        if len(entries) > 1:
            raise N2p2FormatError(f"{self.path}: keyword '{key}' appears {len(entries)} times "
                                  f"(lines {', '.join(str(n) for _, n in entries)})")
        return entries[0][0]

    def values(self, key: str) -> list[tuple[str, int]]:
        return self.keywords.get(key, [])


def read_input_nn(path: str) -> InputNN:
    """Parse input.nn as n2p2 does: '#' and '!' start comments, the first word is the keyword."""
    if not os.path.isfile(path):
        raise N2p2FormatError(f"n2p2 settings file not found: {path}")
    settings = InputNN(path)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.split("#", 1)[0].split("!", 1)[0].strip()
            if not line:
                continue
            key, _, rest = line.partition(" ")
            settings.keywords.setdefault(key, []).append((" ".join(rest.split()), number))
    return settings


def _float(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise N2p2FormatError(f"{where}: {what} '{text}' is not a number") from None
    if not math.isfinite(value):
        raise N2p2FormatError(f"{where}: {what} is not finite")
    return value


def _int(text: str, what: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise N2p2FormatError(f"{where}: {what} '{text}' is not an integer") from None


def check_keywords(settings: InputNN, warn: Progress) -> None:
    """Refuse physics this converter cannot reproduce; warn about unknown keywords."""
    for key, entries in settings.keywords.items():
        line = entries[0][1]
        if key in ("nnp_type", "nn_type"):
            value = entries[0][0]
            if value not in _SHORT_RANGE_TYPES:
                raise N2p2FormatError(
                    f"{settings.path}:{line}: '{key} {value}' is not a plain short-range NNP (2G-HDNNP); "
                    "charge networks and 4G-HDNNPs (charges, electrostatics) are not supported")
            continue
        if key in _PHYSICS_KEYWORDS or key in _TRAINING_KEYWORDS:
            continue
        if any(fragment in key.lower() for fragment in _UNSUPPORTED_FRAGMENTS):
            raise N2p2FormatError(
                f"{settings.path}:{line}: keyword '{key}' belongs to charges/electrostatics "
                "(3G/4G-HDNNP), which nnpkit does not support; only short-range 2G-HDNNPs convert")
        warn(f"warning: {settings.path}:{line}: unknown keyword '{key}' ignored (n2p2 ignores it too)")


# --------------------------------------------------------------- symmetry functions


@dataclass
class ParsedSymmetryFunction:
    """One symfunction_short line, with parameters in n2p2's internal (normalized) lengths."""

    center: int
    type: int
    line: int
    params: dict
    sort_key: tuple

    def describe(self, elements: list[str]) -> str:
        return f"line {self.line} (element {elements[self.center]}, type {self.type})"


def _parse_symmetry_function(args: str, line: int, elements: list[str], cutoff_type: int, alpha: float,
                             conv: float, where: str) -> ParsedSymmetryFunction:
    tokens = args.split()
    here = f"{where}:{line}"
    if len(tokens) < 2:
        raise N2p2FormatError(f"{here}: symfunction_short needs an element and a type")
    index = {s: i for i, s in enumerate(elements)}

    def element(token: str) -> int:
        if token not in index:
            raise N2p2FormatError(f"{here}: element '{token}' is not listed in 'elements' ({' '.join(elements)})")
        return index[token]

    def need(n: int, form: str) -> None:
        if len(tokens) < n:
            raise N2p2FormatError(f"{here}: symmetry function type {tokens[1]} needs: {form}")

    ec = element(tokens[0])
    sf_type = _int(tokens[1], "symmetry function type", here)
    num = lambda i, what: _float(tokens[i], what, here)  # noqa: E731
    ct = (cutoff_type, alpha)
    if sf_type == 2:
        need(6, "<ec> 2 <e1> <eta> <rs> <rc>")
        e1 = element(tokens[2])
        eta, rs, rc = num(3, "eta") / conv**2, num(4, "rs") * conv, num(5, "rc") * conv
        p = dict(e1=e1, eta=eta, rs=rs, rc=rc)
        key = (*ct, rc, eta, rs, e1)
    elif sf_type in (3, 9):
        need(8, f"<ec> {sf_type} <e1> <e2> <eta> <lambda> <zeta> <rc> [<rs>]")
        e1, e2 = sorted((element(tokens[2]), element(tokens[3])))
        eta, lam, zeta, rc = num(4, "eta") / conv**2, num(5, "lambda"), num(6, "zeta"), num(7, "rc") * conv
        rs = num(8, "rs") * conv if len(tokens) > 8 else 0.0
        p = dict(e1=e1, e2=e2, eta=eta, lambda_=lam, zeta=zeta, rc=rc, rs=rs)
        key = (*ct, rc, eta, rs, zeta, lam, e1, e2)
    elif sf_type == 12:
        need(5, "<ec> 12 <eta> <rs> <rc>")
        eta, rs, rc = num(2, "eta") / conv**2, num(3, "rs") * conv, num(4, "rc") * conv
        p = dict(eta=eta, rs=rs, rc=rc)
        key = (*ct, rc, eta, rs)
    elif sf_type == 13:
        need(7, "<ec> 13 <eta> <rs> <lambda> <zeta> <rc>")
        eta, rs, lam, zeta, rc = (num(2, "eta") / conv**2, num(3, "rs") * conv, num(4, "lambda"), num(5, "zeta"),
                                  num(6, "rc") * conv)
        p = dict(eta=eta, rs=rs, lambda_=lam, zeta=zeta, rc=rc)
        key = (*ct, rc, eta, rs, zeta, lam)
    elif sf_type == 20:
        need(6, "<ec> 20 <e1> <rl> <rc> <subtype>")
        e1 = element(tokens[2])
        rl, rc, sub = num(3, "rl") * conv, num(4, "rc") * conv, tokens[5]
        p = dict(e1=e1, rl=rl, rc=rc, subtype=sub)
        key = (sub, e1, rc, rl)
    elif sf_type in (21, 22):
        need(9, f"<ec> {sf_type} <e1> <e2> <rl> <rc> <angle_left> <angle_right> <subtype>")
        e1, e2 = sorted((element(tokens[2]), element(tokens[3])))
        rl, rc = num(4, "rl") * conv, num(5, "rc") * conv
        left, right, sub = num(6, "angle_left"), num(7, "angle_right"), tokens[8]
        p = dict(e1=e1, e2=e2, rl=rl, rc=rc, angle_left=left, angle_right=right, subtype=sub)
        key = (sub, e1, e2, rc, rl, left, right)
    elif sf_type == 23:
        need(5, "<ec> 23 <rl> <rc> <subtype>")
        rl, rc, sub = num(2, "rl") * conv, num(3, "rc") * conv, tokens[4]
        p = dict(rl=rl, rc=rc, subtype=sub)
        key = (sub, rc, rl)
    elif sf_type in (24, 25):
        need(7, f"<ec> {sf_type} <rl> <rc> <angle_left> <angle_right> <subtype>")
        rl, rc = num(2, "rl") * conv, num(3, "rc") * conv
        left, right, sub = num(4, "angle_left"), num(5, "angle_right"), tokens[6]
        p = dict(rl=rl, rc=rc, angle_left=left, angle_right=right, subtype=sub)
        key = (sub, rc, rl, left, right)
    else:
        raise N2p2FormatError(f"{here}: symmetry function type {sf_type} is not supported "
                              "(supported: 2, 3, 9, 12, 13, 20-25)")
    return ParsedSymmetryFunction(ec, sf_type, line, p, (sf_type, *key))


def _description(sf: ParsedSymmetryFunction, elements: list[str], cutoff_type: int, alpha: float):
    from ..models import symmetry_functions as m

    p, c = sf.params, elements[sf.center]
    if sf.type == 2:
        return m.RadialSymmetryFunction(c, elements[p["e1"]], p["eta"], p["rc"], p["rs"], cutoff_type, alpha)
    if sf.type in (3, 9):
        return m.AngularSymmetryFunction(c, (elements[p["e1"]], elements[p["e2"]]), p["eta"], p["zeta"],
                                         p["lambda_"], p["rc"], p["rs"], narrow=sf.type == 3,
                                         cutoff_type=cutoff_type, alpha=alpha)
    if sf.type == 12:
        return m.WeightedRadialSymmetryFunction(c, p["eta"], p["rc"], p["rs"], cutoff_type, alpha)
    if sf.type == 13:
        return m.WeightedAngularSymmetryFunction(c, p["eta"], p["zeta"], p["lambda_"], p["rc"], p["rs"],
                                                 cutoff_type, alpha)
    if sf.type in (20, 23):
        neighbor = elements[p["e1"]] if sf.type == 20 else None
        return m.CompactRadialSymmetryFunction(c, neighbor, p["rl"], p["rc"], p["subtype"])
    neighbors = (elements[p["e1"]], elements[p["e2"]]) if sf.type in (21, 22) else None
    return m.CompactAngularSymmetryFunction(c, neighbors, p["rl"], p["rc"], p["angle_left"], p["angle_right"],
                                            p["subtype"], narrow=sf.type in (21, 24))


# --------------------------------------------------------------- scaling and weights


def _data_lines(path: str) -> list[tuple[int, list[str]]]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return [(n, line.split()) for n, line in enumerate(handle, start=1)
                if line.strip() and not line.lstrip().startswith("#")]


def read_scaling(path: str, n_per_element: list[int], elements: list[str]) -> list[np.ndarray]:
    """Per element an [n, 4] array of Gmin, Gmax, Gmean, Gsigma (sigma NaN when absent)."""
    if not os.path.isfile(path):
        raise N2p2FormatError(f"scaling file not found: {path} (n2p2 writes it with nnp-scaling)")
    rows = _data_lines(path)
    expected = sum(n_per_element)
    if len(rows) != expected:
        raise N2p2FormatError(f"{path}: {len(rows)} data lines, but input.nn defines {expected} symmetry "
                              f"functions ({', '.join(f'{s} {n}' for s, n in zip(elements, n_per_element))})")
    out, k = [], 0
    for e, n in enumerate(n_per_element):
        table = np.full((n, 4), np.nan)
        for i in range(n):
            number, tokens = rows[k]
            k += 1
            where = f"{path}:{number}"
            if len(tokens) < 5:
                raise N2p2FormatError(f"{where}: expected 'element index Gmin Gmax Gmean [Gsigma]'")
            if _int(tokens[0], "element index", where) != e + 1 or _int(tokens[1], "index", where) != i + 1:
                raise N2p2FormatError(f"{where}: expected element {e + 1} symmetry function {i + 1}, found "
                                      f"{tokens[0]} {tokens[1]} (does scaling.data belong to this input.nn?)")
            for c in range(min(4, len(tokens) - 2)):
                table[i, c] = _float(tokens[2 + c], "scaling value", where)
        out.append(table)
    return out


def read_weights(path: str, n_expected: int, element: str) -> np.ndarray:
    """First column of weights.ZZZ.data, checked against the network's connection count."""
    if not os.path.isfile(path):
        raise N2p2FormatError(f"weights file of element {element} not found: {path}")
    rows = _data_lines(path)
    values = np.array([_float(tokens[0], "weight", f"{path}:{n}") for n, tokens in rows], dtype=np.float64)
    if values.size != n_expected:
        raise N2p2FormatError(f"{path}: {values.size} weights, but the network of {element} in input.nn has "
                              f"{n_expected} (weights and biases); the file does not match input.nn")
    return values


# --------------------------------------------------------------- the model


def _scaling_mode(settings: InputNN) -> str:
    """n2p2's choice between scaling modes (Mode::setupSymmetryFunctionScaling)."""
    scale, center = settings.has("scale_symmetry_functions"), settings.has("center_symmetry_functions")
    if scale and not center:
        return "scale"
    if center and not scale:
        return "center"
    if scale and center:
        return "scale_center"
    if settings.has("scale_symmetry_functions_sigma"):
        return "scale_sigma"
    return "none"


def build_model(directory: str, progress: Progress = print):
    """Read an n2p2 potential directory and return an :class:`~nnpkit.models.n2p2.N2p2Model`."""
    from ase.data import atomic_numbers as z_table

    from ..models.n2p2 import ACTIVATIONS, N2p2AtomicNetwork, N2p2Model
    from ..models.symmetry_functions import SymmetryFunctionSet

    if not os.path.isdir(directory):
        raise N2p2FormatError(f"not a directory: {directory} (give the folder holding input.nn, scaling.data "
                              "and weights.ZZZ.data)")
    settings = read_input_nn(os.path.join(directory, "input.nn"))
    where = settings.path
    progress(f"reading {where}: {sum(len(v) for v in settings.keywords.values())} keyword lines")
    check_keywords(settings, progress)

    # Elements, sorted by atomic number as n2p2's ElementMap does.
    names = settings.value("elements").split()
    for s in names:
        if s not in z_table:
            raise N2p2FormatError(f"{where}: '{s}' in 'elements' is not a chemical element")
    elements = sorted(set(names), key=lambda s: z_table[s])
    n_declared = _int(settings.value("number_of_elements"), "number_of_elements", where)
    if n_declared != len(elements):
        raise N2p2FormatError(f"{where}: number_of_elements is {n_declared} but 'elements' lists {len(elements)}")
    progress(f"elements (n2p2 order): {' '.join(elements)}")

    # Normalization.
    norm_keys = ("mean_energy", "conv_energy", "conv_length")
    present = [k for k in norm_keys if settings.has(k)]
    if present and len(present) != 3:
        raise N2p2FormatError(f"{where}: use all or none of mean_energy, conv_energy, conv_length (found only "
                              f"{', '.join(present)})")
    mean_energy = _float(settings.value("mean_energy", "0"), "mean_energy", where)
    conv_energy = _float(settings.value("conv_energy", "1"), "conv_energy", where)
    conv_length = _float(settings.value("conv_length", "1"), "conv_length", where)
    if conv_energy <= 0 or conv_length <= 0:
        raise N2p2FormatError(f"{where}: conv_energy and conv_length must be positive")
    if present:
        progress(f"normalization: mean_energy {mean_energy:.10g}, conv_energy {conv_energy:.10g}, "
                 f"conv_length {conv_length:.10g}")

    offsets = [0.0] * len(elements)
    for args, line in settings.values("atom_energy"):
        tokens = args.split()
        if len(tokens) < 2 or tokens[0] not in elements:
            raise N2p2FormatError(f"{where}:{line}: expected 'atom_energy <element> <energy>' for an element "
                                  "of the potential")
        offsets[elements.index(tokens[0])] = _float(tokens[1], "atom_energy", f"{where}:{line}")

    # Cutoff function (one for all symmetry functions).
    cutoff_args = settings.value("cutoff_type").split()
    cutoff_type = _int(cutoff_args[0], "cutoff_type", where)
    if not 0 <= cutoff_type <= 8:
        raise N2p2FormatError(f"{where}: unknown cutoff_type {cutoff_type} (n2p2 knows 0-8)")
    alpha = _float(cutoff_args[1], "cutoff alpha", where) if len(cutoff_args) > 1 else 0.0
    if not 0.0 <= alpha < 1.0:
        raise N2p2FormatError(f"{where}: cutoff alpha must satisfy 0 <= alpha < 1, got {alpha}")

    # Symmetry functions, sorted per element exactly as n2p2 sorts them.
    entries = settings.values("symfunction_short")
    if not entries:
        raise N2p2FormatError(f"{where}: no symfunction_short lines")
    parsed = [_parse_symmetry_function(a, n, elements, cutoff_type, alpha, conv_length, where) for a, n in entries]
    ordered = []
    for e in range(len(elements)):
        mine = sorted((p for p in parsed if p.center == e), key=lambda p: p.sort_key)
        if not mine:
            raise N2p2FormatError(f"{where}: element {elements[e]} has no symmetry functions")
        ordered.extend(mine)
    try:
        functions = [_description(p, elements, cutoff_type, alpha) for p in ordered]
        sf_set = SymmetryFunctionSet(elements, functions)
    except ValueError as error:
        raise N2p2FormatError(f"{where}: {error}") from None
    types = sorted({p.type for p in parsed})
    progress("symmetry functions: " + ", ".join(f"{s} {n}" for s, n in zip(elements, sf_set.n_per_element))
             + f" (types {', '.join(map(str, types))}; cutoff type {cutoff_type}, alpha {alpha:g})")

    # Networks.
    n_hidden = _int(settings.value("global_hidden_layers_short"), "global_hidden_layers_short", where)
    nodes = settings.value("global_nodes_short").split()
    letters = settings.value("global_activation_short").split()
    if n_hidden < 1 or len(nodes) < n_hidden or len(letters) < n_hidden:
        raise N2p2FormatError(f"{where}: global_hidden_layers_short {n_hidden} needs that many entries in "
                              f"global_nodes_short ({len(nodes)}) and global_activation_short ({len(letters)})")
    for letter in letters[:n_hidden]:
        if letter not in ACTIVATIONS:
            raise N2p2FormatError(f"{where}: unknown activation '{letter}' in global_activation_short "
                                  f"(n2p2 letters: {' '.join(ACTIVATIONS)})")
    if len(letters) > n_hidden and letters[n_hidden] != "l":
        progress(f"note: output activation '{letters[n_hidden]}' ignored: n2p2 always uses a linear output layer")
    hidden = {e: [_int(n, "global_nodes_short", where) for n in nodes[:n_hidden]] for e in range(len(elements))}
    for args, line in settings.values("element_nodes_short"):
        tokens = args.split()
        here = f"{where}:{line}"
        if len(tokens) < 3 or tokens[0] not in elements:
            raise N2p2FormatError(f"{here}: expected 'element_nodes_short <element> <layer> <nodes>'")
        layer = _int(tokens[1], "layer", here)
        if not 1 <= layer <= n_hidden:
            raise N2p2FormatError(f"{here}: hidden layer {layer} outside 1..{n_hidden}")
        hidden[elements.index(tokens[0])][layer - 1] = _int(tokens[2], "nodes", here)
    normalize_nodes = settings.has("normalize_nodes")
    activations = "".join(letters[:n_hidden]) + "l"
    networks = []
    for e, symbol in enumerate(elements):
        sizes = [sf_set.n_per_element[e], *hidden[e], 1]
        if min(sizes) < 1:
            raise N2p2FormatError(f"{where}: network of {symbol} has an empty layer ({sizes})")
        net = N2p2AtomicNetwork(sizes, activations, normalize_nodes)
        path = os.path.join(directory, f"weights.{z_table[symbol]:03d}.data")
        progress(f"network {symbol}: {'-'.join(map(str, sizes))} ({' '.join(activations)}), "
                 f"{net.n_connections} connections from {os.path.basename(path)}")
        net.set_connections(read_weights(path, net.n_connections, symbol))
        networks.append(net)

    model = N2p2Model(sf_set, networks, conv_length=conv_length, conv_energy=conv_energy,
                      mean_energy=mean_energy, energy_offsets=offsets)

    # Scaling and training ranges.
    mode = _scaling_mode(settings)
    smin = _float(settings.value("scale_min_short", "0"), "scale_min_short", where)
    smax = _float(settings.value("scale_max_short", "1"), "scale_max_short", where)
    scaling_path = os.path.join(directory, "scaling.data")
    if mode == "none" and not os.path.isfile(scaling_path):
        progress("warning: no scaling.data: symmetry functions unscaled and no training ranges for "
                 "extrapolation warnings")
        stats = None
    else:
        stats = read_scaling(scaling_path, sf_set.n_per_element, elements)
    for e in range(len(elements)):
        n = sf_set.n_per_element[e]
        if stats is None:
            model.set_scaling(e, np.ones(n), np.zeros(n), 0.0)
            continue
        g_min, g_max, g_mean, g_sigma = stats[e].T
        if mode in ("scale", "scale_center"):
            width = g_max - g_min
            bad = np.nonzero(~(width > 0))[0]
            factor = (smax - smin) / np.where(width > 0, width, 1.0)
        elif mode == "scale_sigma":
            bad = np.nonzero(~(g_sigma > 0))[0]
            factor = (smax - smin) / np.where(g_sigma > 0, g_sigma, 1.0)
        else:
            bad, factor = np.array([], dtype=int), np.ones(n)
        if bad.size:
            f = ordered[sum(sf_set.n_per_element[:e]) + int(bad[0])]
            raise N2p2FormatError(
                f"{scaling_path}: symmetry function {int(bad[0]) + 1} of {elements[e]} "
                f"({f.describe(elements)} of input.nn) has a zero (or missing) training width, so '{mode}' scaling divides "
                "by zero (n2p2 would produce NaN); remove it or use another scaling")
        center = {"scale": g_min, "center": g_mean, "scale_center": g_mean, "scale_sigma": g_mean}.get(mode, np.zeros(n))
        model.set_scaling(e, factor, center, smin if mode != "center" and mode != "none" else 0.0)
        model.set_training_range(e, g_min, g_max)
    progress(f"scaling: {mode}" + (f" (Smin {smin:g}, Smax {smax:g})" if mode not in ("none", "center") else ""))
    return model


def min_distance_from_scaling(model, step: float = 0.005) -> float | None:
    """A lower bound on the closest pair of atoms in the training data, from the
    largest symmetry-function values in scaling.data (model length units).

    Radial symmetry functions are sums of non-negative pair terms, so a training
    structure holding an (a, b) pair at distance r had, at both atoms, every radial
    G at least the value that pair alone gives. Dimers are scanned from short to
    long r: the first r whose dimer stays within every Gmax bounds the training
    data's closest pair from below (the grid point before it is returned). None
    when scaling.data gave no ranges or no dimer exceeds them.
    """
    import torch

    if not bool(torch.isfinite(model.descriptor_max).any()):
        return None
    r = torch.arange(step, model.cutoff, step, dtype=torch.float64)
    k = r.shape[0]
    pairs = torch.arange(k, dtype=torch.int64) * 2
    # dimer k: atoms 2k and 2k+1, edges (2k -> 2k+1) and (2k+1 -> 2k): grouped by centre
    edge_index = torch.stack([torch.stack([pairs, pairs + 1], 1).reshape(-1),
                              torch.stack([pairs + 1, pairs], 1).reshape(-1)])
    vectors = torch.zeros(2 * k, 3, dtype=torch.float64)
    vectors[0::2, 0], vectors[1::2, 0] = r, -r
    bound = None
    n_el = len(model.species)
    with torch.no_grad():
        for a in range(n_el):
            for b in range(a, n_el):
                species = torch.tensor([a, b], dtype=torch.int64).repeat(k)
                g = model.descriptors(species, edge_index, vectors, 2 * k)
                g_max = model.descriptor_max[species]
                beyond = (g > g_max + 1e-12 * g_max.abs().clamp(min=1.0)).any(1).reshape(k, 2).any(1)
                if not bool(beyond[0]):
                    continue  # even the shortest dimer looks like training data: no information
                inside = torch.nonzero(~beyond).flatten()
                if inside.numel() == 0:
                    continue
                first = int(inside[0])
                pair_bound = float(r[first - 1])
                bound = pair_bound if bound is None else min(bound, pair_bound)
    return bound


def convert(
    directory: str,
    output: str,
    *,
    length_unit: str = "Ang",
    energy_unit: str = "eV",
    cflength: float | None = None,
    cfenergy: float | None = None,
    min_distance: float | None = None,
    progress: Progress = print,
) -> str:
    """Convert the n2p2 potential in ``directory`` into the nnpkit model file ``output``.

    ``length_unit`` and ``energy_unit`` (ASE names: Ang, Bohr, nm, eV, Hartree,
    kcal/mol, ...) say which units the potential was trained in; n2p2 files do
    not record them. ``cflength`` and ``cfenergy`` are the conversion factors of
    an n2p2 LAMMPS input (``pair_style hdnnp ... cflength X cfenergy Y``: model
    length per Angstrom, model energy per eV); given, they define the model's
    units exactly, so that results equal that n2p2 run to the last digit instead
    of using ASE's CODATA 2014 constants for the unit names. ``min_distance``
    (``length_unit``), the closest pair engines accept, defaults to a lower bound on the closest pair of the training data
    derived from scaling.data (:func:`min_distance_from_scaling`), else to
    :data:`nnpkit.export.DEFAULT_MIN_DISTANCE` Angstrom. Returns the path written.
    """
    from .. import _core
    from ..export import DEFAULT_MIN_DISTANCE, export

    try:
        length_in_angstrom = _core.length_unit_in_angstrom(length_unit)
        energy_in_ev = _core.energy_unit_in_ev(energy_unit)
    except Exception as error:  # unknown unit names
        raise N2p2FormatError(str(error)) from None
    exact_units: dict[str, float] = {}
    for name, factor, named_value, key in (("cflength", cflength, length_in_angstrom, "length_unit_in_angstrom"),
                                           ("cfenergy", cfenergy, energy_in_ev, "energy_unit_in_ev")):
        if factor is None:
            continue
        if not (factor > 0.0 and np.isfinite(factor)):
            raise N2p2FormatError(f"{name} must be a positive number, got {factor}")
        value = 1.0 / factor
        # A factor that contradicts the unit name is a mistake (e.g. cflength
        # 1.8897261328 with the default length unit Ang): say which name fits.
        if abs(value / named_value - 1.0) > 1e-4:
            raise N2p2FormatError(
                f"{name} {factor} means one model unit is {value:.10g} "
                f"{'Angstrom' if name == 'cflength' else 'eV'}, which is not the "
                f"{length_unit if name == 'cflength' else energy_unit} given: pass "
                f"--{'length' if name == 'cflength' else 'energy'}-unit with the unit the potential was trained in")
        exact_units[key] = value
    model = build_model(directory, progress)
    progress(f"units (not stored by n2p2, as given): length {length_unit}, energy {energy_unit}"
             + "".join(f", {k} {v:.12g}" for k, v in exact_units.items()))
    if min_distance is not None:
        source = "given when the model was converted"
    else:
        min_distance = min_distance_from_scaling(model)
        source = "a lower bound on the closest pair of its training data, from scaling.data"
        if min_distance is None:
            min_distance = DEFAULT_MIN_DISTANCE / _core.length_unit_in_angstrom(length_unit)
            source = "nnpkit's default: n2p2 records no training distances"
            progress(f"warning: no training ranges to derive min_distance from; using the default "
                     f"{min_distance:.4g} {length_unit} (set it with --min-distance)")
    progress(f"min_distance: {min_distance:.4g} {length_unit} ({source}); closer pairs are refused")
    progress(f"writing {output}")
    export(
        model,
        output,
        length_unit=length_unit,
        energy_unit=energy_unit,
        min_distance=min_distance,
        min_distance_source=source,
        origin={"kind": "n2p2", "source": os.path.basename(os.path.normpath(directory))},
        extra_metadata={"extrapolation": "extrapolation_counts", **exact_units},
    )
    progress(f"done: {output} (cutoff {model.cutoff:g} {length_unit})")
    return output


def _run(args: argparse.Namespace) -> int:
    quiet = args.quiet

    def progress(message: str) -> None:
        if not quiet or message.startswith("warning"):  # -q hides progress, never warnings
            print(message, file=sys.stderr)

    convert(args.directory, args.output, length_unit=args.length_unit, energy_unit=args.energy_unit,
            cflength=args.cflength, cfenergy=args.cfenergy, min_distance=args.min_distance, progress=progress)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("n2p2", help="an n2p2 potential directory (input.nn, scaling.data, weights.ZZZ.data)")
    p.add_argument("directory", help="folder holding input.nn, scaling.data and weights.ZZZ.data")
    p.add_argument("-o", "--output", required=True, help="model file to write")
    p.add_argument("--length-unit", default="Ang", help="length unit the potential was trained in (default Ang)")
    p.add_argument("--energy-unit", default="eV", help="energy unit the potential was trained in (default eV)")
    p.add_argument("--cflength", type=float, default=None,
                   help="n2p2's cflength (model length per Angstrom) from your LAMMPS input: units exactly as n2p2's")
    p.add_argument("--cfenergy", type=float, default=None,
                   help="n2p2's cfenergy (model energy per eV) from your LAMMPS input: units exactly as n2p2's")
    p.add_argument("--min-distance", type=float, help="closest pair engines accept, in --length-unit (default: "
                   "derived from scaling.data)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output (warnings are still printed)")
    p.set_defaults(func=_run)
