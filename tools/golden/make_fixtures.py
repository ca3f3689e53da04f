#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures that tests/test_parity_*.cpp read.

    pip install -r tools/golden/requirements.txt
    python3 tools/golden/make_fixtures.py            # writes tests/golden/*.safetensors

Everything is stored in whet's layouts, so the C++ tests compare without converting:
activations NHWC (PyTorch's NCHW permuted), conv weights (O, KH, KW, I/groups) (PyTorch's
OIHW permuted). Layer and loss fixtures are float32 (checked at torch.testing.assert_close's
float32 tolerances); optimizer trajectories are float64 so ten steps compare tightly.
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden")


def nhwc(x):
    return x.permute(0, 2, 3, 1).contiguous() if x.dim() == 4 else x.contiguous()


def ohwi(w):
    return w.permute(0, 2, 3, 1).contiguous()


class Fixture:
    def __init__(self):
        self.t = {}

    def put(self, name, value):
        assert name not in self.t, name
        self.t[name] = value.detach().contiguous().clone()

    def save(self, filename):
        path = os.path.join(OUT, filename)
        save_file(self.t, path, metadata={"torch": torch.__version__})
        print(f"{path}: {len(self.t)} tensors, {os.path.getsize(path)} bytes")


def layer_case(fx, name, module, x, params=()):
    """Forward and backward of one layer on NCHW x; stores NHWC/OHWI tensors."""
    x = x.clone().requires_grad_(True)
    y = module(x)
    gy = torch.randn_like(y)
    y.backward(gy)
    fx.put(f"{name}.input", nhwc(x))
    fx.put(f"{name}.output", nhwc(y))
    fx.put(f"{name}.grad_output", nhwc(gy))
    fx.put(f"{name}.grad_input", nhwc(x.grad))
    for pname in params:
        p = getattr(module, pname)
        conv = isinstance(module, nn.Conv2d) and pname == "weight"
        fx.put(f"{name}.{pname}", ohwi(p) if conv else p)
        fx.put(f"{name}.grad_{pname}", ohwi(p.grad) if conv else p.grad)


def make_layers():
    torch.manual_seed(0)
    fx = Fixture()
    lin = nn.Linear(7, 5)
    layer_case(fx, "linear", lin, torch.randn(4, 7), ("weight", "bias"))
    convs = {
        "conv_basic": dict(in_channels=3, out_channels=4, kernel_size=3, padding=1),
        "conv_stride2": dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, bias=False),
        "conv_groups": dict(in_channels=4, out_channels=6, kernel_size=3, groups=2, padding=1),
        "conv_depthwise": dict(in_channels=4, out_channels=8, kernel_size=3, groups=4, padding=1, stride=2),
        "conv_dilated": dict(in_channels=3, out_channels=2, kernel_size=(3, 2), dilation=2, padding=(2, 1)),
        "conv_1x1": dict(in_channels=5, out_channels=3, kernel_size=1),
        "conv_7x7_stem": dict(in_channels=3, out_channels=4, kernel_size=7, stride=2, padding=3, bias=False),
    }
    for name, kw in convs.items():
        conv = nn.Conv2d(**kw)
        params = ("weight", "bias") if conv.bias is not None else ("weight",)
        layer_case(fx, name, conv, torch.randn(2, kw["in_channels"], 9, 11), params)

    bn = nn.BatchNorm2d(5)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 2.0)
    fx.put("bn_train.running_mean_before", bn.running_mean)
    fx.put("bn_train.running_var_before", bn.running_var)
    bn.train()
    layer_case(fx, "bn_train", bn, torch.randn(3, 5, 4, 6) * 2 + 1, ("weight", "bias"))
    fx.put("bn_train.running_mean_after", bn.running_mean)
    fx.put("bn_train.running_var_after", bn.running_var)
    bn.zero_grad()
    bn.eval()
    layer_case(fx, "bn_eval", bn, torch.randn(3, 5, 4, 6), ("weight", "bias"))
    fx.put("bn_eval.running_mean", bn.running_mean)
    fx.put("bn_eval.running_var", bn.running_var)

    acts = {"relu": nn.ReLU(), "relu6": nn.ReLU6(), "hardswish": nn.Hardswish(),
            "hardsigmoid": nn.Hardsigmoid(), "silu": nn.SiLU(), "sigmoid": nn.Sigmoid(),
            "tanh": nn.Tanh(), "gelu": nn.GELU()}
    for name, act in acts.items():
        layer_case(fx, name, act, torch.randn(2, 3, 4, 5) * 4)
    pools = {
        "maxpool_3s2p1": nn.MaxPool2d(3, stride=2, padding=1),
        "maxpool_2_ceil": nn.MaxPool2d(2, ceil_mode=True),
        "avgpool_3s2p1": nn.AvgPool2d(3, stride=2, padding=1),
        "avgpool_3s2p1_nopad": nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        "avgpool_2_ceil": nn.AvgPool2d(2, ceil_mode=True),
        "adaptive_1": nn.AdaptiveAvgPool2d(1),
        "adaptive_3x2": nn.AdaptiveAvgPool2d((3, 2)),
    }
    for name, pool in pools.items():
        layer_case(fx, name, pool, torch.randn(2, 3, 7, 9))
    x = torch.randn(3, 4, 5)
    for dim in (0, 1, 2):
        for fname, f in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
            xx = x.clone().requires_grad_(True)
            y = f(xx, dim=dim)
            gy = torch.randn_like(y)
            y.backward(gy)
            fx.put(f"{fname}_dim{dim}.input", xx)
            fx.put(f"{fname}_dim{dim}.output", y)
            fx.put(f"{fname}_dim{dim}.grad_output", gy)
            fx.put(f"{fname}_dim{dim}.grad_input", xx.grad)
    fx.save("layers.safetensors")


def make_losses():
    torch.manual_seed(1)
    fx = Fixture()
    logits = torch.randn(6, 5)
    target = torch.tensor([0, 3, 4, 1, 3, 2])
    weight = torch.rand(5) + 0.5
    ce_cases = {
        "ce_mean": dict(),
        "ce_sum": dict(reduction="sum"),
        "ce_none": dict(reduction="none"),
        "ce_weighted": dict(weight=weight),
        "ce_ignore": dict(ignore_index=3),
        "ce_smooth": dict(label_smoothing=0.1),
        "ce_weighted_smooth_ignore": dict(weight=weight, label_smoothing=0.2, ignore_index=1),
    }
    fx.put("ce.logits", logits)
    fx.put("ce.target", target)
    fx.put("ce.class_weight", weight)
    for name, kw in ce_cases.items():
        x = logits.clone().requires_grad_(True)
        loss = F.cross_entropy(x, target, **kw)
        g = torch.randn_like(loss)
        loss.backward(g)
        fx.put(f"{name}.loss", loss)
        fx.put(f"{name}.grad_loss", g)
        fx.put(f"{name}.grad_logits", x.grad)
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    probs = torch.rand(4, 3)
    fx.put("reg.input", a)
    fx.put("reg.target", b)
    fx.put("reg.probs", probs)
    for name, f in (("mse", F.mse_loss), ("l1", F.l1_loss), ("smooth_l1", F.smooth_l1_loss),
                    ("smooth_l1_beta05", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5)),
                    ("mse_sum", lambda x, y: F.mse_loss(x, y, reduction="sum")),
                    ("bce_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, probs))):
        x = a.clone().requires_grad_(True)
        loss = f(x, b)
        loss.backward()
        fx.put(f"{name}.loss", loss)
        fx.put(f"{name}.grad_input", x.grad)
    fx.save("losses.safetensors")


class SmallCNN(nn.Module):
    """The test network of tests/test_parity_optim.cpp (same names there)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


OPTIMIZERS = {
    "sgd": lambda g: torch.optim.SGD(g, lr=0.05),
    "sgd_momentum_wd_nesterov": lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, weight_decay=1e-3, nesterov=True),
    "sgd_dampening": lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.8, dampening=0.3),
    "adam": lambda g: torch.optim.Adam(g, lr=0.01, weight_decay=1e-3),
    "adam_amsgrad": lambda g: torch.optim.Adam(g, lr=0.01, betas=(0.8, 0.99), amsgrad=True),
    "adamw": lambda g: torch.optim.AdamW(g, lr=0.01, weight_decay=0.05),
    "rmsprop": lambda g: torch.optim.RMSprop(g, lr=0.01, weight_decay=1e-3),
    "rmsprop_centered_momentum": lambda g: torch.optim.RMSprop(g, lr=0.005, momentum=0.9, centered=True),
}

SCHEDULES = {
    "constant": lambda o: None,
    "step": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
    "multistep": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 5, 8], gamma=0.3),
    "exponential": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8),
    "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=1e-4),
    "warmup_cosine": lambda o: torch.optim.lr_scheduler.SequentialLR(
        o, [torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=3),
            torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7)], milestones=[3]),
    "onecycle": lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, max_lr=[g["lr"] * 4 for g in o.param_groups], total_steps=10),
    "plateau": lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=1),
}

STEPS = 10


def make_optim():
    torch.manual_seed(2)
    fx = Fixture()
    model = SmallCNN().double()
    with torch.no_grad():  # BN statistics away from their defaults
        for bn in (model.bn1, model.bn2):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.3, 0.3)
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.8, 1.2)
    init = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(6, 3, 8, 8, dtype=torch.float64)
    y = torch.tensor([0, 3, 4, 1, 3, 2])
    fx.put("data.input", nhwc(x))
    fx.put("data.target", y)
    for k, v in init.items():
        fx.put(f"init.{k}", ohwi(v) if k.endswith("weight") and v.dim() == 4 else v)
    for oname, make_opt in OPTIMIZERS.items():
        for sname, make_sched in SCHEDULES.items():
            model.load_state_dict(init)
            # Part frozen: conv1 and bn1 (BatchNorm fully frozen: eval statistics, no training).
            for p in list(model.conv1.parameters()) + list(model.bn1.parameters()):
                p.requires_grad_(False)
            model.train()
            model.bn1.eval()
            # Two groups: the head learns 10x faster and without weight decay.
            base = make_opt([{"params": [torch.zeros(1, dtype=torch.float64)]}]).defaults
            opt = make_opt([
                {"params": list(model.conv2.parameters()) + list(model.bn2.parameters())},
                {"params": list(model.fc.parameters()), "lr": base["lr"] * 10, "weight_decay": 0.0},
            ])
            sched = make_sched(opt)
            run = f"{oname}.{sname}"
            losses, lrs = [], []
            for _ in range(STEPS):
                opt.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                lrs.append([g["lr"] for g in opt.param_groups])
                opt.step()
                losses.append(loss.item())
                if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    sched.step(loss.item())
                elif sched is not None:
                    sched.step()
            fx.put(f"{run}.loss", torch.tensor(losses, dtype=torch.float64))
            fx.put(f"{run}.lr", torch.tensor(lrs, dtype=torch.float64))
            for k, v in model.state_dict().items():
                if k.startswith("conv1") or k.startswith("bn1.") or k.endswith("num_batches_tracked"):
                    continue  # frozen: the C++ test checks they are bit-identical to init
                fx.put(f"{run}.final.{k}", ohwi(v) if k.endswith("weight") and v.dim() == 4 else v)
    fx.save("optim.safetensors")


def main():
    global OUT
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    OUT = args.out
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    make_layers()
    make_losses()
    make_optim()


if __name__ == "__main__":
    main()
