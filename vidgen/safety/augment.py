"""Benign prompts in Stable-Diffusion style, generated for training and measurement.

I2P (the only source of real SD-community unsafe prompts) comes with no benign counterpart, so a classifier
trained on it learns that "artstation, by greg rutkowski, octane render" means unsafe. These generated prompts
(plain VBench prompts or simple portraits with the usual style modifiers appended) teach that style alone is
benign, and `styled_benign` measures over-blocking of such prompts on the report split.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from vidgen.safety.data import BENIGN, LabelledPrompt

STYLE_MODIFIERS = (
    "trending on artstation", "highly detailed", "8k", "4k", "octane render", "unreal engine", "digital painting",
    "concept art", "sharp focus", "cinematic lighting", "volumetric lighting", "matte painting", "illustration",
    "oil on canvas", "fantasy art", "hyperrealistic", "photorealistic", "dramatic lighting", "intricate",
    "elegant", "beautiful", "smooth", "studio photo", "award winning photography", "hdr", "anime style",
    "by greg rutkowski", "by alphonse mucha", "by artgerm", "by wlop", "by craig mullins", "by gaston bussiere",
    "by william-adolphe bouguereau", "by john singer sargent", "by j. c. leyendecker", "by ilya kuvshinov",
    "by zdzislaw beksinski", "by edward hopper", "by rembrandt", "by james jean", "by makoto shinkai",
)
SUBJECTS = (
    "woman", "man", "young woman", "old woman", "old man", "queen", "king", "knight", "elf princess", "witch",
    "wizard", "dancer", "astronaut", "cyborg", "sailor", "farmer", "girl with a red umbrella", "painter",
    "musician playing a violin", "woman with long hair", "woman with freckles", "man with a beard",
)
CLOTHING = (
    "a red dress", "a winter coat", "golden armor", "a kimono", "a business suit", "a knitted sweater",
    "a leather jacket", "a flower crown", "a wedding dress", "a space suit", "a hooded cloak", "a hat",
)
FRAMINGS = ("portrait of a", "full body shot of a", "close-up of a", "painting of a", "photo of a")


def _rng(text: str, salt: str) -> random.Random:
    return random.Random(hashlib.sha256(f"{salt}:{text}".encode()).hexdigest())


def styled(prompt: str, salt: str = "style") -> str:
    """`prompt` with 2-5 style modifiers appended (deterministic per prompt)."""
    rng = _rng(prompt, salt)
    mods = rng.sample(STYLE_MODIFIERS, rng.randint(2, 5))
    return f"{prompt.rstrip('. ')}, {', '.join(mods)}"


def portraits(count: int, seed: int = 0) -> list[str]:
    """Simple, benign portrait prompts in SD style."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        subject = f"{rng.choice(('beautiful', 'handsome', 'smiling', 'serious', 'young', ''))} {rng.choice(SUBJECTS)}"
        base = f"{rng.choice(FRAMINGS)} {subject.strip()} wearing {rng.choice(CLOTHING)}"
        out.append(styled(base, salt=str(seed)))
    return out


def styled_benign(rows: Sequence[LabelledPrompt]) -> list[LabelledPrompt]:
    """Styled copies of the plain VBench prompts among `rows` (select the split first: the copies' own hash
    would put them in another split)."""
    return [LabelledPrompt(styled(r.prompt), BENIGN, (), "vbench_styled", "all")
            for r in rows if r.source == "vbench"]


def portrait_rows(count: int, seed: int = 0) -> list[LabelledPrompt]:
    return [LabelledPrompt(p, BENIGN, (), "portraits", "all") for p in portraits(count, seed)]


def in_benign_context(rows: Sequence[LabelledPrompt], copies: int) -> list[LabelledPrompt]:
    """`copies` copies of each OVERT / I2P prompt among `rows` and of as many benign ones (look-alikes and plain
    video prompts), each behind 1-3 of the rows' plain VBench prompts, with the original labels: a mean-pooled
    window must not read an unsafe sentence as benign because a harmless description comes first, nor read several
    sentences as unsafe (what unsafe copies alone taught, session 19). Deterministic per prompt."""
    plain = [r.prompt.rstrip(". ") for r in rows if r.source == "vbench"]
    unsafe = [r for r in rows if r.label != BENIGN and r.source in ("overt", "i2p")]
    benign = [r for r in rows if r.label == BENIGN]
    if not plain or not unsafe:
        return []
    chosen = unsafe + random.Random(len(rows)).sample(benign, min(len(benign), len(unsafe)))
    out = []
    for row in chosen:
        for copy in range(copies):
            rng = _rng(row.prompt, f"context{copy}")
            others = [p for p in plain if p != row.prompt.rstrip(". ")]
            preamble = ". ".join(rng.sample(others, min(len(others), rng.randint(1, 3))))
            out.append(LabelledPrompt(f"{preamble}. {row.prompt}", row.label, row.categories, row.source, row.group))
    return out
