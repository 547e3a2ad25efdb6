"""The safety classifier's training script: a few real adapter steps on MiniLM, exported and loaded back."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import write_labelled_csv
from vidgen.safety.categories import CLASSIFIER_CATEGORIES
from vidgen.safety.classifier import PromptClassifier
from vidgen.safety.train import TrainConfig, export, fit, frozen_states, predict

UNSAFE = "explicit nude photo of a naked woman, porn"
BENIGN = "a red kite flying over a green hill on a sunny day"


def _unsafe_and_benign(first_adapted: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Frozen states of four explicit and four harmless prompts, labelled sexual / nothing."""
    texts = [UNSAFE, BENIGN] * 4
    y = np.zeros((len(texts), len(CLASSIFIER_CATEGORIES)), np.float32)
    y[0::2, CLASSIFIER_CATEGORIES.index("sexual")] = 1.0
    return frozen_states(texts, quantized=False, first_adapted=first_adapted), y


@pytest.mark.parametrize("layers", [(4, 5), (3, 5), (0, 1, 2, 3, 4, 5)])  # shipped, a gap, every layer
def test_a_few_adapter_steps_learn_and_the_export_loads_with_the_same_scores(tmp_path, layers):
    config = TrainConfig(epochs=6, batch_size=4, lr=3e-3, portraits=0, layers=layers)
    states, y = _unsafe_and_benign(min(config.layers))
    sexual = CLASSIFIER_CATEGORIES.index("sexual")
    top = fit(states, y, np.ones(len(states), np.float32), config, log=lambda _: None)
    scores = predict(top, states[:2])
    assert scores[0, sexual] > 0.5 > scores[1, sexual]

    export(top, config, tmp_path, {"fit_rows": len(states)})
    loaded = PromptClassifier(tmp_path, quantize=False)
    assert loaded.categories == tuple(CLASSIFIER_CATEGORIES)
    for text, expected in zip((UNSAFE, BENIGN), scores, strict=True):
        got = loaded.score(text).scores
        # The export stores float16 adapters; the classifier merges them into MiniLM.
        assert np.allclose([got[c] for c in CLASSIFIER_CATEGORIES], expected, atol=0.02)


def test_averaged_runs_merge_to_the_mean_of_their_weights_and_load(tmp_path):
    import copy

    import torch
    from safetensors.torch import load_file

    from vidgen.safety.adapters import AdapterConfig, merge_adapters
    from vidgen.safety.embedder import load_minilm
    from vidgen.safety.train import average_runs

    states, y = _unsafe_and_benign(first_adapted=4)
    runs = []
    for shuffle in (1, 2):
        config = TrainConfig(epochs=2, batch_size=4, lr=3e-3, portraits=0, layers=(4, 5), shuffle_seed=shuffle)
        top = fit(states, y, np.ones(len(states), np.float32), config, log=lambda _: None)
        export(top, config, tmp_path / f"run{shuffle}", {"fit_rows": len(states)})
        runs.append(tmp_path / f"run{shuffle}")
    average_runs(runs, tmp_path / "soup")

    _, base = load_minilm()
    merged = []
    configs = [AdapterConfig(8, 16.0, (4, 5))] * 2 + [AdapterConfig(16, 32.0, (4, 5))]  # the soup: rank x 2
    for folder, cfg in zip([*runs, tmp_path / "soup"], configs, strict=True):
        layers = copy.deepcopy(base.encoder.layer)
        merge_adapters(layers, load_file(str(folder / "classifier.safetensors")), cfg)
        merged.append(layers[5].intermediate.dense.weight)
    assert not torch.allclose(merged[0], merged[1])  # the two runs really differ
    assert torch.allclose(merged[2], (merged[0] + merged[1]) / 2, atol=1e-3)

    soup = PromptClassifier(tmp_path / "soup", quantize=False)
    assert soup.score(UNSAFE).scores["sexual"] > soup.score(BENIGN).scores["sexual"]


def _tiny_labelled_csv(tmp_path):
    return write_labelled_csv(tmp_path / "labelled.csv", UNSAFE, BENIGN)


def test_cross_fit_calibrates_on_every_tune_prompt_out_of_fold(tmp_path, capsys):
    import json

    from vidgen.safety.__main__ import main
    from vidgen.safety.data import load
    from vidgen.safety.train import calibration_extras, held_out_rows, run_training

    data = _tiny_labelled_csv(tmp_path)
    rows = load(data)
    tune = [r for r in rows if r.split == "tune"]
    folds = [held_out_rows(rows, fold, 2) for fold in range(2)]
    assert all(any(r.label == "unsafe" for r in held) for held in folds)  # both folds get positives
    held_prompts = [r.prompt for held in folds for r in held if r.source != "vbench_styled"]
    assert sorted(held_prompts) == sorted(r.prompt for r in tune)  # every tune prompt, each exactly once

    out = tmp_path / "weights"
    config = TrainConfig(epochs=2, batch_size=4, lr=3e-3, portraits=0)
    calibration = run_training(data, out, config, cross_fit=2, log=lambda _: None)

    styled = sum(r.source == "vbench" for r in tune)
    assert calibration["calibration_rows"] == len(tune) + styled + len(calibration_extras())
    assert "out-of-fold" in calibration["calibrated_on"]
    assert json.loads((out / "calibration.json").read_text())["operating_points"]["default"]
    assert json.loads((out / "classifier.json").read_text())["cross_fit"] == 2
    # Its calibration quarter was trained on, so recalibrating it alone would be in-sample: refused, with why.
    assert main(["calibrate", "--data", str(data), "--weights", str(out)]) == 2
    assert "cross-fit" in capsys.readouterr().err


def test_plain_training_calibrates_on_the_held_out_quarter_and_checks_the_presets(tmp_path):
    import json

    from vidgen.safety.train import run_training

    data, out = _tiny_labelled_csv(tmp_path), tmp_path / "weights"
    calibration = run_training(data, out, TrainConfig(epochs=2, batch_size=4, lr=3e-3, portraits=0),
                               log=lambda _: None)
    assert calibration["calibrated_on"] == "the held-out quarter of the tune split"
    assert "raised_for_presets" in calibration
    assert json.loads((out / "calibration.json").read_text()) == calibration


def test_cross_fit_can_ship_the_average_of_its_fold_models(tmp_path):
    import json

    from safetensors.torch import load_file

    from vidgen.safety.train import run_training

    data, out = _tiny_labelled_csv(tmp_path), tmp_path / "weights"
    config = TrainConfig(epochs=2, batch_size=4, lr=3e-3, portraits=0)
    with pytest.raises(ValueError, match="--cross-fit"):
        run_training(data, out, config, average_folds=True, log=lambda _: None)
    calibration = run_training(data, out, config, cross_fit=2, average_folds=True, log=lambda _: None)
    assert "out-of-fold" in calibration["calibrated_on"]
    meta = json.loads((out / "classifier.json").read_text())
    assert meta["cross_fit"] == 2 and meta["averaged_folds"] and meta["rank"] == 2 * config.rank
    folds = [load_file(str(out / "folds" / f"fold{i}" / "classifier.safetensors")) for i in range(2)]
    shipped = load_file(str(out / "classifier.safetensors"))
    assert not np.allclose(folds[0]["head.weight"].float(), folds[1]["head.weight"].float())
    np.testing.assert_allclose(shipped["head.weight"].float(),
                               (folds[0]["head.weight"].float() + folds[1]["head.weight"].float()) / 2, atol=1e-3)
    averaged = PromptClassifier(out)
    assert averaged.score(UNSAFE).scores["sexual"] > averaged.score(BENIGN).scores["sexual"]
    # The fold models are kept, so the weights can be recalibrated on their out-of-fold scores: same thresholds.
    from vidgen.safety.__main__ import main

    trained = (out / "calibration.json").read_text()
    (out / "calibration.json").unlink()
    assert main(["calibrate", "--data", str(data), "--weights", str(out)]) == 0
    assert json.loads((out / "calibration.json").read_text()) == json.loads(trained)


def _two_seeds_of_two_folds(root):
    """root/seed1 and root/seed2, each with fold0 and fold1: tiny models, each from its own random start."""
    states, y = _unsafe_and_benign(first_adapted=4)
    for seed in (1, 2):
        for fold in (0, 1):
            config = TrainConfig(epochs=1, batch_size=4, lr=3e-3, portraits=0, layers=(4, 5), seed=seed + 10 * fold)
            top = fit(states, y, np.ones(len(states), np.float32), config, log=lambda _: None)
            export(top, config, root / f"seed{seed}" / f"fold{fold}", {"fit_rows": len(states)})


def test_cross_fits_of_two_seeds_average_fold_by_fold_and_calibrate_out_of_fold(tmp_path, capsys):
    """`average --cross-fits`: fold k of the result is the mean of every seed's fold k, the shipped model is the
    averaged fold it names, and `calibrate` re-picks thresholds from the averaged folds' out-of-fold scores."""
    import json

    from safetensors.torch import load_file

    from vidgen.safety.__main__ import main

    _two_seeds_of_two_folds(tmp_path)
    soup = tmp_path / "soup"
    assert main(["average", "--cross-fits", str(tmp_path / "seed1"), str(tmp_path / "seed2"),
                 "--out", str(soup), "--ship-fold", "1"]) == 0

    def head(folder):
        return load_file(str(folder / "classifier.safetensors"))["head.weight"].float().numpy()

    for fold in (0, 1):
        expected = (head(tmp_path / "seed1" / f"fold{fold}") + head(tmp_path / "seed2" / f"fold{fold}")) / 2
        np.testing.assert_allclose(head(soup / "folds" / f"fold{fold}"), expected, atol=1e-3)
    assert (soup / "classifier.safetensors").read_bytes() == (soup / "folds/fold1/classifier.safetensors").read_bytes()
    meta = json.loads((soup / "classifier.json").read_text())
    assert (meta["cross_fit"], meta["shipped_fold"], meta["rank"]) == (2, 1, 16)

    data = _tiny_labelled_csv(tmp_path)
    assert main(["calibrate", "--data", str(data), "--weights", str(soup)]) == 0
    calibration = json.loads((soup / "calibration.json").read_text())
    assert calibration["calibrated_on"] == "out-of-fold scores of 2 fold models"

    # A seed missing a fold cannot be averaged fold by fold: refused, with why.
    (tmp_path / "seed2" / "fold1" / "classifier.json").unlink()
    assert main(["average", "--cross-fits", str(tmp_path / "seed1"), str(tmp_path / "seed2"),
                 "--out", str(tmp_path / "bad")]) == 2
    assert "same number" in capsys.readouterr().err


def test_an_ensemble_of_cross_fits_averages_its_members_logits_and_calibrates_out_of_fold(tmp_path, capsys):
    """`ensemble`: every fold of the result scores with the mean of its members' logits (each word's share too,
    so triggers stay exact), the shipped ensemble is the fold it names, and `calibrate` works on the folds."""
    import json

    from vidgen.safety.__main__ import main

    _two_seeds_of_two_folds(tmp_path)
    out = tmp_path / "ensemble"
    assert main(["ensemble", str(tmp_path / "seed1"), str(tmp_path / "seed2"), "--out", str(out),
                 "--ship-fold", "1"]) == 0
    meta = json.loads((out / "classifier.json").read_text())
    assert (meta["members"], meta["cross_fit"], meta["shipped_fold"]) == (["member0", "member1"], 2, 1)

    def logit(p):
        return np.log(p / (1 - p))

    members = [PromptClassifier(tmp_path / f"seed{seed}" / "fold1", quantize=False) for seed in (1, 2)]
    ensemble = PromptClassifier(out, quantize=False)
    for text in (UNSAFE, BENIGN):
        got = ensemble.score(text)
        parts = [m.score(text) for m in members]
        for category in CLASSIFIER_CATEGORIES:
            expected = (logit(parts[0].scores[category]) + logit(parts[1].scores[category])) / 2
            assert abs(logit(got.scores[category]) - expected) < 1e-3
        assert got.words == parts[0].words
        np.testing.assert_allclose(got.word_contrib, (parts[0].word_contrib + parts[1].word_contrib) / 2, atol=1e-5)
    assert ensemble.score(UNSAFE).triggers("sexual")

    data = _tiny_labelled_csv(tmp_path)
    assert main(["calibrate", "--data", str(data), "--weights", str(out)]) == 0
    assert json.loads((out / "calibration.json").read_text())["calibrated_on"] == "out-of-fold scores of 2 fold models"
    assert main(["ensemble", str(tmp_path / "seed1"), "--out", str(tmp_path / "one")]) == 2  # one run: no ensemble
    assert "2 or more folders" in capsys.readouterr().err


def test_the_shipped_weights_carry_the_fold_models_their_thresholds_were_calibrated_on():
    """`calibrate --weights vidgen/safety/weights` re-picks the thresholds from these folds' out-of-fold scores:
    they must be there, and the shipped model must be the fold it names."""
    import json

    from vidgen.safety.train import WEIGHTS_DIR

    meta = json.loads((WEIGHTS_DIR / "classifier.json").read_text())
    calibration = json.loads((WEIGHTS_DIR / "calibration.json").read_text())
    folds = [WEIGHTS_DIR / "folds" / f"fold{k}" for k in range(meta["cross_fit"])]
    # A single model is classifier.safetensors; an ensemble keeps one per member subfolder.
    model_files = [f"{member}/classifier.safetensors" for member in meta.get("members", [])] or \
        ["classifier.safetensors"]
    assert all((d / name).is_file() for d in folds for name in model_files)
    assert calibration["calibrated_on"] == f"out-of-fold scores of {len(folds)} fold models"
    for name in model_files:
        assert (WEIGHTS_DIR / name).read_bytes() == (folds[meta["shipped_fold"]] / name).read_bytes()
    from vidgen.safety.calibrate import OPERATING_POINTS

    # Calibrated under today's budgets (a budget change without recalibrating would leave stale thresholds).
    assert calibration["budgets"] == {p.name: {"benign_hard": p.benign_hard_budget, "plain": p.plain_budget}
                                      for p in OPERATING_POINTS}


def test_unsafe_and_as_many_benign_prompts_are_copied_behind_plain_video_prompts_with_their_labels():
    from vidgen.safety.augment import in_benign_context
    from vidgen.safety.data import LabelledPrompt

    rows = [LabelledPrompt(UNSAFE, "unsafe", ("sexual_content",), "overt", ""),
            LabelledPrompt("a look-alike", "benign", ("sexual_content",), "overt", "benign_hard"),
            *[LabelledPrompt(f"a dog runs through a park, take {i}", "benign", (), "vbench", "f.txt")
              for i in range(5)]]
    copies = in_benign_context(rows, copies=2)
    assert len(copies) == 4 and len({c.prompt for c in copies}) == 4  # one unsafe and one benign row, twice each
    unsafe = [c for c in copies if c.label == "unsafe"]
    assert len(unsafe) == 2  # several sentences must not mean unsafe: as many benign copies
    for copy in unsafe:
        preamble, prompt = copy.prompt.rsplit(". ", 1)
        assert prompt == UNSAFE and preamble.startswith("a dog runs")
        assert (copy.categories, copy.source) == (("sexual_content",), "overt")
    for copy in copies:
        preamble, prompt = copy.prompt.rsplit(". ", 1)
        assert prompt not in preamble.split(". ")  # never behind itself
    assert in_benign_context(rows, copies=2) == copies  # deterministic
    assert in_benign_context(rows, copies=0) == []


def test_named_people_prompts_name_people_from_disjoint_lists():
    """Training, calibration and the evaluate report each get names the other two never see, so the report's
    false-positive rate on named people measures names the model did not learn."""
    from vidgen.safety.augment import CALIBRATION_NAMES, FIT_NAMES, REPORT_NAMES, named_people, named_people_rows
    from vidgen.safety.train import calibration_extras

    lists = [set(FIT_NAMES), set(CALIBRATION_NAMES), set(REPORT_NAMES)]
    assert all(not (a & b) for i, a in enumerate(lists) for b in lists[i + 1:])
    prompts = named_people(REPORT_NAMES, 50, seed="report")
    assert all(any(p.startswith(name + " ") for name in REPORT_NAMES) for p in prompts)
    assert any("," in p for p in prompts) and any("," not in p for p in prompts)  # styled and plain
    assert named_people(REPORT_NAMES, 50, seed="report") == prompts  # deterministic
    rows = named_people_rows(FIT_NAMES, 3)
    assert {(r.label, r.source, r.group) for r in rows} == {("benign", "named_people", "all")}
    calibration_names = {r.prompt for r in calibration_extras() if r.source == "named_people"}
    assert calibration_names and not any(p.startswith(n + " ") for p in calibration_names for n in FIT_NAMES)


@pytest.mark.parametrize("field", ["named_people", "plain_acts"])
def test_generated_prompts_are_added_to_the_fit_set_when_asked(tmp_path, field: str):
    import json

    from vidgen.safety.data import load
    from vidgen.safety.train import train_and_export

    rows = [r for r in load(_tiny_labelled_csv(tmp_path)) if r.split == "tune"]
    sizes = {}
    for count in (0, 6):
        out = tmp_path / f"{field}{count}"
        config = TrainConfig(epochs=1, batch_size=4, portraits=0, layers=(5,), **{field: count})
        train_and_export(rows, config, out, threads=1, log=lambda _: None)
        sizes[count] = json.loads((out / "classifier.json").read_text())["fit_rows"]
    assert sizes[6] == sizes[0] + 6


def test_the_train_command_passes_named_people_to_the_recipe(tmp_path):
    import json

    from vidgen.safety.__main__ import main

    out = tmp_path / "weights"
    assert main(["train", "--data", str(_tiny_labelled_csv(tmp_path)), "--out", str(out), "--epochs", "1",
                 "--layers", "5", "--named-people", "5"]) == 0
    meta = json.loads((out / "classifier.json").read_text())
    assert meta["train_config"]["named_people"] == 5
    assert json.loads((out / "calibration.json").read_text())["operating_points"]["default"]


def _exported_teacher(path):
    """A small model that rates UNSAFE sexual and BENIGN harmless, exported like a fold model."""
    config = TrainConfig(epochs=6, batch_size=4, lr=3e-3, portraits=0, layers=(5,))
    states, y = _unsafe_and_benign(first_adapted=5)
    export(fit(states, y, np.ones(len(states), np.float32), config, log=lambda _: None), config, path, {})
    return path


def test_teacher_fold_reads_both_cross_fit_layouts_and_refuses_another_fold_count(tmp_path):
    from dataclasses import replace

    from vidgen.safety.train import teacher_fold

    config = TrainConfig()
    assert teacher_fold(config, 0, 4) is None  # no teacher: plain labels
    for root, folds_dir in ((tmp_path / "sweep", tmp_path / "sweep"),  # safety_sweep's seed folder
                            (tmp_path / "ens", tmp_path / "ens" / "folds")):  # `ensemble --out`
        for k in range(2):
            (folds_dir / f"fold{k}").mkdir(parents=True)
            (folds_dir / f"fold{k}" / "classifier.json").write_text("{}")
        assert teacher_fold(replace(config, teacher=str(root)), 1, 2) == folds_dir / "fold1"
        with pytest.raises(ValueError, match="has 2 fold models"):  # 2 folds split the tune prompts otherwise
            teacher_fold(replace(config, teacher=str(root)), 1, 4)


def test_distilled_targets_blend_the_labels_with_the_teachers_scores(tmp_path):
    from vidgen.safety.train import distilled_targets

    teacher = _exported_teacher(tmp_path / "teacher")
    scores = PromptClassifier(str(teacher)).score  # a str path loads too
    soft = np.array([[scores(t).scores[c] for c in CLASSIFIER_CATEGORIES] for t in (UNSAFE, BENIGN)])
    labels = np.zeros_like(soft)
    labels[0, CLASSIFIER_CATEGORIES.index("sexual")] = 1.0
    blended = distilled_targets(labels, [UNSAFE, BENIGN], teacher, weight=0.25)
    assert np.allclose(blended, 0.75 * labels + 0.25 * soft, atol=1e-6)
    assert soft[0, CLASSIFIER_CATEGORIES.index("sexual")] > 0.5  # the teacher has something to teach


def test_a_student_learns_what_its_teacher_says_over_its_labels(tmp_path):
    """Labels swapped on purpose: alone the student learns them; taught with weight 1 it learns the teacher."""
    from dataclasses import replace

    from vidgen.safety.data import load
    from vidgen.safety.train import train_and_export

    _exported_teacher(tmp_path / "teacher" / "fold0")
    swapped = write_labelled_csv(tmp_path / "swapped.csv", unsafe=BENIGN, benign=UNSAFE)
    rows = [r for r in load(swapped) if r.split == "tune"]
    config = TrainConfig(epochs=6, batch_size=4, lr=3e-3, portraits=0, layers=(5,))
    sexual = {}
    for name, settings in (("alone", config), ("taught", replace(config, teacher=str(tmp_path / "teacher"),
                                                                  teacher_weight=1.0))):
        out = tmp_path / name
        teacher_dir = tmp_path / "teacher" / "fold0" if settings.teacher else None
        train_and_export(rows, settings, out, threads=1, log=lambda _: None, teacher_dir=teacher_dir)
        sexual[name] = PromptClassifier(out).score(UNSAFE).scores["sexual"]
    assert sexual["alone"] < 0.5 < sexual["taught"]


def test_the_train_command_distils_from_a_teacher(tmp_path, capsys):
    import json
    import shutil

    from vidgen.safety.__main__ import main

    _exported_teacher(tmp_path / "teacher" / "fold0")  # `train` without --cross-fit holds fold 0 of 4 out
    for k in (1, 2, 3):  # the teacher must be a 4-fold cross-fit; the student learns from its fold 0
        shutil.copytree(tmp_path / "teacher" / "fold0", tmp_path / "teacher" / f"fold{k}")
    out = tmp_path / "weights"
    assert main(["train", "--data", str(_tiny_labelled_csv(tmp_path)), "--out", str(out), "--epochs", "1",
                 "--layers", "5", "--teacher", str(tmp_path / "teacher"), "--teacher-weight", "0.3"]) == 0
    config = json.loads((out / "classifier.json").read_text())["train_config"]
    assert (config["teacher"], config["teacher_weight"]) == (str(tmp_path / "teacher"), 0.3)
    missing = ["train", "--data", str(_tiny_labelled_csv(tmp_path)), "--out", str(out), "--epochs", "1",
               "--layers", "5", "--teacher", str(tmp_path / "missing")]
    assert main(missing) != 0
    assert "has 0 fold models" in capsys.readouterr().err


def test_cross_fit_refuses_a_teacher_without_a_model_of_its_own_before_any_fit(tmp_path):
    """A safety_sweep seed folder has fold models only: the final fit on the whole tune split has no teacher."""
    from dataclasses import replace

    from vidgen.safety.data import load
    from vidgen.safety.train import run_cross_fit

    for k in range(2):
        (tmp_path / "sweep" / f"fold{k}").mkdir(parents=True)
        (tmp_path / "sweep" / f"fold{k}" / "classifier.json").write_text("{}")
    config = replace(TrainConfig(epochs=1, portraits=0, layers=(5,)), teacher=str(tmp_path / "sweep"))
    fitted = []
    with pytest.raises(FileNotFoundError, match="no model of its own"):
        run_cross_fit(load(_tiny_labelled_csv(tmp_path)), tmp_path / "out", config, folds=2, log=fitted.append)
    assert not fitted  # refused before the first fold model was fitted


def test_plain_acts_are_half_unsafe_with_targets_and_half_look_alikes():
    from vidgen.safety.augment import plain_act_rows
    from vidgen.safety.categories import CLASSIFIER_CATEGORIES
    from vidgen.safety.rules import MINOR_TERMS, _compile
    from vidgen.safety.train import targets

    rows = plain_act_rows(100, seed=3)
    unsafe = [r for r in rows if r.label == "unsafe"]
    assert len(unsafe) == 50 and {r.categories[0] for r in unsafe} == {"illegal", "violence", "self_harm", "sexual",
                                                                       "hate"}
    for row in unsafe:  # each teaches its own head, and only that one
        y = targets(row, TrainConfig())
        assert y.sum() == 1 and y[CLASSIFIER_CATEGORIES.index(row.categories[0])] == 1, row
    assert all(not targets(r, TrainConfig()).any() for r in rows if r.label == "benign")
    minors = _compile(MINOR_TERMS)
    assert not any(minors.search(r.prompt) for r in unsafe if r.categories == ("sexual",))
    assert "{" not in "".join(r.prompt for r in rows)  # every slot filled
    assert plain_act_rows(100, seed=3) == rows and plain_act_rows(100, seed=4) != rows

