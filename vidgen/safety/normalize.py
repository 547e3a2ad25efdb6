"""Text normalisation that undoes common filter-evasion tricks before rules and the classifier see a prompt.

Handles: Unicode compatibility forms (NFKC: fullwidth, math alphanumerics, circled letters), invisible format
characters (zero-width joiners, soft hyphens), cross-script homoglyphs (Cyrillic/Greek look-alikes), combining
accents, leetspeak inside words ("s3x", "p0rn"), spaced or dotted letters ("n.u.d.e", "n u d e") and
stretched letters ("nuuuude").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Cyrillic, Greek and other letters that render like Latin ones. Kept explicit (not a full UTS #39 table):
# these are the ones seen in evasion attempts and they cover every Latin lowercase letter that has a twin.
_CONFUSABLES = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ӏ": "l", "ɡ": "g", "ո": "n", "ս": "u", "п": "n", "ц": "u", "ь": "b", "г": "r", "з": "3",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "μ": "u", "ѵ": "v", "ɑ": "a", "ı": "i", "ȷ": "j", "ℓ": "l", "ß": "ss",
    "ø": "o", "đ": "d", "ħ": "h", "ł": "l", "ŧ": "t", "ƅ": "b", "ɩ": "i", "ʏ": "y", "ᴀ": "a", "ʙ": "b",
    "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m",
    "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z",
}
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l"}
_LEET_CHARS = re.escape("".join(_LEET))
# A word that has letters with leet symbols after its first letter ("s3x", "p0rn", "n4k3d"); tokens that
# start with digits ("4k", "3d", "1girl") are ordinary and left alone.
_LEET_WORD = re.compile(rf"(?<![\w{_LEET_CHARS}])([a-z][a-z{_LEET_CHARS}]*[{_LEET_CHARS}][a-z{_LEET_CHARS}]*)")
# Three or more single letters split by one kind of separator: "n.u.d.e", "n u d e", "s-e-x", "p_o_r_n".
_SPACED_LETTERS = re.compile(r"(?<![a-z0-9])([a-z]([ .\-_*·/\\+~'|])[a-z](?:\2[a-z])+)(?![a-z0-9])")
_STRETCHED = re.compile(r"([a-z])\1{2,}")
_INWORD_PUNCT = re.compile(r"(?<=[a-z])[.*_\-'`~^·]+(?=[a-z])")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class NormalizedText:
    """Views of one prompt: `text` feeds the classifier, `compact` also drops punctuation inside words."""

    original: str
    text: str
    compact: str
    tricks: tuple[str, ...]


def _strip_format_chars(text: str) -> str:
    # Category Cf holds zero-width space/joiners, soft hyphen, bidi controls, word joiner, BOM.
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _map_confusables(text: str) -> str:
    return "".join(_CONFUSABLES.get(ch, ch) for ch in text)


def _decode_leet(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        word = match.group(1)
        letters = sum(ch.isalpha() for ch in word)
        if letters < 2 or letters < len(word) - letters:
            return word
        return "".join(_LEET.get(ch, ch) for ch in word)

    return _LEET_WORD.sub(repl, text)


def _join_spaced_letters(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        letters = re.sub(r"[^a-z]", "", match.group(1))
        # "a n u d e": the leading article is a word of its own
        if match.group(2) == " " and letters[0] in "ai" and len(letters) >= 4:
            return f"{letters[0]} {letters[1:]}"
        return letters

    return _SPACED_LETTERS.sub(repl, text)


def normalize(raw: str) -> NormalizedText:
    """Return the canonical views of `raw` and which evasion tricks were undone."""
    tricks: list[str] = []
    text = unicodedata.normalize("NFKC", raw)
    if text != raw:
        tricks.append("unicode-compat")
    stripped = _strip_format_chars(text)
    if stripped != text:
        tricks.append("invisible-chars")
    text = stripped.lower()
    mapped = _strip_accents(_map_confusables(text))
    if mapped != text:
        tricks.append("homoglyphs")
    text = mapped
    for name, step in (("leetspeak", _decode_leet), ("spaced-letters", _join_spaced_letters)):
        changed = step(text)
        if changed != text:
            tricks.append(name)
        text = changed
    text = _STRETCHED.sub(r"\1", text)
    text = _SPACES.sub(" ", text).strip()
    compact = _INWORD_PUNCT.sub("", text)
    return NormalizedText(original=raw, text=text, compact=compact, tricks=tuple(tricks))


# Image-quality tags that negative prompts (and some positive ones) list: "worst quality, bad anatomy, blurry".
# They say nothing about what is shown, yet the classifier learned some of them as sexual cues (the Stable
# Diffusion prompts that carry them are often NSFW), so "bad anatomy, worst quality" was blocked as sexual. A
# comma-separated segment that is nothing but such a tag is hidden from the classifier; words inside a longer
# segment ("a blurry photo of ...") stay. Only content-free words belong here (not "ugly", "mutilated", "gore").
QUALITY_TAGS = frozenset({
    "worst quality", "low quality", "lowest quality", "normal quality", "bad quality", "poor quality",
    "best quality", "high quality", "highest quality", "top quality", "ultra quality", "masterpiece",
    "lowres", "low res", "low resolution", "highres", "high res", "high resolution", "hd", "uhd", "hdr", "4k", "8k",
    "jpeg artifacts", "jpeg", "compression artifacts", "artifacts", "artefacts", "blurry", "blurred", "blur",
    "out of focus", "grainy", "noisy", "noise", "pixelated", "watermark", "watermarks", "signature", "username",
    "text", "logo", "error", "cropped", "out of frame", "duplicate", "bad anatomy", "bad hands", "bad fingers",
    "bad proportions", "extra fingers", "missing fingers", "fewer digits", "extra digits", "extra digit",
    "extra limbs", "poorly drawn hands", "poorly drawn face", "deformed",
    "distorted", "jittery", "flickering", "static", "inconsistent motion", "overexposed", "underexposed",
    "oversaturated", "low contrast",
})
_TAG_SEPARATORS = re.compile(r"[,;\n]")
# "(worst quality:1.4)", "[blurry]" -> the tag itself
_TAG_WEIGHT = re.compile(r"^[\s()\[\]{}]*(.*?)(?::\s*[\d.]+)?[\s()\[\]{}]*$")


def without_quality_tags(text: str) -> str:
    """`text` minus its segments that are only an image-quality tag (QUALITY_TAGS); unchanged if it has none."""
    segments = _TAG_SEPARATORS.split(text)
    kept = [s for s in segments if _tag_name(s) not in QUALITY_TAGS]
    if len(kept) == len(segments):
        return text
    return ", ".join(s.strip() for s in kept if s.strip())


def _tag_name(segment: str) -> str:
    name = _TAG_WEIGHT.match(segment).group(1)
    return _SPACES.sub(" ", name.replace("-", " ").replace("_", " ")).strip()
