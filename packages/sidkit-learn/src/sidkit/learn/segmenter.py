"""``AtomSegmenter``: a compact U-Net that finds atom columns.

Trained on images and binary masks of the atoms (see
:mod:`sidkit.learn.synthetic`), it predicts for every pixel the probability of
belonging to an atom; :func:`sidkit.learn.find_atoms` turns that map into
coordinates. The class imports without torch; building, training, predicting,
saving and loading need ``pip install 'sidkit-learn[torch]'``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from sidkit.core import (
    CorruptFileError,
    Dataset,
    DimensionMismatchError,
    SidkitFileNotFoundError,
    UnknownFormatError,
)
from sidkit.core.atomic import replace_atomically

from ._arrays import as_stack, normalise, spatial_axes
from ._deps import require_safetensors, require_torch, select_device
from ._version import __version__
from .card import read_model_card, sha256_file, write_model_card
from .model import Model
from .tiling import pad_to_multiple, predict_tiled

__all__ = ["AtomSegmenter"]

WEIGHTS_NAME = "weights.safetensors"
#: Weights files larger than this are refused before reading.
MAX_WEIGHTS_BYTES = 2 * 2**30
_LIMITS = {"depth": (1, 6), "width": (1, 256)}


def _check_architecture(depth: Any, width: Any, dropout: Any) -> tuple[int, int, float]:
    try:
        d, w, p = int(depth), int(width), float(dropout)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"depth, width and dropout must be numbers, got {depth!r}, {width!r}, "
                         f"{dropout!r}") from exc
    for key, val in (("depth", d), ("width", w)):
        lo, hi = _LIMITS[key]
        if not lo <= val <= hi:
            raise ValueError(f"{key} must be between {lo} and {hi}, got {val}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    return d, w, p


def _dice_bce(torch: Any, logits: Any, target: Any) -> Any:
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits)
    inter = (prob * target).sum(dim=(1, 2, 3))
    denom = prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3))
    dice = 1 - (2 * inter + 1.0) / (denom + 1.0)
    return bce + dice.mean()


def _print_progress(info: dict[str, Any]) -> None:
    val = f", validation loss {info['val_loss']:.4f}" if info.get("val_loss") is not None else ""
    print(f"AtomSegmenter.fit: epoch {info['epoch']}/{info['epochs']}, "
          f"loss {info['loss']:.4f}{val}, {info['elapsed_s']:.1f} s", file=sys.stderr, flush=True)


def _print_tiles(done: int, total: int) -> None:
    print(f"AtomSegmenter.predict: {done}/{total} tiles", file=sys.stderr, flush=True)


class AtomSegmenter(Model):
    """U-Net segmentation of atom columns (entry point ``atom_segmenter``).

    Parameters
    ----------
    depth : int, default 3
        Number of down-sampling steps (1 to 6). Input sizes are padded to
        multiples of ``2**depth``.
    width : int, default 16
        Channels at full resolution (1 to 256); doubled at every step.
    batch_norm : bool, default True
        Batch normalisation after every convolution.
    dropout : float, default 0.1
        Channel dropout in the encoder and bottleneck (0 turns it off).
    device : str, default "auto"
        ``"auto"`` (CUDA, then MPS, else CPU), ``"cpu"``, ``"cuda"``, ...
    seed : int, default 0
        Seed of the weight initialisation.

    Raises
    ------
    MissingDependencyError
        torch is not installed: ``pip install 'sidkit-learn[torch]'``.
    ValueError
        An architecture parameter is out of range.

    Examples
    --------
    >>> from sidkit.learn import AtomSegmenter, find_atoms, synthetic   # doctest: +SKIP
    >>> data = synthetic.make_atom_images(128, shape=(64, 64), seed=0)  # doctest: +SKIP
    >>> model = AtomSegmenter(depth=2, width=8).fit(data.images, data.masks, epochs=20)  # doctest: +SKIP
    >>> atoms = find_atoms(image, model)                                # doctest: +SKIP
    """

    name: ClassVar[str] = "atom_segmenter"
    description: ClassVar[str] = "U-Net segmentation of atom columns in atomic-resolution images"
    extra: ClassVar[str | None] = "torch"
    package: ClassVar[str] = "sidkit-learn"

    def __init__(self, depth: int = 3, width: int = 16, *, batch_norm: bool = True,
                 dropout: float = 0.1, device: str | Any = "auto", seed: int = 0) -> None:
        torch = require_torch("AtomSegmenter")
        from ._unet import UNet

        depth, width, dropout = _check_architecture(depth, width, dropout)
        self.architecture: dict[str, Any] = {
            "type": "unet",
            "depth": depth,
            "width": width,
            "batch_norm": bool(batch_norm),
            "dropout": dropout,
            "in_channels": 1,
            "out_channels": 1,
            "upsampling": "bilinear",
            "output": "sigmoid probability of an atom pixel",
        }
        self.device = select_device(device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.net = UNet(depth, width, batch_norm=bool(batch_norm), dropout=dropout)
        self.net.to(self.device).eval()
        self.seed = int(seed)
        #: Size of the training images (pixels); the default tile for inference
        #: is at least this.
        self.tile_size: int | None = None
        self.training: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self.history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ basics
    @property
    def multiple(self) -> int:
        """Input sizes must be multiples of this (``2**depth``)."""
        return 2 ** self.architecture["depth"]

    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return int(sum(p.numel() for p in self.net.parameters() if p.requires_grad))

    def __repr__(self) -> str:
        a = self.architecture
        return (f"AtomSegmenter(depth={a['depth']}, width={a['width']}, "
                f"batch_norm={a['batch_norm']}, dropout={a['dropout']}, device='{self.device}', "
                f"{self.n_parameters} parameters, {'trained' if self.training else 'untrained'})")

    # ------------------------------------------------------------------ training
    def fit(
        self,
        images: Any,
        masks: Any,
        *,
        epochs: int = 20,
        batch_size: int = 16,
        learning_rate: float = 1e-2,
        weight_decay: float = 0.0,
        validation: tuple[Any, Any] | None = None,
        augment: bool = True,
        seed: int = 0,
        max_time: float | None = None,
        progress: bool | Callable[[dict[str, Any]], None] = True,
        data_recipe: dict[str, Any] | None = None,
    ) -> AtomSegmenter:
        """Train on images and their atom masks.

        Parameters
        ----------
        images : Dataset, array_like or list of them
            One image or a stack ``(frame, y, x)``; Datasets are arranged by
            their spatial dims.
        masks : Dataset, array_like or list of them
            Targets of the same shape: 1 on atom pixels, 0 elsewhere
            (values in between are soft targets).
        epochs : int, default 20
            Passes over the images.
        batch_size : int, default 16
        learning_rate : float, default 1e-2
            Adam learning rate, decayed by cosine annealing over the epochs.
        weight_decay : float, default 0
        validation : (images, masks), optional
            Held-out data; its loss is reported each epoch and kept in
            :attr:`metrics`.
        augment : bool, default True
            Random 90-degree rotations and flips of each batch.
        seed : int, default 0
            Seed of shuffling, augmentation and dropout.
        max_time : float, optional
            Stop after the epoch during which this many seconds have passed.
        progress : bool or callable, default True
            Print a line per epoch to stderr, or call ``progress(info)`` with
            a dict (``epoch``, ``epochs``, ``loss``, ``val_loss``, ``elapsed_s``).
        data_recipe : dict, optional
            How the training data were made, for the model card; taken from
            ``images.metadata["synthetic"]`` when the images come from
            :mod:`sidkit.learn.synthetic`.

        Returns
        -------
        AtomSegmenter
            ``self``, trained and in evaluation mode.

        Raises
        ------
        DimensionMismatchError
            Images and masks differ in shape.
        MissingDependencyError
            torch is not installed.
        """
        torch = require_torch("AtomSegmenter.fit")
        x = as_stack(images, "images")
        y = as_stack(masks, "masks")
        if x.shape != y.shape:
            raise DimensionMismatchError(f"images {x.shape} and masks {y.shape} differ in shape")
        if int(epochs) < 1 or int(batch_size) < 1:
            raise ValueError("epochs and batch_size must be at least 1")
        x = np.stack([normalise(im) for im in x])
        y = np.clip(y, 0.0, 1.0)
        x, y = self._pad_stack(x), self._pad_stack(y)
        val = None
        if validation is not None:
            vx, vy = as_stack(validation[0], "validation images"), as_stack(validation[1], "validation masks")
            if vx.shape != vy.shape:
                raise DimensionMismatchError(f"validation images {vx.shape} and masks {vy.shape} differ")
            vx = self._pad_stack(np.stack([normalise(im) for im in vx]))
            vy = self._pad_stack(np.clip(vy, 0.0, 1.0))
            val = (torch.from_numpy(vx[:, None]), torch.from_numpy(vy[:, None]))
        report = _print_progress if progress is True else (progress or None)
        if data_recipe is None and isinstance(images, Dataset):
            data_recipe = images.metadata.get("synthetic")
        if isinstance(data_recipe, dict):
            data_recipe = {k: v for k, v in data_recipe.items() if k != "images"}

        dev = self.device
        X = torch.from_numpy(x[:, None])
        Y = torch.from_numpy(y[:, None].astype(np.float32))
        n = X.shape[0]
        gen = torch.Generator().manual_seed(int(seed))
        opt = torch.optim.Adam(self.net.parameters(), lr=float(learning_rate),
                               weight_decay=float(weight_decay))
        steps_per_epoch = math.ceil(n / int(batch_size))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=int(epochs) * steps_per_epoch)
        start = time.perf_counter()
        history: list[dict[str, Any]] = []
        stopped_early = False
        with torch.random.fork_rng(devices=[] if dev.type == "cpu" else [dev]):
            torch.manual_seed(int(seed))
            for epoch in range(1, int(epochs) + 1):
                self.net.train()
                order = torch.randperm(n, generator=gen)
                total, count = 0.0, 0
                for k in range(0, n, int(batch_size)):
                    idx = order[k : k + int(batch_size)]
                    xb, yb = X[idx], Y[idx]
                    if augment:
                        rot = int(torch.randint(4, (1,), generator=gen))
                        if rot:
                            xb, yb = torch.rot90(xb, rot, (2, 3)), torch.rot90(yb, rot, (2, 3))
                        if int(torch.randint(2, (1,), generator=gen)):
                            xb, yb = torch.flip(xb, (3,)), torch.flip(yb, (3,))
                    xb, yb = xb.to(dev), yb.to(dev)
                    opt.zero_grad(set_to_none=True)
                    loss = _dice_bce(torch, self.net(xb), yb)
                    loss.backward()
                    opt.step()
                    sched.step()
                    total += float(loss.detach()) * len(idx)
                    count += len(idx)
                info: dict[str, Any] = {"epoch": epoch, "epochs": int(epochs),
                                        "loss": total / count, "val_loss": None,
                                        "elapsed_s": time.perf_counter() - start}
                if val is not None:
                    info["val_loss"] = self._loss_on(torch, *val, int(batch_size))
                history.append(info)
                if report is not None:
                    report(dict(info))
                if max_time is not None and info["elapsed_s"] > max_time and epoch < int(epochs):
                    stopped_early = True
                    break
        self.net.eval()
        self.history = history
        self.tile_size = int(max(x.shape[1:]))
        self.training = {
            "images": int(n),
            "image_shape": [int(s) for s in x.shape[1:]],
            "epochs": int(epochs),
            "epochs_run": len(history),
            "stopped_early": stopped_early,
            "batch_size": int(batch_size),
            "optimizer": "Adam",
            "learning_rate": float(learning_rate),
            "lr_schedule": "cosine annealing per step",
            "weight_decay": float(weight_decay),
            "loss": "binary cross-entropy + soft Dice",
            "augmentation": "random 90-degree rotations and flips" if augment else "none",
            "normalisation": "per image: subtract mean, divide by standard deviation",
            "seed": int(seed),
            "init_seed": self.seed,
            "device": str(dev),
            "duration_s": round(time.perf_counter() - start, 3),
            "torch_version": str(torch.__version__),
            "data": data_recipe or "user-supplied images and masks",
        }
        self.metrics = {
            "final_loss": history[-1]["loss"],
            "final_val_loss": history[-1]["val_loss"],
            "loss_history": [round(h["loss"], 6) for h in history],
        }
        if val is not None:
            self.metrics["val_loss_history"] = [round(h["val_loss"], 6) for h in history]
        return self

    def _pad_stack(self, stack: np.ndarray) -> np.ndarray:
        return np.stack([pad_to_multiple(im, self.multiple)[0] for im in stack])

    def _loss_on(self, torch: Any, X: Any, Y: Any, batch_size: int) -> float:
        self.net.eval()
        total = 0.0
        with torch.inference_mode():
            for k in range(0, X.shape[0], batch_size):
                xb, yb = X[k : k + batch_size].to(self.device), Y[k : k + batch_size].to(self.device)
                total += float(_dice_bce(torch, self.net(xb), yb)) * xb.shape[0]
        return total / X.shape[0]

    # ------------------------------------------------------------------ inference
    def _forward_numpy(self, torch: Any) -> Callable[[np.ndarray], np.ndarray]:
        def forward(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                t = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)[:, None])
                out = torch.sigmoid(self.net(t.to(self.device)))
                return out[:, 0].float().cpu().numpy()
        return forward

    def predict_array(self, image: np.ndarray, *, tile: int | None = None,
                      overlap: int | None = None, batch_size: int = 4,
                      tiled: bool | None = None,
                      progress: bool | Callable[[int, int], None] = False) -> np.ndarray:
        """Probability map of a 2-D numpy image (see :meth:`predict`)."""
        torch = require_torch("AtomSegmenter.predict")
        img = np.asarray(image, dtype=np.float32)
        if img.ndim != 2:
            raise DimensionMismatchError(f"predict_array needs a 2-D image, got shape {img.shape}")
        self.net.eval()
        forward = self._forward_numpy(torch)
        x = normalise(img)
        tile = int(tile) if tile is not None else max(self.tile_size or 0, 256)
        tile = max(-(-tile // self.multiple) * self.multiple, self.multiple)
        if tiled is None:
            tiled = max(img.shape) > tile
        if not tiled:
            padded, (h, w) = pad_to_multiple(x, self.multiple)
            return forward(padded[None])[0, :h, :w]
        overlap = int(overlap) if overlap is not None else max(tile // 8, 2 * self.multiple)
        report = _print_tiles if progress is True else (progress or None)
        return predict_tiled(forward, x, tile=tile, overlap=min(overlap, tile // 2),
                             multiple=self.multiple, batch_size=batch_size, progress=report)

    def predict(self, image: Any, *, tile: int | None = None, overlap: int | None = None,
                batch_size: int = 4, tiled: bool | None = None,
                progress: bool | Callable[[int, int], None] = False) -> Dataset:
        """Probability that each pixel belongs to an atom.

        Images larger than the tile are predicted tile by tile with
        overlapping, blended tiles, so the network's memory stays bounded
        whatever the image size. The image itself and the result are held in
        memory (float32), one frame at a time for a stack.

        Parameters
        ----------
        image : Dataset or array_like
            A 2-D image, or a stack whose two spatial dims are the image
            (each frame is predicted).
        tile : int, optional
            Tile size in pixels; default the larger of the training image
            size and 256, rounded up to a multiple of ``2**depth``.
        overlap : int, optional
            Overlap of neighbouring tiles in pixels; default ``tile // 8``
            (at least ``2 * 2**depth``).
        batch_size : int, default 4
            Tiles per forward pass.
        tiled : bool, optional
            Force (True) or forbid (False) tiling; by default images larger
            than ``tile`` are tiled.
        progress : bool or callable, default False
            Report tiled inference after every batch of tiles: True prints to
            stderr, a callable is called as ``progress(done, total)``.

        Returns
        -------
        Dataset
            Float32 probabilities in [0, 1], with the image's dims,
            ``quantity="probability"`` and a provenance record.

        Raises
        ------
        MissingDependencyError
            torch is not installed.
        """
        require_torch("AtomSegmenter.predict")
        ds = image if isinstance(image, Dataset) else Dataset(np.asarray(image))
        if ds.ndim not in (2, 3):
            raise DimensionMismatchError(f"predict needs a 2-D image or a 3-D stack, got {ds.ndim} dims")
        ya, xa = spatial_axes(ds)
        arr = np.moveaxis(np.asarray(ds, dtype=np.float32), (ya, xa), (-2, -1))
        opts = {"tile": tile, "overlap": overlap, "batch_size": batch_size, "tiled": tiled}
        if arr.ndim == 2:
            prob = self.predict_array(arr, progress=progress, **opts)
        else:
            prob = np.stack([self.predict_array(frame, progress=progress, **opts) for frame in arr])
        prob = np.moveaxis(prob, (-2, -1), (ya, xa))
        return ds.derive(
            prob.astype(np.float32),
            process="sidkit.learn.AtomSegmenter.predict",
            parameters={**opts, "architecture": self.architecture},
            package="sidkit-learn",
            title=f"{ds.title} atom probability".strip(),
            quantity="probability",
            units="",
            data_type=ds.data_type,
        )

    def evaluate(self, images: Any, positions: list[np.ndarray], *, tolerance: float = 1.0,
                 exclude_border: float = 2.0, **find_options: Any) -> dict[str, Any]:
        """Precision and recall of :func:`~sidkit.learn.find_atoms` against true positions.

        Parameters
        ----------
        images : Dataset or array_like
            Image stack ``(frame, y, x)`` or one image.
        positions : list of numpy.ndarray
            True ``(row, column)`` pixel positions per image.
        tolerance : float, default 1.0
            Match distance in pixels.
        exclude_border : float, default 2.0
            Atoms this close to the image edge (pixels) are not scored.
        **find_options
            Passed to :func:`~sidkit.learn.find_atoms`.

        Returns
        -------
        dict
            Summed ``true_positives``, ``false_positives``, ``false_negatives``
            and ``precision``, ``recall``, ``f1``, ``mean_distance_px``; also
            stored in :attr:`metrics` under ``"evaluation"``.
        """
        from .atoms import find_atoms
        from .metrics import match_points

        stack = images if isinstance(images, Dataset) else Dataset(np.asarray(images))
        frames = [stack] if stack.ndim == 2 else [stack[i] for i in range(stack.shape[0])]
        if len(frames) != len(positions):
            raise DimensionMismatchError(f"{len(frames)} images but {len(positions)} position sets")
        tp = fp = fn = 0
        dist = 0.0
        for frame, true in zip(frames, positions):
            found = np.asarray(find_atoms(frame, self, pixels=True, **find_options))
            m = match_points(found, true, tolerance, exclude_border=exclude_border,
                             shape=frame.shape)
            tp, fp, fn = tp + m.true_positives, fp + m.false_positives, fn + m.false_negatives
            dist += m.mean_distance * m.true_positives if m.true_positives else 0.0
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        result = {
            "images": len(frames),
            "tolerance_px": tolerance,
            "exclude_border_px": exclude_border,
            "true_positives": tp,
            "false_positives": fp,
            "false_negatives": fn,
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "mean_distance_px": dist / tp if tp else float("nan"),
        }
        if isinstance(stack, Dataset) and "synthetic" in stack.metadata:
            rec = stack.metadata["synthetic"]
            result["data"] = {k: v for k, v in rec.items() if k != "images"}
        self.metrics["evaluation"] = result
        return result

    # ------------------------------------------------------------------ persistence
    def card(self) -> dict[str, Any]:
        """The model card as a dict (what :meth:`save` writes, without the weights entry)."""
        return {
            "model": self.name,
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "description": self.description,
            "package": self.package,
            "sidkit_learn_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "architecture": dict(self.architecture),
            "n_parameters": self.n_parameters,
            "tile_size": self.tile_size,
            "init_seed": self.seed,
            "input": {"channels": 1, "size_multiple": self.multiple,
                      "normalisation": "per image: subtract mean, divide by standard deviation"},
            "training": dict(self.training),
            "metrics": dict(self.metrics),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save weights (safetensors, no pickle) and a JSON model card in a folder.

        Parameters
        ----------
        path : str or os.PathLike
            Folder to create or overwrite (``weights.safetensors`` and
            ``model_card.json``); each file is replaced atomically.

        Returns
        -------
        pathlib.Path
            The folder.
        """
        st = require_safetensors("AtomSegmenter.save")
        folder = Path(os.fspath(path)).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        weights = folder / WEIGHTS_NAME
        with replace_atomically(weights) as tmp:
            st.save_file(state, str(tmp), metadata={"format": "sidkit-learn", "model": self.name})
        card = self.card()
        card["weights"] = {"file": WEIGHTS_NAME, "format": "safetensors",
                           "sha256": sha256_file(weights), "tensors": len(state)}
        write_model_card(card, folder)
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | Any = "auto") -> AtomSegmenter:
        """Load a model written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            The model folder.
        device : str, default "auto"

        Returns
        -------
        AtomSegmenter
            In evaluation mode, with its training record and metrics.

        Raises
        ------
        SidkitFileNotFoundError
            The folder, card or weights file is missing.
        CorruptFileError
            The card is invalid or belongs to another model, the weights'
            checksum differs from the card's, or the tensors do not fit the
            architecture.
        MissingDependencyError
            torch or safetensors is not installed.
        """
        st = require_safetensors("AtomSegmenter.load")
        folder = Path(os.fspath(path)).expanduser()
        card = read_model_card(folder)
        if card["model"] != cls.name:
            raise UnknownFormatError(folder, cls.name,
                                     f"holds a '{card['model']}' model, not '{cls.name}'; "
                                     "use sidkit.learn.load_model to open any model")
        arch = card["architecture"]
        try:
            model = cls(arch.get("depth"), arch.get("width"), batch_norm=bool(arch.get("batch_norm", True)),
                        dropout=arch.get("dropout", 0.0), device=device,
                        seed=int(card.get("init_seed", 0) or 0))
        except (ValueError, TypeError) as exc:
            raise CorruptFileError(folder / "model_card.json", cls.name,
                                   f"architecture {arch!r} is invalid: {exc}") from exc
        info = card.get("weights") if isinstance(card.get("weights"), dict) else {}
        weights = folder / WEIGHTS_NAME
        if not weights.is_file():
            raise SidkitFileNotFoundError(weights, cls.name, "the weights file is missing")
        size = weights.stat().st_size
        if size > MAX_WEIGHTS_BYTES:
            raise CorruptFileError(weights, cls.name, f"is {size} bytes, above the "
                                   f"{MAX_WEIGHTS_BYTES}-byte limit for this model")
        expected = info.get("sha256")
        if expected and sha256_file(weights) != expected:
            raise CorruptFileError(weights, cls.name, "its SHA-256 differs from the model card's; "
                                   "the file was changed or damaged: save the model again")
        try:
            state = st.load_file(str(weights), device="cpu")
        except Exception as exc:  # safetensors raises its own error types on bad headers
            raise CorruptFileError(weights, cls.name,
                                   f"is not a readable safetensors file ({exc})") from exc
        try:
            model.net.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise CorruptFileError(weights, cls.name, "its tensors do not fit the architecture "
                                   f"of the model card: {str(exc).splitlines()[0]}") from exc
        model.net.to(model.device).eval()
        tile = card.get("tile_size")
        model.tile_size = int(tile) if isinstance(tile, (int, float)) else None
        model.training = dict(card.get("training", {}))
        model.metrics = dict(card.get("metrics", {}))
        return model
