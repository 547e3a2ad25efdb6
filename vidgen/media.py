"""Video and image reading/writing: H.264 MP4 that browsers play, GIF, metadata, capped user uploads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif", ".m4v"}


class MediaError(ValueError):
    """A user-supplied file cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class VideoInfo:
    frames: int
    fps: float
    width: int
    height: int
    codec: str
    pix_fmt: str
    comment: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Float frames in [0, 1] (diffusers' np output) or uint8 -> uint8 [F, H, W, 3]."""
    if frames.dtype == np.uint8:
        return frames
    return (np.clip(frames, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """Enlarge small native-size clips for display (bilinear keeps the toy model's shapes smooth)."""
    if scale <= 1:
        return frames
    height, width = frames.shape[1:3]
    size = (width * scale, height * scale)
    return np.stack([np.asarray(Image.fromarray(f).resize(size, Image.BILINEAR)) for f in frames])


def _even(frames: np.ndarray) -> np.ndarray:
    """yuv420p needs even width and height: pad by one edge pixel when odd."""
    height, width = frames.shape[1:3]
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


def write_mp4(frames: np.ndarray, fps: int, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Encode uint8 [F, H, W, 3] frames as H.264 yuv420p (plays in Chromium) with JSON in the comment tag."""
    path = Path(path)
    frames = _even(to_uint8(frames))
    with av.open(str(path), mode="w") as container:
        if metadata is not None:
            container.metadata["comment"] = json.dumps(metadata, sort_keys=True)
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "18", "movflags": "+faststart"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_gif(frames: np.ndarray, fps: int, path: str | Path) -> Path:
    """An animated GIF; fast-octree palettes are ~60x quicker than PIL's default median cut."""
    path = Path(path)
    images = [Image.fromarray(f).quantize(colors=255, method=Image.Quantize.FASTOCTREE) for f in to_uint8(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return path


def probe(path: str | Path) -> VideoInfo:
    """Frame count (decoded, not estimated), fps, size, codec and the metadata comment of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return VideoInfo(
            frames=frames,
            fps=float(stream.average_rate or stream.guessed_rate or 0),
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt or "",
            comment=container.metadata.get("comment", ""),
        )


def read_image(path: str | Path, max_mb: float, size: tuple[int, int] | None = None) -> Image.Image:
    """Open a user image as RGB; clear errors for wrong type, unreadable or too large files."""
    path = _checked_upload(path, IMAGE_SUFFIXES, "image", max_mb)
    try:
        with Image.open(path) as image:
            image.load()
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise MediaError(f"Could not read '{path.name}' as an image. Try a PNG or JPEG.") from error
    return fit_image(rgb, size) if size else rgb


def fit_image(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Centre-crop to the target aspect ratio, then resize to (width, height)."""
    width, height = size
    scale = max(width / image.width, height / image.height)
    resized = image.resize((max(width, round(image.width * scale)), max(height, round(image.height * scale))))
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    return resized.crop((left, top, left + width, top + height))


def read_video(
    path: str | Path, max_mb: float, max_seconds: float, fps: int, size: tuple[int, int], max_frames: int
) -> list[Image.Image]:
    """Decode a user clip, resample it to `fps`, fit each frame to `size`; at most `max_frames` frames."""
    path = _checked_upload(path, VIDEO_SUFFIXES, "video", max_mb)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"'{path.name}' has no video track.")
            stream = container.streams.video[0]
            source_fps = float(stream.average_rate or stream.guessed_rate or fps)
            decoded = [frame.to_image() for frame in container.decode(stream)]
    except av.error.FFmpegError as error:
        raise MediaError(f"Could not read '{path.name}' as a video. Try an MP4 (H.264).") from error
    if not decoded:
        raise MediaError(f"'{path.name}' has no frames.")
    duration = len(decoded) / source_fps
    if duration > max_seconds + 1e-6:
        raise MediaError(f"'{path.name}' is {duration:.1f} s long; the limit is {max_seconds:g} s. Trim it first.")
    wanted = max(1, min(max_frames, round(duration * fps)))
    picks = np.minimum((np.arange(wanted) * source_fps / fps).astype(int), len(decoded) - 1)
    return [fit_image(decoded[i].convert("RGB"), size) for i in picks]


def _checked_upload(path: str | Path, suffixes: set[str], kind: str, max_mb: float) -> Path:
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"The {kind} file is missing; please upload it again.")
    if path.suffix.lower() not in suffixes:
        allowed = ", ".join(sorted(s.lstrip(".") for s in suffixes))
        raise MediaError(f"'{path.name}' is not a supported {kind} file. Use one of: {allowed}.")
    size_mb = path.stat().st_size / 2**20
    if size_mb > max_mb:
        raise MediaError(f"'{path.name}' is {size_mb:.1f} MB; the limit is {max_mb:g} MB.")
    return path
