"""The request path end to end on a tiny Wan pipeline: every mode, the cache, charging and refusals."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from vidgen.jobs import Done, Failed, Preview, Progress, run_job
from vidgen.media import probe
from vidgen.requests import ImageToVideoRequest, TextToVideoRequest, VideoToVideoRequest


def finish(services, request, user, **kwargs):
    events = list(run_job(services, request, user, **kwargs))
    return events, events[-1]


def decoded(path) -> bytes:
    import av

    with av.open(str(path)) as container:
        return b"".join(frame.to_ndarray(format="rgb24").tobytes() for frame in container.decode(video=0))


def output_files(services):
    return sorted(p for p in services.settings.output_dir.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("request_factory", "frames"),
    [
        (lambda paths: TextToVideoRequest(prompt="a red circle moves left", duration_s=2, seed=1), 17),
        (lambda paths: ImageToVideoRequest(image_path=str(paths["image"]), prompt="", seed=2), 9),
        (lambda paths: VideoToVideoRequest(video_path=str(paths["video"]), prompt="a blue square", seed=3), 9),
    ],
    ids=["text_to_video", "image_to_video", "video_to_video"],
)
def test_each_mode_writes_a_playable_mp4(services, free_user, sample_image, sample_video, request_factory, frames):
    request = request_factory({"image": sample_image, "video": sample_video})
    events, last = finish(services, request, free_user)
    assert isinstance(last, Done), last
    info = probe(last.result.video_path)
    assert (info.frames, info.fps, info.width, info.height) == (frames, 8.0, 128, 128)
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    recipe = json.loads(info.comment)
    assert recipe == json.loads(last.result.recipe_path.read_text())
    assert recipe["request"]["seed"] == last.result.seed == request.seed
    assert recipe["model"]["pipeline"].startswith("Wan")
    assert last.result.gif_path.exists()
    steps = [e for e in events if isinstance(e, Progress) and e.message.startswith("Step")]
    assert [e.step for e in steps] == list(range(1, len(steps) + 1)) and steps
    assert any(isinstance(e, Preview) and e.image.ndim == 3 for e in events)
    assert last.result.seconds_charged == pytest.approx(frames / 8)


def test_cache_loads_each_model_once_across_requests_and_modes(services, free_user, sample_image):
    for request in (
        TextToVideoRequest(prompt="a cat", seed=1),
        TextToVideoRequest(prompt="a dog", seed=2),
        ImageToVideoRequest(image_path=str(sample_image), seed=3),
    ):
        assert isinstance(finish(services, request, free_user)[1], Done)
    assert services.pipelines.load_counts["tiny-wan"] == 1
    t2v, model = services.pipelines.get(services.catalog.get("tiny-wan"), "text_to_video")
    i2v, _ = services.pipelines.get(services.catalog.get("tiny-wan"), "image_to_video")
    assert t2v.transformer is i2v.transformer  # from_pipe shares components between modes


def test_random_seed_is_reported_and_reproducible(services, free_user):
    _, first = finish(services, TextToVideoRequest(prompt="a red ball", seed=-1), free_user)
    assert isinstance(first, Done) and 0 <= first.result.seed < 2**32
    _, again = finish(services, TextToVideoRequest(prompt="a red ball", seed=first.result.seed), free_user)
    assert first.result.video_path != again.result.video_path  # unique output paths, same pixels
    assert decoded(first.result.video_path) == decoded(again.result.video_path)


@pytest.mark.parametrize(
    ("make_request", "message"),
    [
        (lambda p: TextToVideoRequest(prompt="   "), "enter a prompt"),
        (lambda p: TextToVideoRequest(prompt="x", duration_s=30), "1 to 2 s"),
        (lambda p: TextToVideoRequest(prompt="x", resolution="4K"), "no resolution"),
        (lambda p: TextToVideoRequest(prompt="x", steps=500), "Steps must be"),
        (lambda p: TextToVideoRequest(prompt="x", model_id="nope"), "Unknown model"),
        (lambda p: ImageToVideoRequest(image_path=""), "upload an image"),
        (lambda p: ImageToVideoRequest(image_path=str(p["text"])), "not a supported image"),
        (lambda p: ImageToVideoRequest(image_path=str(p["broken_png"])), "Could not read"),
        (lambda p: ImageToVideoRequest(image_path=str(p["big_png"])), "the limit is"),
        (lambda p: VideoToVideoRequest(video_path=str(p["long_video"]), prompt="x"), "Trim it first"),
        (lambda p: VideoToVideoRequest(video_path=str(p["broken_mp4"]), prompt="x"), "Could not read"),
    ],
)
def test_bad_input_is_refused_clearly_and_writes_nothing(tmp_path, catalog_path, safety_filter, free_user,
                                                          make_request, message):
    import numpy as np

    from tests.conftest import make_services
    from vidgen.media import write_mp4

    services = make_services(tmp_path, catalog_path, safety_filter, max_upload_mb=0.05, max_input_video_s=2)
    paths = {"text": tmp_path / "notes.txt", "broken_png": tmp_path / "broken.png", "big_png": tmp_path / "big.png",
             "broken_mp4": tmp_path / "broken.mp4", "long_video": tmp_path / "long.mp4"}
    paths["text"].write_text("hello")
    paths["broken_png"].write_bytes(b"not a png")
    paths["big_png"].write_bytes(b"\x89PNG" + b"0" * 80_000)
    paths["broken_mp4"].write_bytes(b"\x00" * 100)
    write_mp4(np.zeros((40, 16, 16, 3), np.uint8), 8, paths["long_video"])
    events, last = finish(services, make_request(paths), free_user)
    assert isinstance(last, Failed) and last.kind == "invalid"
    assert message in last.message
    assert output_files(services) == []
    assert services.ledger.balance(free_user).used_s == 0


def test_unsafe_prompt_is_blocked_before_any_charge(services, free_user):
    events, last = finish(services, TextToVideoRequest(prompt="a naked woman, explicit porn"), free_user)
    assert isinstance(last, Failed) and last.kind == "blocked"
    assert last.message.startswith("Blocked:")
    assert services.pipelines.load_counts["tiny-wan"] == 0  # no model work at all
    assert services.ledger.balance(free_user).used_s == 0
    assert output_files(services) == []
    audit = services.settings.data_dir / "safety_audit.jsonl"
    [record] = [json.loads(line) for line in audit.read_text().splitlines()]
    assert "a naked woman, explicit porn" not in audit.read_text()  # raw prompt not stored by default
    assert record["allowed"] is False and record["category"] and len(record["prompt_sha256"]) == 64


def test_a_blocked_negative_prompt_is_named_as_such(services, free_user):
    request = TextToVideoRequest(prompt="a calm lake", negative_prompt="explicit porn, a naked woman")
    events, last = finish(services, request, free_user)
    assert isinstance(last, Failed) and last.kind == "blocked"
    assert last.message.startswith("Blocked: sexual content: the negative prompt contains")
    assert "Remove those words from the negative prompt" in last.message
    audit = services.settings.data_dir / "safety_audit.jsonl"
    [record] = [json.loads(line) for line in audit.read_text().splitlines()]
    assert record["checked"] == "negative prompt" and services.ledger.balance(free_user).used_s == 0
    # the text that decided is in the record as a hash, like the prompt; neither raw text is stored by default
    assert record["negative_prompt_sha256"] == hashlib.sha256(b"explicit porn, a naked woman").hexdigest()
    assert record["prompt_sha256"] == hashlib.sha256(b"a calm lake").hexdigest()
    assert "explicit porn" not in audit.read_text() and "a calm lake" not in audit.read_text()


def test_quota_refuses_when_the_budget_is_spent(services, free_user):
    services.ledger.reserve(free_user, "earlier-job", 103.5)
    services.ledger.settle("earlier-job", 103.5)
    events, last = finish(services, TextToVideoRequest(prompt="a red circle", duration_s=1), free_user)
    assert isinstance(last, Failed) and last.kind == "quota"
    assert "Try again in" in last.message
    assert services.pipelines.load_counts["tiny-wan"] == 0


def test_a_failing_pipeline_refunds_in_full(services, free_user, monkeypatch):
    def broken_call(*args, **kwargs):
        raise RuntimeError("out of memory")

    entry = services.catalog.get("tiny-wan")
    pipe, _ = services.pipelines.get(entry, "text_to_video")
    monkeypatch.setattr(type(pipe), "__call__", broken_call)
    events, last = finish(services, TextToVideoRequest(prompt="a red circle"), free_user)
    assert isinstance(last, Failed) and last.kind == "error" and "Nothing was charged" in last.message
    balance = services.ledger.balance(free_user)
    assert balance.used_s == 0 and balance.reserved_s == 0
    assert services.history.list(free_user.user_id)[0].status == "failed"


def test_cancel_mid_render_refunds_and_keeps_no_file(services, free_user):
    cancel = threading.Event()
    events = []
    for event in run_job(services, TextToVideoRequest(prompt="a red circle", steps=10), free_user, cancel=cancel):
        events.append(event)
        if isinstance(event, Progress) and event.step == 2:
            cancel.set()
    assert isinstance(events[-1], Failed) and events[-1].kind == "cancelled"
    assert max(e.step for e in events if isinstance(e, Progress)) < 10
    assert services.ledger.balance(free_user).used_s == 0
    assert output_files(services) == []


def test_history_records_every_outcome_for_its_user_only(services, free_user):
    from vidgen.quota import User

    finish(services, TextToVideoRequest(prompt="a red circle", seed=5), free_user)
    finish(services, TextToVideoRequest(prompt=""), free_user)  # invalid: not a job, not recorded
    finish(services, TextToVideoRequest(prompt="explicit porn video"), free_user)
    statuses = [entry.status for entry in services.history.list(free_user.user_id)]
    assert statuses == ["blocked", "done"]
    other = User(user_id="roster:bob", plan="free", display_name="bob", source="roster")
    assert services.history.list(other.user_id) == []


def test_model_loads_and_calls_all_run_on_the_render_thread(services, free_user, sample_image):
    """torch's OpenMP pools belong to the calling thread; a second thread running torch makes every CPU op of
    the process slower (vidgen.torch_thread), so loads and calls from every request share one thread."""
    cache = services.pipelines
    seen: list[str] = []
    original_get = cache.get

    def recording_get(entry, mode):
        seen.append(threading.current_thread().name)
        return original_get(entry, mode)

    cache.get = recording_get
    for request in (TextToVideoRequest(prompt="a cat", seed=1), ImageToVideoRequest(image_path=str(sample_image))):
        worker = threading.Thread(target=finish, args=(services, request, free_user))  # like a web-server thread
        worker.start()
        worker.join()
    assert len(seen) == 2 and len(set(seen)) == 1 and seen[0].startswith("vidgen-render")


def test_the_prompt_classifier_loads_on_a_one_core_thread_and_scores_safely_from_many():
    """Loading runs torch (on its own one-core thread: vidgen.torch_thread); scoring runs onnxruntime on the
    caller's thread, one prompt at a time, since the fast tokenizer must not be shared between threads."""
    import torch

    from vidgen.safety.classifier import PromptClassifier

    seen: list[str] = []

    class Recording(PromptClassifier):
        def _load(self, *args):
            seen.append(f"{threading.current_thread().name} {torch.get_num_threads()}")
            super()._load(*args)

    classifier = Recording()
    assert len(seen) == 1 and seen[0].startswith("vidgen-safety-load") and seen[0].endswith(" 1")
    texts = ["a calm lake at sunrise", "a dog surfing a wave, slow motion", "a knight in a misty forest"] * 4
    expected = [classifier.score(text).scores for text in texts]
    results: dict[int, dict] = {}
    workers = [threading.Thread(target=lambda i=i: results.__setitem__(i, classifier.score(texts[i]).scores))
               for i in range(len(texts))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [results[i] for i in range(len(texts))] == expected
