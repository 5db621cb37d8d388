"""Training reports: a text summary, learning curves and parity plots (PNG)."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
from ase.units import GPa

from .config import TrainConfig
from .results import Metrics, TrainResult


def format_metrics(m: Metrics) -> str:
    parts = [f"energy RMSE {1000 * m.energy_rmse:.3f} meV/atom (MAE {1000 * m.energy_mae:.3f})"]
    if m.forces_rmse is not None:
        parts.append(f"force RMSE {1000 * m.forces_rmse:.2f} meV/Ang (MAE {1000 * m.forces_mae:.2f})")
    if m.stress_rmse is not None:
        parts.append(f"stress RMSE {m.stress_rmse / GPa:.4f} GPa")
    return ", ".join(parts)


def write_report(result: TrainResult, config: TrainConfig) -> dict[str, str]:
    """Write report.txt, history.json and (if enabled) PNG plots to the output folder.
    Returns the paths written by name."""
    out = config.output_directory
    paths = {"text": os.path.join(out, "report.txt"), "history": os.path.join(out, "history.json")}
    lines = [
        f"model file: {result.model_path}",
        f"model type: {config.model.type}, species {result.data.species}, cutoff {config.model.cutoff} Ang, "
        f"dtype {config.training.dtype}, committee of {len(result.members)}",
        f"training pool: {len(result.data.pool)} structures"
        + (f", validation files: {len(result.data.validation)}" if result.data.validation else
           f", validation fraction {config.data.validation_fraction} per member")
        + (f", test: {len(result.data.test)}" if result.data.test else ""),
        "",
    ]
    for m, (history, val) in enumerate(zip(result.histories, result.member_validation)):
        epochs = len(history)
        seconds = np.mean([h["seconds"] for h in history]) if history else float("nan")
        best = min(range(epochs), key=lambda k: history[k]["val_loss"]) + 1 if history else 0
        lines.append(f"member {m}: {epochs} epochs ({seconds:.2f} s/epoch), best epoch {best}")
        lines.append(f"  validation: {format_metrics(val)}")
    if result.evaluation is not None:
        lines += ["", f"exported model on the {result.evaluation_set} set: {format_metrics(result.evaluation)}"]
    text = "\n".join(lines) + "\n"
    with open(paths["text"], "w") as handle:
        handle.write(text)
    with open(paths["history"], "w") as handle:
        json.dump(result.histories, handle, indent=1)
    if config.output.plots:
        paths.update(_plots(result, out))
    return paths


def _plots(result: TrainResult, out: str) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: dict[str, str] = {}
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for m, history in enumerate(result.histories):
        epochs = [h["epoch"] for h in history]
        axes[0].semilogy(epochs, [h["train_loss"] for h in history], label=f"train {m}")
        axes[0].semilogy(epochs, [h["val_loss"] for h in history], "--", label=f"validation {m}")
        axes[1].semilogy(epochs, [1000 * h["val_energy_rmse"] for h in history], label=f"member {m}")
        if history and history[0].get("val_forces_rmse") is not None:
            axes[2].semilogy(epochs, [1000 * h["val_forces_rmse"] for h in history], label=f"member {m}")
    for ax, title in zip(axes, ["loss", "validation energy RMSE (meV/atom)", "validation force RMSE (meV/Ang)"]):
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    written["learning_curves"] = os.path.join(out, "learning_curves.png")
    fig.savefig(written["learning_curves"], dpi=110)
    plt.close(fig)

    sets = _parity_sets(result)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    _parity(axes[0], sets["energy_per_atom_ref"], sets["energy_per_atom"], "energy (eV/atom)")
    if "forces" in sets:
        _parity(axes[1], sets["forces_ref"], sets["forces"], "force component (eV/Ang)")
    else:
        axes[1].set_axis_off()
    fig.suptitle(sets["title"], fontsize=9)
    fig.tight_layout()
    written["parity"] = os.path.join(out, "parity.png")
    fig.savefig(written["parity"], dpi=110)
    plt.close(fig)
    return written


def _parity_sets(result: TrainResult) -> dict[str, Any]:
    if result.evaluation is not None:
        sets: dict[str, Any] = dict(result.evaluation.predictions)
        sets["title"] = f"exported model, {result.evaluation_set} set"
        return sets
    keys = result.member_validation[0].predictions.keys()
    sets = {k: np.concatenate([v.predictions[k] for v in result.member_validation]) for k in keys}
    sets["title"] = "each member on its own held-out validation split (pooled)"
    return sets


def _parity(ax, reference: np.ndarray, predicted: np.ndarray, label: str) -> None:
    lo, hi = float(min(reference.min(), predicted.min())), float(max(reference.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="0.6", lw=1)
    ax.scatter(reference, predicted, s=4, alpha=0.5)
    rmse = float(np.sqrt(np.mean((predicted - reference) ** 2)))
    ax.set_xlabel(f"reference {label}")
    ax.set_ylabel(f"model {label}")
    ax.set_title(f"RMSE {rmse:.4g}", fontsize=9)
