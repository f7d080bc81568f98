"""Named evaluation protocols: one preset per paper and task, instead of scattered flags.

A protocol fixes how a test pair is formed from a stored image (which channel, mod-crop, any
resizing of the ground truth) and how a restored image is scored (rounding to uint8 or not,
border shave). The choices come from the papers' text and, where the text is silent, from the
authors' released evaluation code (``shared/reference/official_code_notes.md``); the book's
differences register cites both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reprolib import metrics
from reprolib.degrade import PROXY_TASKS, SCRATCH_LEVEL
from reprolib.imageops import modcrop, rgb2y, shave, to_channel, to_uint8
from reprolib.imresize import imresize

#: Every task a setting can name: the four of the papers' tables (RED-Net's inpainting, Sec. 5.6,
#: included) and MemoryNet's proxies.
TASKS: tuple[str, ...] = ("denoise", "sr", "jpeg", "inpaint", *PROXY_TASKS)


@dataclass(frozen=True)
class Protocol:
    """How one paper builds test pairs and scores restorations for one task.

    Attributes:
        name: registry key, e.g. ``"memnet_sr"``.
        task: ``"sr"``, ``"denoise"``, ``"jpeg"``, ``"inpaint"`` (RED-Net Sec. 5.6 text and
            scratch removal) or ``"proxy"`` (MemoryNet's synthetic shadow and motion-blur
            stand-ins, :data:`reprolib.degrade.PROXY_TASKS`).
        channel: the channel the reference and the network work in: ``"y"`` (MATLAB
            rgb2ycbcr), ``"gray"`` (MATLAB rgb2gray) or ``"rgb"``.
        score_y: score the Y of MATLAB rgb2ycbcr of (rounded) RGB images (MemoryNet).
        round_output: quantise the restored image to uint8 (MATLAB ``uint8``) before scoring.
        shave_scale: for SR, ignore a border of ``scale`` pixels on every side.
        gt_resize: per-dataset bicubic resize of the ground truth before degrading
            (RED/MemNet evaluate BSD200 at half size).
        source: where each choice comes from.
    """

    name: str
    task: str
    channel: str
    round_output: bool
    shave_scale: bool = False
    score_y: bool = False
    gt_resize: dict[str, float] = field(default_factory=dict)
    source: str = ""

    def ground_truth(self, img: np.ndarray, dataset: str, scale: int = 1) -> np.ndarray:
        """The uint8 reference image this protocol scores against, in its channel."""
        gt = to_channel(img, self.channel)
        if dataset in self.gt_resize:
            gt = imresize(gt, self.gt_resize[dataset])
        return modcrop(gt, scale) if self.task == "sr" else gt

    def score(self, restored: np.ndarray, gt: np.ndarray, scale: int = 1) -> tuple[float, float]:
        """(PSNR, SSIM) of a restored image on the [0, 255] scale against the uint8 reference."""
        out = to_uint8(restored) if self.round_output else restored
        if self.score_y:
            out, gt = rgb2y(out), rgb2y(gt)
        border = scale if (self.shave_scale and self.task == "sr") else 0
        out, ref = shave(out, border), shave(gt, border)
        return metrics.psnr(out, ref), metrics.ssim(out, ref)

    @property
    def scoring(self) -> tuple:
        """Everything that decides a score, the name and citation aside: two protocols with
        the same ``scoring`` (``memnet_sr`` and ``nlrn_sr``) give every image the same PSNR and
        SSIM, so a run trained under one is the run trained under the other (the validation
        log and the fp16 storage check of :func:`reprolib.train.train` score with it;
        :func:`reprolib.recipes.training_fields`)."""
        resize = tuple(sorted(self.gt_resize.items()))
        return (self.task, self.channel, self.round_output, self.shave_scale, self.score_y,
                resize)  # fmt: skip

    def task_of(self, setting: str) -> tuple[str, int]:
        """``(task, level)`` of ``setting`` (:func:`parse_setting`), if this protocol scores it;
        else ``ValueError`` naming both."""
        task, level = parse_setting(setting)
        fits = task in PROXY_TASKS if self.task == "proxy" else task == self.task
        if not fits:
            raise ValueError(f"protocol {self.name!r} is for {self.task}, not setting {setting!r}")
        return task, level


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in [
        Protocol(
            "memnet_sr", "sr", "y", round_output=True, shave_scale=True,
            source="MemNet Sec. 5.1; VDSR/MemNet test code: Y of rgb2ycbcr, modcrop, bicubic "
            "down/up in double, output cast to uint8, `scale` border shaved",
        ),
        Protocol(
            "memnet_jpeg", "jpeg", "y", round_output=True,
            source="MemNet Sec. 5.1 (numbers cited from DnCNN): Y channel JPEG-coded as uint8, "
            "output cast to uint8, no shave",
        ),
        Protocol(
            "memnet_denoise", "denoise", "gray", round_output=False, gt_resize={"BSD200": 0.5},
            source="MemNet Sec. 5.5 and test code: rgb2gray, unclipped noise, PSNR on the float "
            "output, no shave; BSD200 resized to half size following RED",
        ),
        Protocol(
            "dncnn_denoise", "denoise", "gray", round_output=True,
            source="DnCNN test code, followed by NLRN Table 4: gray uint8 images, output cast "
            "to uint8 (im2uint8), no shave",
        ),
        Protocol(
            "nlrn_sr", "sr", "y", round_output=True, shave_scale=True,
            source="NLRN Sec. 4.3: MATLAB-compatible Y and bicubic, `scale` border cropped",
        ),
        Protocol(
            "red", "denoise", "gray", round_output=False, gt_resize={"BSD200": 0.5},
            source="RED-Net test code: float output, no border crop for any task (the resize "
            "factor for BSD200 is not stated; half size follows MemNet's reading)",
        ),
        Protocol(
            "red_sr", "sr", "y", round_output=False, shave_scale=False,
            source="RED-Net test code: Y channel, bicubic on [0,1] floats, float output, "
            "no border crop even for SR",
        ),
        Protocol(
            "red_jpeg", "jpeg", "y", round_output=False,
            source="RED-Net Sec. 5.4 and test code: MATLAB JPEG (imwrite) of the uint8 Y "
            "channel at quality 10/20, float output, no border crop (LIVE1, Table 9)",
        ),
        Protocol(
            "red_inpaint", "inpaint", "y", round_output=False,
            source="RED-Net Sec. 5.6: LIVE1 with text of font size 10/20 or random scratches "
            "(white, reprolib.degrade.inpaint_corruption keyed on each image); channel unstated, "
            "the Y channel of RED's other LIVE1 task (JPEG, test code); float output, no "
            "border crop as every RED task",
        ),
        Protocol(
            "proxy", "proxy", "rgb", round_output=True, score_y=True,
            source="MemoryNet's evaluation (PSNR/SSIM on the Y channel of uint8 RGB results), "
            "on the synthetic shadow / motion-blur proxies keyed on each image's name",
        ),
    ]
}  # fmt: skip


def get(name: str) -> Protocol:
    """Look up a protocol by name; unknown names list the known ones."""
    if name not in PROTOCOLS:
        raise KeyError(f"unknown protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[name]


def parse_setting(setting: str) -> tuple[str, int]:
    """Parse a setting: ``'x3'`` -> ``('sr', 3)``, ``'sigma25'`` -> ``('denoise', 25)``, etc.

    A MemoryNet proxy names its task and has no level: ``'shadow'`` -> ``('shadow', 0)``.
    Inpainting (RED-Net Sec. 5.6) is text of a font size, ``'font10'`` -> ``('inpaint', 10)``,
    or scratches, ``'scratch'`` -> ``('inpaint', SCRATCH_LEVEL)``.
    Raises ``ValueError`` for malformed settings or values out of range (scale not 2/3/4,
    negative sigma, quality outside 1-100, font size outside 4-200).
    """
    s = setting.strip().lower()
    if s in PROXY_TASKS:
        return s, 0
    if s == "scratch":
        return "inpaint", SCRATCH_LEVEL
    try:
        if s.startswith("font"):
            task, value = "inpaint", int(s[4:])
        elif s.startswith("x"):
            task, value = "sr", int(s[1:])
        elif s.startswith("sigma"):
            task, value = "denoise", int(s[5:])
        elif s.startswith("q"):
            task, value = "jpeg", int(s[1:])
        else:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"bad setting {setting!r}: expected x2/x3/x4, sigma<level>, q<quality>, "
            f"font<size>, scratch, {' or '.join(PROXY_TASKS)}"
        ) from None
    if task == "sr" and value not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4, got {value}")
    if task == "denoise" and value < 0:
        raise ValueError(f"sigma must be >= 0, got {value}")
    if task == "jpeg" and not 1 <= value <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {value}")
    if task == "inpaint" and not 4 <= value <= 200:
        raise ValueError(f"font size must be in 4..200, got {value}")
    return task, value


def setting_name(task: str, level: int) -> str:
    """The setting of ``task`` at ``level``, the inverse of :func:`parse_setting`:
    ``('denoise', 25)`` -> ``'sigma25'``, ``('inpaint', SCRATCH_LEVEL)`` -> ``'scratch'``."""
    if task in PROXY_TASKS:
        return task
    if task == "inpaint":
        return "scratch" if level == SCRATCH_LEVEL else f"font{level}"
    prefixes = {"denoise": "sigma", "sr": "x", "jpeg": "q"}
    if task not in prefixes:
        raise ValueError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    return f"{prefixes[task]}{level}"
