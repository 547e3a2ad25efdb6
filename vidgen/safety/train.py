"""Train the classifier adapters + head on the tune split of a labelled prompt folder, then calibrate.

    python -m vidgen.safety train --data ../shared/data/safety [--epochs 4] [--out vidgen/safety/weights]

MiniLM layers below the adapted ones (`--layers`, default 4,5; the shipped model adapts all six) stay frozen
(int8, by the inference path), so their outputs are computed once per prompt; only the adapters and the head are
trained, on the CPU or on `--device cuda`. The tune split is divided again by hash into a fit part (75%) and a
calibration part (25%) on which thresholds are chosen; with
`--cross-fit K`, thresholds are chosen on out-of-fold scores of the whole tune split instead, and the shipped
model is fitted on all of it (or, with `--average-folds`, is the weight average of the K fold models).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from vidgen.safety.adapters import (
    ADAPTED_LAYERS,
    POOL_SCALE,
    AdapterConfig,
    adapter_tensors,
    attach_adapters,
    mean_pool,
)
from vidgen.safety.augment import (
    CALIBRATION_NAMES,
    FIT_NAMES,
    in_benign_context,
    named_people_rows,
    plain_act_rows,
    portrait_rows,
    styled_benign,
)
from vidgen.safety.categories import CLASSIFIER_CATEGORIES
from vidgen.safety.data import BENIGN, LabelledPrompt
from vidgen.safety.embedder import MAX_TOKENS, OnnxEncoder, load_minilm
from vidgen.safety.normalize import normalize, without_quality_tags

if TYPE_CHECKING:
    from vidgen.safety.classifier import PromptClassifier

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass
class TrainConfig:
    epochs: int = 4
    batch_size: int = 16
    lr: float = 1e-3
    benign_hard_weight: float = 2.0
    seed: int = 0  # initial adapter and head weights, and the generated portraits
    shuffle_seed: int | None = None  # batch order; None = seed. Runs that differ only here can be averaged
    rank: int = 8
    alpha: float = 16.0
    i2p_categories: tuple[str, ...] = ("sexual",)  # I2P labels are noisy; only its sexual label is used
    layers: tuple[int, ...] = ADAPTED_LAYERS  # MiniLM layers that get adapters; those below stay frozen
    portraits: int = 600  # generated benign portrait prompts added to the fit set
    context_copies: int = 0  # copies of each unsafe prompt behind plain video prompts (augment.in_benign_context)
    named_people: int = 0  # generated benign prompts naming well-known people (augment.named_people)
    plain_acts: int = 0  # generated plain, short prompts, half unsafe, half look-alikes (augment.plain_acts)
    # Distillation: a cross-fit folder (fold0 ... fold{K-1}, or OUT/folds/...) of a stronger model, such as an
    # ensemble; the model fitted without fold k also learns the scores of the teacher's fold-k model (see
    # `teacher_fold`), so one MiniLM pass can approach an ensemble's several.
    teacher: str | None = None
    teacher_weight: float = 0.5  # targets = (1 - w) x labels + w x teacher scores

    def adapter_config(self) -> AdapterConfig:
        return AdapterConfig(self.rank, self.alpha, tuple(self.layers))


def fold_of(prompt: str, folds: int = 4) -> int:
    """Second hash byte modulo `folds`: the tune split's folds for calibration and cross-fitting."""
    return hashlib.sha256(prompt.strip().encode("utf-8")).digest()[1] % folds


def is_calibration(prompt: str) -> bool:
    """A quarter of the tune split (fold 0 of 4) is held out for threshold calibration."""
    return fold_of(prompt, 4) == 0


def targets(row: LabelledPrompt, config: TrainConfig) -> np.ndarray:
    y = np.zeros(len(CLASSIFIER_CATEGORIES), np.float32)
    if row.label == BENIGN or row.source not in ("overt", "i2p", "plain_acts"):
        return y
    cats = row.policy_categories()
    if row.source == "i2p":
        cats = tuple(c for c in cats if c in config.i2p_categories)
    for cat in cats:
        if cat in CLASSIFIER_CATEGORIES:
            y[CLASSIFIER_CATEGORIES.index(cat)] = 1.0
    return y


def teacher_fold(config: TrainConfig, fold: int, folds: int) -> Path | None:
    """The teacher's model fitted without `fold` of `folds`, as the student is: its scores on the student's fit
    rows are in-sample for both, and the student's out-of-fold scores stay honest. The teacher must be a cross-fit
    with the same number of folds (the same hash split), or held-out prompts would leak into the targets."""
    if not config.teacher:
        return None
    root = Path(config.teacher)
    root = root / "folds" if (root / "folds").is_dir() else root
    if (found := _fold_count(root)) != folds:
        raise ValueError(f"teacher {config.teacher} has {found} fold models (fold0 ...); the student needs a "
                         f"cross-fit of {folds}")
    return root / f"fold{fold}"


def distilled_targets(labels: np.ndarray, texts: Sequence[str], teacher_dir: Path, weight: float) -> np.ndarray:
    """Labels blended with a teacher's scores (columns in CLASSIFIER_CATEGORIES order)."""
    from vidgen.safety.classifier import PromptClassifier

    soft = score_texts(PromptClassifier(teacher_dir), texts)
    return ((1.0 - weight) * labels + weight * soft).astype(np.float32)


def is_trainable(row: LabelledPrompt, config: TrainConfig) -> bool:
    if row.source == "xstest" or row.split != "tune":
        return False
    # I2P rows whose only labels are unused would otherwise teach "benign" with noisy labels.
    return not (row.source == "i2p" and not targets(row, config).any())


def frozen_states(texts: Sequence[str], quantized: bool, first_adapted: int, threads: int = 1) -> list[np.ndarray]:
    """Outputs of the frozen MiniLM layers below `first_adapted` for each text (unpadded, float16), computed
    by the inference path (`OnnxEncoder`, int8 when `quantized`), so the adapters learn on the numbers they
    will see."""
    torch.set_num_threads(threads)
    tok, model = load_minilm()
    encoder = OnnxEncoder(model, quantize=quantized, layers=first_adapted)
    return [encoder.hidden(tok(text, truncation=True, max_length=MAX_TOKENS)["input_ids"]).astype(np.float16)
            for text in texts]


class TopLayers(nn.Module):
    """The adapted MiniLM layers (a copy), plus the linear head."""

    def __init__(self, layers: nn.ModuleList, config: AdapterConfig):
        super().__init__()
        self.adapted = config.layers
        self.layers = nn.ModuleList(copy.deepcopy(layers[i]) for i in range(len(layers)))
        hidden_size = self.layers[0].output.dense.out_features  # read before the adapters wrap it
        for param in self.layers.parameters():
            param.requires_grad = False
        self.adapters = attach_adapters(self.layers, config)
        self.adapter_modules = nn.ModuleList(self.adapters.values())
        self.head = nn.Linear(hidden_size, len(CLASSIFIER_CATEGORIES))

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        # Every layer above the frozen states runs, adapted or not, so a set like (3, 5) keeps layer 4.
        for index in range(min(self.adapted), len(self.layers)):
            hidden = self.layers[index](hidden, attention_mask=additive)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return self.head(mean_pool(hidden, mask) * POOL_SCALE)


def _pad(states: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(len(s) for s in states)
    hidden = torch.zeros(len(states), longest, states[0].shape[1])
    mask = torch.zeros(len(states), longest, dtype=torch.long)
    for i, s in enumerate(states):
        hidden[i, : len(s)] = torch.from_numpy(s.astype(np.float32))
        mask[i, : len(s)] = 1
    return hidden, mask


def fit(states: list[np.ndarray], y: np.ndarray, weights: np.ndarray, config: TrainConfig,
        log=print, device: str = "cpu") -> TopLayers:
    """Train the adapters and head (on `device`, e.g. "cuda"); the returned model is on the CPU."""
    torch.manual_seed(config.seed)  # adapter and head initial weights are drawn on the CPU: same on any device
    _, base = load_minilm()
    top = TopLayers(base.encoder.layer, config.adapter_config()).to(device)
    params = [p for p in top.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    steps = config.epochs * math.ceil(len(states) / config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps, pct_start=0.1)
    rng = np.random.default_rng(config.seed if config.shuffle_seed is None else config.shuffle_seed)
    top.train()
    started, step = time.time(), 0
    for epoch in range(config.epochs):
        order = rng.permutation(len(states))
        for start in range(0, len(order), config.batch_size):
            idx = order[start: start + config.batch_size]
            hidden, mask = _pad([states[i] for i in idx])
            logits = top(hidden.to(device), mask.to(device))
            loss = nn.functional.binary_cross_entropy_with_logits(
                logits, torch.from_numpy(y[idx]).to(device), reduction="none").mean(1)
            loss = (loss * torch.from_numpy(weights[idx]).to(device)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                log(f"epoch {epoch} step {step}/{steps} loss {loss.item():.4f} {time.time() - started:.0f}s")
    top.eval()
    return top.cpu()


def predict(top: TopLayers, states: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
    out = np.zeros((len(states), len(CLASSIFIER_CATEGORIES)), np.float32)
    with torch.inference_mode():
        for start in range(0, len(states), batch_size):
            hidden, mask = _pad(states[start: start + batch_size])
            out[start: start + batch_size] = torch.sigmoid(top(hidden, mask)).numpy()
    return out


def export(top: TopLayers, config: TrainConfig, out_dir: Path, extra: dict) -> None:
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.half().contiguous() for k, v in adapter_tensors(top.adapters, top.head).items()}
    save_file(tensors, str(out_dir / "classifier.safetensors"))
    meta = {"categories": list(CLASSIFIER_CATEGORIES), "rank": config.rank, "alpha": config.alpha,
            "layers": list(config.layers),
            "train_config": asdict(config), **extra}
    (out_dir / "classifier.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def average_runs(run_dirs: Sequence[Path], out_dir: Path, extra: dict | None = None) -> None:
    """Write the weight average of trained runs (same --layers and rank; other batch orders, seeds or folds) to
    out_dir. Runs from other seeds start from other random adapters, and their average can score a prompt
    unlike any of them (session 21: 0.06 where the two seeds gave 0.81 and 0.12), so check it before use."""
    from safetensors.torch import load_file, save_file

    from vidgen.safety.adapters import average_adapters

    metas = [json.loads((d / "classifier.json").read_text(encoding="utf-8")) for d in run_dirs]
    if len({(tuple(m["layers"]), m["rank"], m["alpha"]) for m in metas}) != 1:
        raise ValueError("runs to average must share layers, rank and alpha")
    soup = average_adapters([load_file(str(d / "classifier.safetensors")) for d in run_dirs])
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.half().contiguous() for k, v in soup.items()}, str(out_dir / "classifier.safetensors"))
    rank = metas[0]["rank"] * len(metas)
    # alpha / rank is the adapter scale; keep it while the rank grows with the number of runs.
    meta = {**metas[0], "rank": rank, "alpha": metas[0]["alpha"] * len(metas),
            "averaged_runs": [m.get("train_config", {}) for m in metas], **(extra or {})}
    (out_dir / "classifier.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def average_cross_fits(cross_fit_dirs: Sequence[Path], out_dir: Path, shipped_fold: int = 0,
                       extra: dict | None = None) -> None:
    """Average cross-fits of one recipe trained with other seeds, fold by fold, into out_dir/folds, and ship
    the average of fold `shipped_fold` in out_dir; `calibrate --weights out_dir` then picks its thresholds.

    Each input holds fold0 ... fold{K-1}, as `bench/safety_sweep.py` writes them. Averaging the same fold of
    every seed keeps each tune prompt unseen by every model that scores it out of fold, so the thresholds
    stay honest; one averaged model scores as fast as one seed's (see `average_runs` for the caveat)."""
    folds = _shared_fold_count(cross_fit_dirs, shipped_fold, min_runs=1)
    for fold in range(folds):
        average_runs([Path(run) / f"fold{fold}" for run in cross_fit_dirs], out_dir / "folds" / f"fold{fold}")
    average_runs([Path(run) / f"fold{shipped_fold}" for run in cross_fit_dirs], out_dir,
                 extra={"cross_fit": folds, "shipped_fold": shipped_fold, **(extra or {})})


def ensemble_cross_fits(cross_fit_dirs: Sequence[Path], out_dir: Path, shipped_fold: int = 0,
                        extra: dict | None = None) -> None:
    """Like `average_cross_fits`, but fold k of out_dir is an ensemble of every seed's fold k (their logits are
    averaged when scoring, see `classifier`), and out_dir ships the ensemble of fold `shipped_fold`. It costs one
    MiniLM pass per seed, but behaves like its members: averaged weights need not."""
    import shutil

    folds = _shared_fold_count(cross_fit_dirs, shipped_fold, min_runs=2)
    members = [f"member{i}" for i in range(len(cross_fit_dirs))]

    def write(target: Path, fold: int, meta_extra: dict) -> None:
        for name, run in zip(members, cross_fit_dirs, strict=True):
            shutil.copytree(Path(run) / f"fold{fold}", target / name, dirs_exist_ok=True)
        first = json.loads((target / members[0] / "classifier.json").read_text(encoding="utf-8"))
        meta = {"categories": first["categories"], "members": members,
                "member_runs": [str(run) for run in cross_fit_dirs], **meta_extra}
        (target / "classifier.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    for fold in range(folds):
        write(out_dir / "folds" / f"fold{fold}", fold, {})
    write(out_dir, shipped_fold, {"cross_fit": folds, "shipped_fold": shipped_fold, **(extra or {})})


def _shared_fold_count(cross_fit_dirs: Sequence[Path], shipped_fold: int, min_runs: int) -> int:
    """K, the number of fold models (fold0 ... fold{K-1}) every folder holds; a clear error if they differ."""
    counts = {_fold_count(Path(run)) for run in cross_fit_dirs}
    if len(cross_fit_dirs) < min_runs or len(counts) != 1 or min(counts) < 2:
        raise ValueError(f"need {min_runs} or more folders, each with the same number (2 or more) of fold models, "
                         "fold0 ... fold{K-1}")
    folds = counts.pop()
    if not 0 <= shipped_fold < folds:
        raise ValueError(f"there is no fold{shipped_fold} to ship (folds 0 to {folds - 1})")
    return folds


def _fold_count(cross_fit_dir: Path) -> int:
    """How many fold models fold0, fold1, ... in a row the folder holds."""
    count = 0
    while (cross_fit_dir / f"fold{count}" / "classifier.json").is_file():
        count += 1
    return count


def normalised_texts(rows: Sequence[LabelledPrompt]) -> list[str]:
    return [normalize(r.prompt).text for r in rows]


def train_and_export(fit_rows: list[LabelledPrompt], config: TrainConfig, out_dir: Path, threads: int,
                     log=print, extra: dict | None = None, device: str = "cpu", teacher_dir: Path | None = None
                     ) -> None:
    """Fit adapters + head on `fit_rows` plus the generated benign prompts, and export them to out_dir; with
    `teacher_dir` (see `teacher_fold`) the targets blend the labels with that model's scores."""
    # Benign SD-style prompts, so that style modifiers alone do not read as unsafe (see augment.py).
    fit_rows = (fit_rows + styled_benign(fit_rows) + portrait_rows(config.portraits, seed=config.seed)
                + in_benign_context(fit_rows, config.context_copies)
                + named_people_rows(FIT_NAMES, config.named_people, seed=config.seed)
                + plain_act_rows(config.plain_acts, seed=config.seed))
    # What the classifier reads: `PromptClassifier.score` drops quality tags the same way when scoring.
    texts = [without_quality_tags(t) for t in normalised_texts(fit_rows)]
    states = frozen_states(texts, quantized=True, first_adapted=min(config.layers), threads=threads)
    y = np.stack([targets(r, config) for r in fit_rows])
    if teacher_dir is not None:
        log(f"distilling from {teacher_dir} (weight {config.teacher_weight})")
        y = distilled_targets(y, texts, teacher_dir, config.teacher_weight)
    weights = np.array([config.benign_hard_weight if r.group == "benign_hard" else 1.0 for r in fit_rows],
                       np.float32)
    top = fit(states, y, weights, config, log=log, device=device)
    export(top, config, out_dir, {"fit_rows": len(fit_rows), **(extra or {})})


def calibration_extras() -> list[LabelledPrompt]:
    """Benign prompts scored with every calibration set, each a plain file of its own: generated portraits,
    well-known people whose names no training run sees, and the shipped presets' texts (which must pass under
    every policy). The generated prompts' seed is a word so that no training seed (an integer) makes the same
    prompts (before session 20 it was 1, and a model trained with seed 1 had seen the first 200 portraits)."""
    from vidgen.presets import PRESETS_DIR, read_preset

    presets = [read_preset(path) for path in sorted(PRESETS_DIR.glob("*.yaml"))]
    preset_rows = [LabelledPrompt(text, BENIGN, (), "presets", "all")
                   for preset in presets for text in (preset.prompt, preset.negative_prompt) if text]
    return (portrait_rows(200, seed="calibration") + named_people_rows(CALIBRATION_NAMES, 200, seed="calibration")
            + preset_rows)


def held_out_rows(rows: Sequence[LabelledPrompt], fold: int, folds: int) -> list[LabelledPrompt]:
    """Tune-split prompts of one fold, with their styled copies: what thresholds are chosen on."""
    held = [r for r in rows if r.split == "tune" and r.source != "xstest" and fold_of(r.prompt, folds) == fold]
    return held + styled_benign(held)


def run_training(data: Path, out_dir: Path = WEIGHTS_DIR, config: TrainConfig | None = None,
                 threads: int = 1, log=print, cross_fit: int = 0, average_folds: bool = False,
                 device: str = "cpu") -> dict:
    """Full pipeline: frozen features, adapter training, export, calibration.

    cross_fit=0: fit on three quarters of the tune split, calibrate on the held-out quarter.
    cross_fit=K: calibrate on out-of-fold scores of the whole tune split (K models, each fitted without one
    fold), then fit the shipped model on the whole tune split, or with `average_folds` ship the weight average
    of the K fold models (kept in out_dir/folds).
    """
    from vidgen.safety.data import load

    config = config or TrainConfig()
    torch.set_num_threads(threads)
    rows = load(data)
    if cross_fit:
        return run_cross_fit(rows, out_dir, config, cross_fit, threads, log, average_folds, device)
    if average_folds:
        raise ValueError("--average-folds needs --cross-fit")
    fit_rows = [r for r in rows if is_trainable(r, config) and not is_calibration(r.prompt)]
    log(f"{len(rows)} prompts: fit on {len(fit_rows)} (+ generated benign), report split untouched")
    train_and_export(fit_rows, config, out_dir, threads, log, device=device,
                     teacher_dir=teacher_fold(config, 0, 4))  # fold 0 of 4 is the calibration quarter
    return run_calibration(rows, out_dir, log=log)


def run_cross_fit(rows: Sequence[LabelledPrompt], out_dir: Path, config: TrainConfig, folds: int,
                  threads: int = 1, log=print, average_folds: bool = False, device: str = "cpu") -> dict:
    """Thresholds from out-of-fold scores (4x the prompts of a held-out quarter); the shipped model is fitted
    on all of tune, or is the weight average of the fold models (`average_folds`).

    Why average: a model fitted on all of tune is more confident than the fold models whose scores chose the
    thresholds, so it flags more at the same thresholds, harmless look-alikes included. The average of the
    fold models has seen all of tune too, and stays close to the models the thresholds were chosen for."""
    import tempfile

    if folds < 2:
        raise ValueError("cross-fitting needs at least 2 folds")
    teachers = [teacher_fold(config, fold, folds) for fold in range(folds)]  # refused now, not after K fits
    final_teacher = None if average_folds or not config.teacher else Path(config.teacher)
    if final_teacher and not (final_teacher / "classifier.json").is_file():
        raise FileNotFoundError(f"teacher {final_teacher} has no model of its own (classifier.json) to teach the "
                                "final fit on the whole tune split; use --average-folds or an `ensemble --out` folder")
    with tempfile.TemporaryDirectory() as tmp:
        fold_root = out_dir / "folds" if average_folds else Path(tmp)
        fold_dirs = [fold_root / f"fold{fold}" for fold in range(folds)]
        for fold, fold_dir in enumerate(fold_dirs):
            fit_rows = [r for r in rows if is_trainable(r, config) and fold_of(r.prompt, folds) != fold]
            log(f"fold {fold + 1}/{folds}: fit on {len(fit_rows)}")
            train_and_export(fit_rows, config, fold_dir, threads, log, device=device, teacher_dir=teachers[fold])
        cal_rows, cal_scores = out_of_fold_scores(rows, fold_dirs)
        if average_folds:
            log(f"shipped model: the weight average of the {folds} fold models")
            average_runs(fold_dirs, out_dir, extra={"cross_fit": folds, "averaged_folds": True})
    if not average_folds:
        fit_rows = [r for r in rows if is_trainable(r, config)]
        log(f"final model: fit on the whole tune split ({len(fit_rows)})")
        train_and_export(fit_rows, config, out_dir, threads, log, extra={"cross_fit": folds}, device=device,
                         teacher_dir=final_teacher)
    return pick_thresholds(cal_rows, cal_scores, out_dir, log, source=f"out-of-fold scores of {folds} fold models")


def out_of_fold_rows(rows: Sequence[LabelledPrompt], folds: int) -> list[list[LabelledPrompt]]:
    """Per fold, the tune prompts it holds out (with their styled copies) and its share of
    `calibration_extras` (generated prompts and presets, none of which any fold trained on): what fold model k
    is scored on."""
    extras = calibration_extras()
    return [held_out_rows(rows, fold, folds) + extras[fold::folds] for fold in range(folds)]


def out_of_fold_scores(rows: Sequence[LabelledPrompt], fold_dirs: Sequence[Path]
                       ) -> tuple[list[LabelledPrompt], np.ndarray]:
    """Every tune prompt (with the styled copies and generated portraits) scored by the fold model that did not
    see it, by the production path: the rows and scores thresholds are chosen on."""
    from vidgen.safety.classifier import PromptClassifier

    held = out_of_fold_rows(rows, len(fold_dirs))
    scores = [score_rows(PromptClassifier(d), fold_rows) for d, fold_rows in zip(fold_dirs, held, strict=True)]
    return [r for fold_rows in held for r in fold_rows], np.concatenate(scores)


def score_rows(classifier: PromptClassifier, rows: Sequence[LabelledPrompt]) -> np.ndarray:
    """Scores by the shipped (production) path: merged adapters, int8 MiniLM, one prompt at a time."""
    return score_texts(classifier, normalised_texts(rows))


def score_texts(classifier: PromptClassifier, texts: Sequence[str]) -> np.ndarray:
    """(len(texts), categories) scores of already normalised texts, columns in CLASSIFIER_CATEGORIES order."""
    return np.array([[classifier.score(t).scores[c] for c in CLASSIFIER_CATEGORIES]
                     for t in texts], dtype=np.float32).reshape(-1, len(CLASSIFIER_CATEGORIES))


def order_operating_points(points: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Keep classroom at least as strict and research at least as lax as default, category by category."""
    default = points["default"]
    points["classroom"] = {c: min(t, default.get(c, t)) for c, t in points["classroom"].items()}
    points["research"] = {c: max(t, default.get(c, t)) for c, t in points["research"].items()}
    return points


def run_calibration(rows: Sequence[LabelledPrompt], weights_dir: Path = WEIGHTS_DIR, log=print,
                    folds_dir: Path | None = None) -> dict:
    """Score the held-out quarter of the tune split with the shipped (production) path and pick thresholds.

    Cross-fitted weights saw all of tune: they are recalibrated on the out-of-fold scores of their fold models
    (`folds_dir`, by default the `folds` folder that `--average-folds` keeps next to them), after a change to how
    prompts are scored, for example."""
    from vidgen.safety.classifier import PromptClassifier

    meta = json.loads((weights_dir / "classifier.json").read_text(encoding="utf-8"))
    if meta.get("cross_fit"):
        fold_dirs = [(folds_dir or weights_dir / "folds") / f"fold{k}" for k in range(meta["cross_fit"])]
        if not all((d / "classifier.json").is_file() for d in fold_dirs):
            raise ValueError(f"{weights_dir} was fitted on the whole tune split (cross-fit), so no quarter of it is "
                             "held out: recalibrating needs its fold models (--folds; train --cross-fit K "
                             "--average-folds keeps them in OUT/folds), or retrain with --cross-fit")
        cal_rows, scores = out_of_fold_scores(rows, fold_dirs)
        return pick_thresholds(cal_rows, scores, weights_dir, log,
                               source=f"out-of-fold scores of {len(fold_dirs)} fold models")
    cal_rows = held_out_rows(rows, fold=0, folds=4) + calibration_extras()
    shipped = PromptClassifier(weights_dir)
    return pick_thresholds(cal_rows, score_rows(shipped, cal_rows), weights_dir, log,
                           source="the held-out quarter of the tune split", shipped=shipped)


def pick_thresholds(cal_rows: Sequence[LabelledPrompt], scores: np.ndarray, weights_dir: Path, log=print,
                    source: str = "", shipped: PromptClassifier | None = None) -> dict:
    """Calibrate every operating point on (cal_rows, scores) and write calibration.json next to the weights
    (`shipped`: the model in weights_dir, if already loaded)."""
    from vidgen.safety.calibrate import OPERATING_POINTS, above_scores, calibrate
    from vidgen.safety.classifier import PromptClassifier
    from vidgen.safety.filter import SafetyFilter
    from vidgen.safety.policy import Policy

    # The shipped presets must pass the shipped model too: out of fold, each was scored by one fold model only.
    presets = [r for r in calibration_extras() if r.source == "presets"]
    preset_scores = score_rows(shipped or PromptClassifier(weights_dir), presets).max(axis=0)
    must_pass = dict(zip(CLASSIFIER_CATEGORIES, map(float, preset_scores), strict=True))
    points, raised = {}, {}
    for point in OPERATING_POINTS:
        rules = SafetyFilter(Policy.load(point.name), classifier=None, image_classifier=None)
        ruled = np.array([rules.check_rules(r.prompt) is not None for r in cal_rows])
        points[point.name], raised[point.name] = above_scores(
            calibrate(scores, cal_rows, point, rule_blocked=ruled), must_pass)
    points = order_operating_points(points)
    calibration = {"operating_points": points, "calibration_rows": len(cal_rows), "calibrated_on": source,
                   "raised_for_presets": {name: r for name, r in raised.items() if r},
                   "budgets": {p.name: {"benign_hard": p.benign_hard_budget, "plain": p.plain_budget}
                               for p in OPERATING_POINTS}}
    (weights_dir / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n", encoding="utf-8")
    log(json.dumps(points, indent=2))
    return calibration
