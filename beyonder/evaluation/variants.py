"""Ablations trained beside Beyonder on the same folds (``beyonder evaluate --corpus ...
--variant NAME KEY=VALUE ...``): one ``Variant`` per name, from the command line to
``crossval``, parsed and checked here, before any labelling or training starts (a typo found
after hours of training costs those hours).

NumPy-light on purpose: the command line reads variants before TensorFlow is imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from beyonder.selector.inference import BeyonderConfig

FINETUNE = ("all", "heads", "none")
"""What a variant does with pretrained weights (``--pretrain-corpus``): fine-tune all layers,
the heads only, or ignore them and start fresh."""

PRETRAIN = ("cells",)
"""Pre-training objectives a variant may start its encoder from (``cell_pretraining``)."""

LISTS = ("train_groups", "train_kinds")
"""Settings given as comma-separated lists on the command line."""


@dataclass
class Variant:
    """One ablation, reported as ``beyonder_<name>``, trained in every fold on the same
    training datasets and scored on the same truth as ``beyonder`` (so the report's paired
    intervals compare it with every method).

    ``train``: overrides of ``BeyonderConfig`` fields (``rows=16``); ``train_groups`` (e.g.
    ``("uci",)``): train only on the datasets of those corpora (``Workspace.groups``);
    ``train_kinds`` (e.g. ``("bootstrap", "noise")``): train only on those kinds of samples
    (leaving out derived tasks, say); ``finetune``: see ``FINETUNE``; ``seed_offset``: moves the
    fold's seed (``crossval.SEED_STRIDE``: the seed of ``--seeds``' second member);
    ``pretrain="cells"``: start from an encoder pre-trained on the masked-cell objective over
    the fold's training samples, for ``pretrain_epochs`` epochs (None:
    ``cell_pretraining.PRETRAIN_EPOCHS``); with ``finetune="heads"`` that encoder stays frozen.
    ``refit``: the refit stage's protocol: train with early stopping as usual, then again on
    every training dataset (its validation ones too) for the epochs validation chose.
    """

    name: str
    train: dict[str, Any] = field(default_factory=dict)
    train_groups: tuple[str, ...] | None = None
    train_kinds: tuple[str, ...] | None = None
    finetune: str = "all"
    seed_offset: int = 0
    pretrain: str | None = None
    pretrain_epochs: int | None = None
    refit: bool = False

    def __post_init__(self) -> None:
        known = {f.name for f in fields(BeyonderConfig)}
        unknown = sorted(set(self.train) - known)
        if unknown:
            raise ValueError(f"variant {self.name}: {unknown[0]!r} is not a train setting")
        if self.finetune not in FINETUNE:
            raise ValueError(
                f"variant {self.name}: finetune must be one of {FINETUNE}, got {self.finetune!r}"
            )
        if self.pretrain is not None and self.pretrain not in PRETRAIN:
            raise ValueError(
                f"variant {self.name}: pretrain must be 'cells' (masked-cell), got {self.pretrain!r}"
            )
        if self.pretrain_epochs is not None and int(self.pretrain_epochs) < 1:
            raise ValueError(
                f"variant {self.name}: pretrain_epochs must be at least 1, got {self.pretrain_epochs}"
            )
        for key in LISTS:
            value = getattr(self, key)
            if value is not None:
                setattr(self, key, tuple(str(v) for v in value))

    @classmethod
    def parse(cls, name: str, pairs: list[str]) -> Variant:
        """``Variant.parse("uci_only", ["train_groups=uci", "rows=128"])``: values are read as
        YAML scalars, ``train_groups`` and ``train_kinds`` as comma-separated lists; a key that
        is neither a train setting nor a variant's own is refused, with the pair named."""
        import yaml

        own = {f.name for f in fields(cls)} - {"name", "train"}
        known = {f.name for f in fields(BeyonderConfig)} | own
        train: dict[str, Any] = {}
        settings: dict[str, Any] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or key not in known:
                raise ValueError(
                    f"--variant {name}: {pair!r} is not KEY=VALUE with a train setting"
                )
            if key in LISTS:
                settings[key] = tuple(value.split(","))
            else:
                (settings if key in own else train)[key] = yaml.safe_load(value)
        return cls(name, train, **settings)

    def config(self, base: BeyonderConfig) -> BeyonderConfig:
        """``base`` with this variant's train settings, its seed moved by ``seed_offset``."""
        seed = self.train.get("seed", base.seed) + int(self.seed_offset)
        return replace(base, **{**self.train, "seed": seed})

    def settings(self) -> dict[str, Any]:
        """What sets this variant apart, as ``--variant`` takes it (train settings, then the
        variant's own settings that differ from the defaults): for logs and the report."""
        out = dict(self.train)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in ("name", "train") and value != f.default:
                out[f.name] = list(value) if f.name in LISTS else value
        return out


def parse_variants(specs: list[list[str]]) -> list[Variant]:
    """``--variant`` as argparse collects it (``[["wide", "rows=128"], ["uci_only",
    "train_groups=uci"]]``) -> one ``Variant`` each; a name given twice is refused."""
    variants = [Variant.parse(name, pairs) for name, *pairs in specs]
    names = [v.name for v in variants]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"--variant {repeated[0]}: given more than once")
    return variants
