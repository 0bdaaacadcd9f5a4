"""The network is data: a `NetSpec` says what it is, `build(spec)` makes the module.

The tutorial's network is the default spec, SEED:

    input   1 x 28 x 28
    Conv(1->16, 5)  ReLU   16 x 24 x 24
    Conv(16->32, 5) ReLU   32 x 20 x 20
    MaxPool(2)             32 x 10 x 10
    Conv(32->64, 5) ReLU   64 x  6 x  6
    MaxPool(2)             64 x  3 x  3   -> flatten 576
    Linear(576->100) ReLU  100
    Linear(100->10)        10 logits

Every spec builds the same two parts: `layer`, a Sequential of conv stages (conv, activation,
optional pooling), and `fc_layer` = Linear(flat -> hidden), ReLU, Linear(hidden -> 10). These
are the tutorial's attribute names and, for SEED, its indices, so a `state_dict` saved from its
notebook loads unchanged. Zero conv stages is a fully connected network: 784 -> hidden -> 10.

Each output a page can show has a name, in the order the data flows: conv1, relu1, conv2,
relu2, pool1, ... (an activation is named for its function, pools are counted on their own),
then "hidden" (after the ReLU) and "logits". `model.stages` maps each name to its module.

    spec = NetSpec.from_dict({"convs": [{"out_channels": 8, "kernel_size": 3}], "hidden": 64})
    spec.check()            # SpecError naming the stage and the arithmetic, if it cannot work
    model = build(spec)     # or build(PRESETS["stride2"].spec)
"""

import tomllib
from dataclasses import asdict, dataclass, fields, replace

import torch
from torch import nn

from cnn_demo import ROOT

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
IMAGE_SIZE = 28  # MNIST: 1 x 28 x 28
CLASSES = 10

# What a spec may ask for: enough to test every claim of the tutorial, small enough that a
# laptop stays responsive while a class trains it.
MAX_CONV_STAGES = 4
SPEC_LIMITS = {  # each number's (lowest, highest)
    "out_channels": (1, 128),
    "kernel_size": (1, 9),
    "stride": (1, 3),
    "padding": (0, 4),
    "pool_size": (1, 4),
    "pool_stride": (1, 4),
    "hidden": (10, 1024),
}
MAX_MULTIPLY_ADDS_RATIO = 20  # per image, against the tutorial's network
MAX_PARAMS = 5_000_000  # 20 MB of float32: a checkpoint a class can share (the tutorial's has 123,222)


# The messages of SpecError, in English, for the command line and notebooks: the [spec] table
# of the app's own strings, so there is one copy of each. The app shows the same code in the
# browser's language, with the same {values}.
with open(ROOT / "locales" / "en.toml", "rb") as _f:
    SPEC_MESSAGES: dict[str, str] = tomllib.load(_f)["spec"]


class SpecError(ValueError):
    """A network that cannot work or is out of the limits; the message names the stage and says
    why. `code` is a key of SPEC_MESSAGES, `values` its {values}."""

    def __init__(self, code: str, **values):
        self.code, self.values = code, values
        super().__init__(SPEC_MESSAGES[code].format(**values))


def output_size(w: int, k: int, s: int = 1, p: int = 0) -> int:
    """Width (or height) of a conv or pool output: floor((W - K + 2P) / S) + 1."""
    if min(w, k, s) < 1 or p < 0:
        raise ValueError("width, kernel and stride must be at least 1, padding at least 0")
    if k > w + 2 * p:
        raise ValueError(f"a {k}-wide kernel does not fit in {w} pixels with padding {p}")
    return (w - k + 2 * p) // s + 1


def formula(w: int, k: int, s: int = 1, p: int = 0) -> str:
    """The output-size formula with these numbers, e.g. "(28 − 5 + 2·0) / 1 + 1 = 24"."""
    top = w - k + 2 * p
    out = top // s + 1
    if top % s == 0:
        return f"({w} − {k} + 2·{p}) / {s} + 1 = {out}"
    return f"⌊({w} − {k} + 2·{p}) / {s}⌋ + 1 = {out}"  # the last partial window is dropped


@dataclass(frozen=True)
class ConvStage:
    out_channels: int
    kernel_size: int = 5
    stride: int = 1
    padding: int = 0
    activation: str = "relu"  # a key of ACTIVATIONS
    pool: str | None = None  # "max", "avg" or None
    pool_size: int = 2
    pool_stride: int = 2


@dataclass(frozen=True)
class StagePlan:
    """What one conv stage does to the shape, worked out before anything is built."""

    index: int  # 1-based
    in_shape: tuple[int, int, int]  # (C, H, W)
    conv_shape: tuple[int, int, int]  # after the conv (and its activation)
    conv_formula: str  # "(28 − 5 + 2·0) / 1 + 1 = 24"
    out_shape: tuple[int, int, int]  # after the pooling, if any
    pool_formula: str | None
    params: int  # weights + biases of the conv
    multiply_adds: int  # per image: every output value is in_channels·K·K products summed


@dataclass(frozen=True)
class NetSpec:
    convs: tuple[ConvStage, ...] = ()
    hidden: int = 100  # width of the fully connected hidden layer

    def to_dict(self) -> dict:
        """Plain JSON values: {"convs": [{...}, ...], "hidden": 100}."""
        return {"convs": [asdict(c) for c in self.convs], "hidden": self.hidden}

    @classmethod
    def from_dict(cls, data) -> "NetSpec":
        """The inverse of to_dict; a SpecError for anything that is not such a dict."""
        if not isinstance(data, dict) or set(data) - {"convs", "hidden"}:
            raise SpecError("not_object")
        convs = data.get("convs", [])
        if not isinstance(convs, (list, tuple)):
            raise SpecError("convs_not_list")
        names = {f.name for f in fields(ConvStage)}
        stages = []
        for i, c in enumerate(convs, 1):
            if not isinstance(c, dict) or "out_channels" not in c or set(c) - names:
                raise SpecError("bad_stage", stage=f"conv{i}", names=", ".join(sorted(names)))
            stages.append(ConvStage(**c))
        spec = cls(tuple(stages), data.get("hidden", 100))
        spec.check_types()
        return spec

    def check_types(self) -> None:
        for i, c in enumerate(self.convs, 1):
            for name in ("out_channels", "kernel_size", "stride", "padding", "pool_size", "pool_stride"):
                value = getattr(c, name)
                if isinstance(value, bool) or not isinstance(value, int):
                    raise SpecError("not_whole", stage=f"conv{i}", field=name, value=repr(value))
            if c.activation not in ACTIVATIONS:
                raise SpecError(
                    "bad_activation", stage=f"conv{i}", choices=", ".join(ACTIVATIONS), value=repr(c.activation)
                )
            if c.pool not in (None, *POOLS):
                raise SpecError("bad_pool", stage=f"conv{i}", value=repr(c.pool))
        if isinstance(self.hidden, bool) or not isinstance(self.hidden, int):
            raise SpecError("hidden_not_whole", value=repr(self.hidden))

    def plan(self) -> list[StagePlan]:
        """Each conv stage's shapes, formulas, parameters and multiply-adds; a SpecError at the
        first stage whose kernel does not fit or whose output would be smaller than 1 x 1."""
        self.check_types()
        shape, rows = (1, IMAGE_SIZE, IMAGE_SIZE), []
        for i, c in enumerate(self.convs, 1):
            w = shape[2]
            if c.kernel_size > w + 2 * c.padding:
                out = (w - c.kernel_size + 2 * c.padding) // c.stride + 1
                raise SpecError(
                    "kernel_too_big", stage=f"conv{i}", k=c.kernel_size, w=w, p=c.padding, s=c.stride, out=out
                )
            conv_w = output_size(w, c.kernel_size, c.stride, c.padding)
            conv_shape = (c.out_channels, conv_w, conv_w)
            out_shape, pool_formula = conv_shape, None
            if c.pool is not None:
                if c.pool_size > conv_w:
                    out = (conv_w - c.pool_size) // c.pool_stride + 1
                    raise SpecError("pool_too_big", stage=f"conv{i}", k=c.pool_size, w=conv_w, s=c.pool_stride, out=out)
                pool_w = output_size(conv_w, c.pool_size, c.pool_stride)
                out_shape, pool_formula = (c.out_channels, pool_w, pool_w), formula(conv_w, c.pool_size, c.pool_stride)
            k2 = shape[0] * c.kernel_size**2
            rows.append(
                StagePlan(
                    index=i,
                    in_shape=shape,
                    conv_shape=conv_shape,
                    conv_formula=formula(w, c.kernel_size, c.stride, c.padding),
                    out_shape=out_shape,
                    pool_formula=pool_formula,
                    params=c.out_channels * k2 + c.out_channels,
                    multiply_adds=c.out_channels * conv_w * conv_w * k2,
                )
            )
            shape = out_shape
        return rows

    def flat_features(self) -> int:
        """Values that reach the first fully connected layer: C·H·W of the last stage (784 without convs)."""
        plan = self.plan()
        c, h, w = plan[-1].out_shape if plan else (1, IMAGE_SIZE, IMAGE_SIZE)
        return c * h * w

    def dense_params(self) -> int:
        flat = self.flat_features()
        return flat * self.hidden + self.hidden + self.hidden * CLASSES + CLASSES

    def params(self) -> int:
        return sum(row.params for row in self.plan()) + self.dense_params()

    def dense_multiply_adds(self) -> int:
        """Per image, the two Linear layers': flat·hidden + hidden·10."""
        return self.flat_features() * self.hidden + self.hidden * CLASSES

    def multiply_adds(self) -> int:
        """Per image, forward: the convs' and the two Linear layers' (pooling and activations are not counted)."""
        return sum(row.multiply_adds for row in self.plan()) + self.dense_multiply_adds()

    def check(self) -> "NetSpec":
        """Return self, or raise SpecError naming what is out of the limits or cannot work."""
        self.check_types()
        if len(self.convs) > MAX_CONV_STAGES:
            raise SpecError("too_many_stages", most=MAX_CONV_STAGES, value=len(self.convs))
        for i, c in enumerate(self.convs, 1):
            for name in ("out_channels", "kernel_size", "stride", "padding", "pool_size", "pool_stride"):
                low, high = SPEC_LIMITS[name]
                if not low <= getattr(c, name) <= high:
                    raise SpecError(
                        "out_of_range", stage=f"conv{i}", field=name, low=low, high=high, value=getattr(c, name)
                    )
        low, high = SPEC_LIMITS["hidden"]
        if not low <= self.hidden <= high:
            raise SpecError("hidden_out_of_range", low=low, high=high, value=self.hidden)
        self.plan()  # the shapes work out
        macs, budget = self.multiply_adds(), MAX_MULTIPLY_ADDS_RATIO * SEED.multiply_adds()
        if macs > budget:
            raise SpecError("too_much_work", macs=f"{macs:,}", ratio=MAX_MULTIPLY_ADDS_RATIO, budget=f"{budget:,}")
        if self.params() > MAX_PARAMS:
            raise SpecError(
                "too_many_params", params=f"{self.params():,}", most=f"{MAX_PARAMS:,}", flat=f"{self.flat_features():,}"
            )
        return self

    def describe(self) -> str:
        """One line, e.g. "conv 16·5 → conv 32·5 max2 → conv 64·5 max2 → fc 100"."""
        parts = []
        for c in self.convs:
            text = f"conv {c.out_channels}·{c.kernel_size}"
            text += f" s{c.stride}" if c.stride != 1 else ""
            text += f" p{c.padding}" if c.padding else ""
            text += f" {c.activation}" if c.activation != "relu" else ""
            text += f" {c.pool}{c.pool_size}" if c.pool else ""
            text += f"/{c.pool_stride}" if c.pool and c.pool_stride != c.pool_size else ""
            parts.append(text)
        return " → ".join([*parts, f"fc {self.hidden}"])


SEED = NetSpec(
    convs=(ConvStage(16, 5), ConvStage(32, 5, pool="max"), ConvStage(64, 5, pool="max")),
    hidden=100,
)


@dataclass(frozen=True)
class Preset:
    """A network ready to pick, by its key in PRESETS. Its title and the line on what it shows are
    words for people, in the locales' [presets.<key>] tables (English and Korean)."""

    spec: NetSpec


def _seed_with(**changes) -> tuple[ConvStage, ...]:
    return tuple(replace(c, **changes) for c in SEED.convs)


PRESETS = {
    "seed": Preset(SEED),
    # 784·155 + 155 + 155·10 + 10 = 123,235 parameters; the CNN has 123,222
    "fully_connected": Preset(NetSpec((), hidden=155)),
    "no_pooling": Preset(NetSpec(_seed_with(pool=None), hidden=100)),
    "stride2": Preset(NetSpec((ConvStage(16, 5), ConvStage(32, 5, stride=2), ConvStage(64, 5, stride=2)), hidden=100)),
    "avg_pooling": Preset(NetSpec(_seed_with(pool=None)[:1] + _seed_with(pool="avg")[1:], hidden=100)),
    "few_filters": Preset(
        NetSpec((ConvStage(4, 5), ConvStage(8, 5, pool="max"), ConvStage(16, 5, pool="max")), hidden=100)
    ),
    "kernel3": Preset(NetSpec(_seed_with(kernel_size=3), hidden=100)),
    "padding": Preset(NetSpec(_seed_with(padding=2), hidden=100)),
}


def preset_name(spec: NetSpec) -> str | None:
    """The name of the preset this spec is, or None for a network of one's own."""
    return next((name for name, p in PRESETS.items() if p.spec == spec), None)


def net_name(spec: NetSpec) -> str:
    return preset_name(spec) or "custom"


class Net(nn.Module):
    """The module a NetSpec describes (see the top of this file). Make it with `build`."""

    def __init__(self, spec: NetSpec = SEED):
        super().__init__()
        self.spec = spec.check()
        layers: list[nn.Module] = []
        self.stages: dict[str, tuple[str, int]] = {}  # "conv1" -> ("layer", 0), ..., "logits"
        channels, pools = 1, 0
        for i, c in enumerate(spec.convs, 1):
            self.stages[f"conv{i}"] = ("layer", len(layers))
            layers.append(nn.Conv2d(channels, c.out_channels, c.kernel_size, c.stride, c.padding))
            self.stages[f"{c.activation}{i}"] = ("layer", len(layers))
            layers.append(ACTIVATIONS[c.activation]())
            if c.pool is not None:
                pools += 1
                self.stages[f"pool{pools}"] = ("layer", len(layers))
                layers.append(POOLS[c.pool](c.pool_size, c.pool_stride))
            channels = c.out_channels
        self.layer = nn.Sequential(*layers)  # (B, 1, 28, 28) -> (B, C, H, W); empty for a fully connected net
        self.fc_layer = nn.Sequential(
            nn.Linear(spec.flat_features(), spec.hidden),
            nn.ReLU(),
            nn.Linear(spec.hidden, CLASSES),
        )
        self.stages["hidden"] = ("fc_layer", 1)  # after the ReLU: the hidden units
        self.stages["logits"] = ("fc_layer", 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 28, 28) floats in [0, 1], ink = 1  ->  (B, 10) logits."""
        out = self.layer(x)
        # The tutorial flattened with the global batch size, which broke on a short last
        # batch or a single image; flatten(1) keeps whatever batch size comes in.
        out = out.flatten(1)  # (B, C·H·W), e.g. (B, 576)
        return self.fc_layer(out)


def build(spec: NetSpec = SEED) -> Net:
    """The module for `spec` (SpecError if it cannot work), with fresh random weights."""
    return Net(spec)


def spatial_stages(model: Net) -> list[str]:
    """Names of the stages with (C, H, W) maps, in data order: conv1 relu1 conv2 relu2 pool1 ..."""
    return [name for name, (seq, _) in model.stages.items() if seq == "layer"]


def conv_layers(model: Net) -> dict[str, int]:
    """{"conv1": 0, "conv2": 2, "conv3": 5} for the tutorial's: each conv's index in `layer`."""
    return {name: i for name, (seq, i) in model.stages.items() if seq == "layer" and name.startswith("conv")}


def conv_weights(model: Net) -> dict[str, torch.Tensor]:
    """The kernels of each conv layer: conv1 (16,1,5,5), conv2 (32,16,5,5), conv3 (64,32,5,5)."""
    return {name: model.layer[i].weight.detach() for name, i in conv_layers(model).items()}


def first_layer_weights(model: Net) -> torch.Tensor:
    """What the first layer looks for in the image: conv1's kernels (C, K, K), or for a fully
    connected net each hidden unit's 784 weights as a 28 x 28 picture (hidden, 28, 28)."""
    if len(model.layer):
        return model.layer[0].weight.detach()[:, 0]
    return model.fc_layer[0].weight.detach().reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def stage_module(model: Net, stage: str) -> nn.Module:
    """The module whose output is `stage`, e.g. "pool1" -> model.layer[4]."""
    seq, index = model.stages[stage]
    return getattr(model, seq)[index]
