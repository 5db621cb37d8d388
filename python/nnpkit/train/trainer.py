"""The training loop: data, committee members, checkpoints, export, report."""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .. import _core
from ..io import read_structures
from .config import TrainConfig
from .data import DataSets, Structure, atoms_to_structure, check_labels, collate, fit_energy_offsets, species_in
from .loss import loss_terms, predict
from .models import ModelType, model_type
from .report import write_report
from .results import Metrics, TrainResult

CHECKPOINT_FILE = "checkpoint.pt"
#: Where training reads min_distance from: recorded in the model file, named in engines' messages.
MIN_DISTANCE_SOURCE = "the closest pair of atoms in its training data"


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training; the message says where the checkpoint is and how to resume."""


def _hint_for_missing(path: str, config_directory: str) -> str:
    """A hint for a missing data file: the example folders have a script that writes it."""
    for folder in {os.path.dirname(os.path.abspath(path)), config_directory}:
        script = os.path.join(folder, "generate_data.py")
        if os.path.exists(script):
            return f" (run 'python {os.path.basename(script)}' in {folder} to generate it)"
    return ""


def load_data(config: TrainConfig, dtype: torch.dtype) -> DataSets:
    """Read and convert every data file named in the config; fails on the first problem."""
    data = config.data
    length_scale = _core.length_unit_in_angstrom(data.length_unit)
    energy_scale = _core.energy_unit_in_ev(data.energy_unit)
    groups: dict[str, list[tuple[Any, str]]] = {}
    for role in ("train", "validation", "test"):
        groups[role] = []
        for path in getattr(data, role):
            resolved = config.resolve(path)
            if not os.path.exists(resolved):
                raise FileNotFoundError(f"data file not found: {resolved} (data.{role} of the config)"
                                        + _hint_for_missing(resolved, config.base_directory))
            selected = read_structures(resolved, data.index, data.format, index_name="data.index",
                                       format_name="data.format")
            groups[role] += [(atoms, f"{path}:{k}") for k, atoms in selected]
    if not groups["train"]:
        raise ValueError(f"the training data set is empty (data.train: {data.train})")
    species = config.model.species or species_in([a for role in groups.values() for a, _ in role])
    structures: list[Structure] = []
    roles: dict[str, list[int]] = {}
    progress = _progress(config.training.progress, total=sum(len(e) for e in groups.values()), initial=0,
                         label="neighbour lists", unit="structure")
    for role, entries in groups.items():
        roles[role] = []
        for atoms, source in entries:
            progress.update(1)
            roles[role].append(len(structures))
            structures.append(
                atoms_to_structure(atoms, species, config.model.cutoff, dtype, source, length_scale, energy_scale)
            )
    progress.close()
    need_forces = config.loss.force_weight > 0
    need_stress = config.loss.stress_weight > 0
    for role in ("train", "validation"):
        if roles[role]:
            check_labels([structures[i] for i in roles[role]], need_forces, need_stress, role)
    if roles["test"]:
        check_labels([structures[i] for i in roles["test"]], False, False, "test")
    if not roles["validation"] and len(roles["train"]) < 2:
        raise ValueError("need at least 2 training structures to split off a validation set")
    return DataSets(structures, list(species), roles["train"], roles["validation"], roles["test"])


def split(pool: Sequence[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded random split of ``pool`` into (train, validation), both non-empty."""
    order = np.random.default_rng(seed).permutation(len(pool))
    n_val = min(max(1, int(round(fraction * len(pool)))), len(pool) - 1)
    return sorted(pool[i] for i in order[n_val:]), sorted(pool[i] for i in order[:n_val])


def evaluate(
    config: TrainConfig, evaluator: Callable, structures: Sequence[Structure], indices: Sequence[int],
    batch_size: int = 32,
) -> Metrics:
    """Loss and errors of a model over whole structures (no parameter gradients)."""
    need_forces = all(structures[i].forces is not None for i in indices)
    need_stress = config.loss.stress_weight > 0 and all(
        structures[i].stress is not None and structures[i].volume > 0 for i in indices
    )
    e_pred, e_ref, n_atoms, f_pred, f_ref, s_pred, s_ref = [], [], [], [], [], [], []
    for start in range(0, len(indices), batch_size):
        chunk = list(indices[start : start + batch_size])
        batch = collate([structures[i] for i in chunk], chunk)
        p = predict(evaluator, batch, need_forces, need_stress, create_graph=False)
        e_pred.append(p.energy.detach())
        e_ref.append(batch.energy)
        n_atoms.append(batch.n_atoms)
        if need_forces:
            f_pred.append(p.forces.detach())
            f_ref.append(batch.forces)
        if need_stress:
            s_pred.append(p.stress.detach())
            s_ref.append(batch.stress)
    ep, er, na = torch.cat(e_pred), torch.cat(e_ref), torch.cat(n_atoms).to(torch.float64)
    per_atom_error = (ep.double() - er.double()) / na
    lc = config.loss
    loss = float(((per_atom_error / lc.sigma_energy) ** 2).mean())
    predictions = {"energy_per_atom": (ep.double() / na).numpy(), "energy_per_atom_ref": (er.double() / na).numpy()}
    f_rmse = f_mae = s_rmse = None
    if need_forces:
        fp, fr = torch.cat(f_pred).double(), torch.cat(f_ref).double()
        f_rmse = float(((fp - fr) ** 2).mean().sqrt())
        f_mae = float((fp - fr).abs().mean())
        if lc.force_weight > 0:
            loss += lc.force_weight * float((((fp - fr) / lc.sigma_forces) ** 2).mean())
        predictions.update(forces=fp.numpy().ravel(), forces_ref=fr.numpy().ravel())
    if need_stress:
        sp, sr = torch.cat(s_pred).double(), torch.cat(s_ref).double()
        s_rmse = float(((sp - sr) ** 2).mean().sqrt())
        loss += lc.stress_weight * float((((sp - sr) / lc.sigma_stress) ** 2).mean())
    return Metrics(
        loss=loss,
        energy_rmse=float((per_atom_error**2).mean().sqrt()),
        energy_mae=float(per_atom_error.abs().mean()),
        forces_rmse=f_rmse,
        forces_mae=f_mae,
        stress_rmse=s_rmse,
        predictions=predictions,
    )


def _scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer):
    t = config.training
    if t.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=t.lr_factor, patience=t.lr_patience, min_lr=t.min_learning_rate
        )
    if t.lr_schedule == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=t.lr_gamma)
    if t.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=t.epochs, eta_min=t.min_learning_rate)
    return None


def _config_fingerprint(config: TrainConfig) -> str:
    d = config.to_dict()
    for key in ("epochs", "progress", "threads", "checkpoint_every"):
        d["training"].pop(key)
    d.pop("output")
    return json.dumps(d, sort_keys=True)


class MemberTrainer:
    """Trains one model (one committee member) with checkpoints in its own folder."""

    def __init__(
        self, config: TrainConfig, module: torch.nn.Module, evaluator: Callable, structures: Sequence[Structure],
        train_indices: list[int], validation_indices: list[int], seed: int, directory: str, label: str,
    ) -> None:
        self.config = config
        self.module = module
        self.evaluator = evaluator
        self.structures = structures
        self.train_indices = train_indices
        self.validation_indices = validation_indices
        self.directory = directory
        self.label = label
        t = config.training
        self.parameters = [p for p in module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(self.parameters, lr=t.learning_rate, weight_decay=t.weight_decay)
        self.scheduler = _scheduler(config, self.optimizer)
        self.generator = torch.Generator().manual_seed(seed + 7919)
        self.epoch = 0  # epochs completed
        self.history: list[dict[str, Any]] = []
        self.best_loss = float("inf")
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.finished = False
        self.saved_epoch: int | None = None  # epoch of the checkpoint on disk

    # --- checkpoints -------------------------------------------------------
    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.directory, CHECKPOINT_FILE)

    def save_checkpoint(self) -> None:
        os.makedirs(self.directory, exist_ok=True)
        state = {
            "fingerprint": _config_fingerprint(self.config),
            "module": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "history": self.history,
            "best_loss": self.best_loss,
            "best_state": self.best_state,
            "bad_epochs": self.bad_epochs,
            "finished": self.finished,
            "train_indices": self.train_indices,
            "validation_indices": self.validation_indices,
        }
        tmp = self.checkpoint_path + ".tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)  # never leave a half-written checkpoint
        self.saved_epoch = self.epoch

    def load_checkpoint(self) -> bool:
        if not os.path.exists(self.checkpoint_path):
            return False
        state = torch.load(self.checkpoint_path, weights_only=False)
        if state["fingerprint"] != _config_fingerprint(self.config):
            raise ValueError(
                f"{self.checkpoint_path} was written with a different config (model, data, loss or training "
                "settings changed); remove the output folder or restore the config to resume"
            )
        if state["train_indices"] != self.train_indices or state["validation_indices"] != self.validation_indices:
            raise ValueError(f"{self.checkpoint_path}: the data set changed since the checkpoint was written")
        self.module.load_state_dict(state["module"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        self.epoch = state["epoch"]
        self.history = state["history"]
        self.best_loss = state["best_loss"]
        self.best_state = state["best_state"]
        self.bad_epochs = state["bad_epochs"]
        self.finished = state["finished"]
        self.saved_epoch = self.epoch
        return True

    # --- the loop ----------------------------------------------------------
    def train_epoch(self) -> float:
        config = self.config
        need_forces = config.loss.force_weight > 0
        need_stress = config.loss.stress_weight > 0
        order = torch.randperm(len(self.train_indices), generator=self.generator).tolist()
        batch_size = config.training.batch_size
        total, n_batches = 0.0, 0
        self.module.train()
        for start in range(0, len(order), batch_size):
            chunk = [self.train_indices[k] for k in order[start : start + batch_size]]
            batch = collate([self.structures[i] for i in chunk], chunk)
            prediction = predict(self.evaluator, batch, need_forces, need_stress, create_graph=True)
            loss = loss_terms(config.loss, prediction, batch)["total"]
            # torch.autograd.grad, not loss.backward(): the descriptor operators give
            # second derivatives in the parameters' direction only.
            grads = torch.autograd.grad(loss, self.parameters, allow_unused=True)
            for p, g in zip(self.parameters, grads):
                p.grad = torch.zeros_like(p) if g is None else g
            self.optimizer.step()
            total += float(loss.detach())
            n_batches += 1
        return total / max(n_batches, 1)

    def run(self, resume: bool = False, stop_after_epochs: int | None = None) -> list[dict[str, Any]]:
        """Train until ``training.epochs``, early stopping, or ``stop_after_epochs`` more epochs
        (an interruption, for tests); restores the best validation state at the end."""
        t = self.config.training
        if resume:
            self.load_checkpoint()
        if self.finished:
            self._restore_best()
            return self.history
        progress = _progress(t.progress, total=t.epochs, initial=self.epoch, label=self.label)
        try:
            self._loop(progress, stop_after_epochs)
        except KeyboardInterrupt:
            progress.close()
            if self.saved_epoch is None:
                raise TrainingInterrupted(f"interrupted in epoch {self.epoch + 1} of {self.label}, before the first "
                                          "checkpoint: nothing to resume; rerun the same command") from None
            raise TrainingInterrupted(
                f"interrupted after epoch {self.epoch} of {self.label}; the checkpoint {self.checkpoint_path} holds "
                f"epoch {self.saved_epoch}: rerun with --resume to continue from there"
            ) from None
        progress.close()
        if stop_after_epochs is None or self.finished:
            self._restore_best()
        return self.history

    def _loop(self, progress: Any, stop_after_epochs: int | None) -> None:
        t = self.config.training
        ran = 0
        while self.epoch < t.epochs and not self.finished:
            if stop_after_epochs is not None and ran >= stop_after_epochs:
                return
            started = time.perf_counter()
            train_loss = self.train_epoch()
            val = evaluate(self.config, self.evaluator, self.structures, self.validation_indices)
            lr = self.optimizer.param_groups[0]["lr"]
            if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
                self.scheduler.step(val.loss)
            elif self.scheduler is not None:
                self.scheduler.step()
            self.epoch += 1
            ran += 1
            if val.loss < self.best_loss:
                self.best_loss = val.loss
                self.best_state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
                self.bad_epochs = 0
            else:
                self.bad_epochs += 1
            record = {"epoch": self.epoch, "lr": lr, "train_loss": train_loss, "seconds": time.perf_counter() - started}
            record.update({f"val_{k}": v for k, v in val.summary().items()})
            self.history.append(record)
            patience = t.early_stopping_patience
            if self.epoch >= t.epochs or (patience > 0 and self.bad_epochs >= patience):
                self.finished = True
            if self.finished or self.epoch % t.checkpoint_every == 0:
                self.save_checkpoint()
            progress.update(1)
            postfix = {"loss": f"{train_loss:.3g}", "val_E": f"{1000 * val.energy_rmse:.2f}meV/at"}
            if val.forces_rmse is not None:
                postfix["val_F"] = f"{1000 * val.forces_rmse:.1f}meV/A"
            progress.set_postfix(postfix, refresh=False)

    def _restore_best(self) -> None:
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)


def _progress(enabled: bool, total: int, initial: int, label: str, unit: str = "epoch"):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=label, unit=unit, disable=not enabled,
                file=sys.stderr, dynamic_ncols=True, leave=True)


class _Counted:
    """An iterable that advances a progress bar as it is consumed."""

    def __init__(self, items: Sequence[Any], progress: Any) -> None:
        self.items, self.progress = items, progress

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        for item in self.items:
            yield item
            self.progress.update(1)
        self.progress.close()


def training_min_distance(structures: Sequence[Structure]) -> float | None:
    """The closest pair of atoms (Angstrom) over ``structures`` (within the cutoff), or None without pairs."""
    closest = [float(s.edge_vectors.detach().double().norm(dim=1).min()) for s in structures
               if s.edge_vectors.shape[0] > 0]
    return min(closest) if closest else None


def _dtype(name: str) -> torch.dtype:
    return torch.float32 if name == "float32" else torch.float64


def train(
    config: TrainConfig, resume: bool = False, stop_after_epochs: int | None = None, committee: int | None = None,
    force: bool = False,
) -> TrainResult:
    """Train the model(s) a config describes, export one model file and write a report.

    ``committee`` overrides ``training.committee``. With ``resume``, members continue from
    the checkpoints in the output folder (finished members are not retrained); there
    must be at least one. An existing model file in the output folder is not
    overwritten unless ``force`` (checked before training starts).
    ``stop_after_epochs`` stops every member after that many more epochs without
    exporting (to test resuming); the return value is then None.
    Ctrl-C raises :class:`TrainingInterrupted` (a KeyboardInterrupt) that says how to resume.
    """
    if committee is not None:
        if committee < 1:
            raise ValueError("--committee must be at least 1")
        config.training.committee = committee
    if os.path.exists(config.model_path) and not force and stop_after_epochs is None:
        raise FileExistsError(f"{config.model_path} exists: pass --force (force=True) to overwrite it, or choose "
                              "another output folder (--output) or output.model")
    if resume:
        checkpoints = [os.path.join(config.output_directory, f"member-{m}", CHECKPOINT_FILE)
                       for m in range(config.training.committee)]
        if not any(os.path.exists(c) for c in checkpoints):
            raise FileNotFoundError(f"--resume: no checkpoint to resume from in {config.output_directory} "
                                    f"(expected {os.path.join('member-0', CHECKPOINT_FILE)} there); run without "
                                    "--resume to start training")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.training.threads)
    try:
        return _train(config, resume, stop_after_epochs)
    finally:
        torch.set_num_threads(previous_threads)


def _train(config: TrainConfig, resume: bool, stop_after_epochs: int | None) -> TrainResult:
    t = config.training
    dtype = _dtype(t.dtype)
    data = load_data(config, dtype)
    kind: ModelType = model_type(config.model.type)

    torch.manual_seed(t.seed)
    reference = kind.build(config.model, data.species, dtype)
    pool_structures = [data.structures[i] for i in data.pool]
    fitted = kind.fit_inputs(reference, pool_structures)
    offsets = fit_energy_offsets(pool_structures, len(data.species))
    kind.set_energy_offsets(reference, torch.from_numpy(offsets))
    descriptor_progress = _progress(t.progress, total=len(data.structures), initial=0, label="descriptors",
                                    unit="structure")
    cache = kind.cache(reference, _Counted(data.structures, descriptor_progress))
    descriptor_progress.close()  # also when the model type caches nothing

    members, histories, validations = [], [], []
    out = config.output_directory
    os.makedirs(out, exist_ok=True)
    for m in range(t.committee):
        seed = t.seed + 1000 * m
        if data.validation:
            train_idx, val_idx = list(data.pool), list(data.validation)
        else:
            train_idx, val_idx = split(data.pool, config.data.validation_fraction, seed)
        torch.manual_seed(seed)
        module = kind.build(config.model, data.species, dtype)
        kind.copy_inputs(reference, module)
        label = f"member {m + 1}/{t.committee}" if t.committee > 1 else "training"
        trainer = MemberTrainer(config, module, kind.evaluator(module, cache), data.structures, train_idx, val_idx,
                                seed, os.path.join(out, f"member-{m}"), label)
        histories.append(trainer.run(resume=resume, stop_after_epochs=stop_after_epochs))
        members.append(module)
        validations.append(evaluate(config, trainer.evaluator, data.structures, val_idx))
    if stop_after_epochs is not None:
        return None  # type: ignore[return-value]  # interrupted on purpose: resume to finish

    final = kind.combine(members)
    final.eval()
    evaluation, evaluation_set = None, ""
    eval_indices = data.test or data.validation
    if eval_indices:
        evaluation_set = "test" if data.test else "validation"
        evaluation = evaluate(config, kind.evaluator(final, cache), data.structures, eval_indices)
    metadata = {
        **fitted,
        "training": {
            "n_structures": len(data.pool),
            "committee_size": t.committee,
            "loss": config.to_dict()["loss"],
            "member_validation": [v.summary() for v in validations],
            **({f"{evaluation_set}_metrics": evaluation.summary()} if evaluation else {}),
        },
    }
    from ..export import export

    os.makedirs(os.path.dirname(os.path.abspath(config.model_path)), exist_ok=True)
    min_distance = training_min_distance([data.structures[i] for i in data.pool])
    model_path = export(final, config.model_path, origin={"kind": "nnpkit-train", "config": config.to_dict()},
                        extra_metadata=metadata, min_distance=min_distance,
                        min_distance_source=MIN_DISTANCE_SOURCE if min_distance is not None else None)
    result = TrainResult(model_path, final, members, histories, validations, evaluation, evaluation_set, data,
                         metadata)
    write_report(result, config)
    return result

