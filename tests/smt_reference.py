"""A plain, unoptimised SMT written from the paper's architecture, for equivalence tests only.

It keeps the official checkpoint key layout (``patch_embed1.conv.{0,1,3}``, ``block{i}.{j}``,
``norm{i}``, ``head``) and spells every step out in token layout (B, N, C) with explicit loops,
so that the optimised backbone in ``smt_mm`` can be checked against it after its state dict went
through ``convert_official_smt``. ``RefSMT(dense=True)`` has the layout of the official detection
and segmentation backbones instead: the MSA convolution is named ``attn.dw_conv`` and there is
no classification head. :func:`to_official_layout` renames an smt_mm state dict into these
layouts through the inverse of the converter, to build official-format checkpoints for tests.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

REFERENCE_ARCHS = {
    'tiny': dict(
        dims=(64, 128, 256, 512), depths=(2, 2, 8, 1), mlp_ratios=(4, 4, 4, 2), head_conv=3
    ),
    'small': dict(
        dims=(64, 128, 256, 512), depths=(3, 4, 18, 2), mlp_ratios=(4, 4, 4, 2), head_conv=3
    ),
    'base': dict(
        dims=(64, 128, 256, 512), depths=(4, 6, 28, 2), mlp_ratios=(8, 6, 4, 2), head_conv=7
    ),
    'large': dict(
        dims=(96, 192, 384, 768), depths=(4, 6, 28, 4), mlp_ratios=(8, 6, 4, 2), head_conv=7
    ),
}


def tokens_to_image(x, h, w):
    """(B, N, C) -> (B, C, H, W)."""
    b, _, c = x.shape
    return x.transpose(1, 2).reshape(b, c, h, w)


def image_to_tokens(x):
    """(B, C, H, W) -> (B, N, C)."""
    return x.flatten(2).transpose(1, 2)


class RefMlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = nn.Module()
        self.dwconv.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x, h, w):
        x = self.fc1(x)
        local = image_to_tokens(self.dwconv.dwconv(tokens_to_image(x, h, w)))
        return self.fc2(F.gelu(x + local))


class RefSAM(nn.Module):
    """Scale-aware modulation with explicit per-head loops."""

    def __init__(self, dim, heads=4, expand=2):
        super().__init__()
        self.heads = heads
        self.v = nn.Linear(dim, dim)
        self.s = nn.Linear(dim, dim)
        head_dim = dim // heads
        for i in range(heads):
            conv = nn.Conv2d(head_dim, head_dim, 3 + 2 * i, padding=1 + i, groups=head_dim)
            setattr(self, f'local_conv_{i + 1}', conv)
        self.proj0 = nn.Conv2d(dim, dim * expand, 1, groups=head_dim)
        self.bn = nn.BatchNorm2d(dim * expand)
        self.proj1 = nn.Conv2d(dim * expand, dim, 1)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, h, w):
        b, n, c = x.shape
        head_dim = c // self.heads
        v = self.v(x)
        s = tokens_to_image(self.s(x), h, w)
        head_outs = []
        for i in range(self.heads):
            conv = getattr(self, f'local_conv_{i + 1}')
            head_outs.append(conv(s[:, i * head_dim : (i + 1) * head_dim]))
        # Interleave: channel k * heads + i of the mixed map is channel k of head i.
        mixed = torch.zeros(b, c, h, w, dtype=x.dtype)
        for i in range(self.heads):
            for k in range(head_dim):
                mixed[:, k * self.heads + i] = head_outs[i][:, k]
        modulator = self.proj1(F.gelu(self.bn(self.proj0(mixed))))
        return self.proj(image_to_tokens(modulator) * v)


class RefMSA(nn.Module):
    """Global multi-head self-attention with a depthwise conv on v, explicit per-head loop."""

    def __init__(self, dim, heads, conv_name='local_conv'):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.conv_name = conv_name
        setattr(self, conv_name, nn.Conv2d(dim, dim, 3, padding=1, groups=dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, h, w):
        c = x.shape[-1]
        head_dim = c // self.heads
        q = self.q(x)
        k, v = self.kv(x).split(c, dim=-1)
        outs = []
        for i in range(self.heads):
            sl = slice(i * head_dim, (i + 1) * head_dim)
            logits = q[..., sl] @ k[..., sl].transpose(1, 2) * head_dim**-0.5
            outs.append(logits.softmax(-1) @ v[..., sl])
        attn_out = torch.cat(outs, dim=-1)
        conv = getattr(self, self.conv_name)
        local = image_to_tokens(conv(tokens_to_image(v, h, w)))
        return self.proj(attn_out + local)


class RefBlock(nn.Module):
    def __init__(self, dim, mlp_ratio, sam, sa_heads, layerscale, conv_name='local_conv'):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = RefSAM(dim) if sam else RefMSA(dim, sa_heads, conv_name)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = RefMlp(dim, int(dim * mlp_ratio))
        self.layerscale = layerscale
        if layerscale:
            self.gamma_1 = nn.Parameter(torch.full((dim,), 1e-4))
            self.gamma_2 = nn.Parameter(torch.full((dim,), 1e-4))

    def forward(self, x, h, w):
        g1 = self.gamma_1 if self.layerscale else 1.0
        g2 = self.gamma_2 if self.layerscale else 1.0
        x = x + g1 * self.attn(self.norm1(x), h, w)
        return x + g2 * self.mlp(self.norm2(x), h, w)


class RefSMT(nn.Module):
    """Reference SMT; ``forward`` returns the four normed stage maps, ``logits`` the classes.

    ``dense=True`` gives the layout of the official detection and segmentation backbones:
    ``attn.dw_conv`` for the MSA convolution, no layer scale and no head.
    """

    def __init__(self, arch='tiny', layerscale=False, num_classes=1000, in_channels=3, dense=False):
        super().__init__()
        assert not (dense and layerscale), 'the official dense backbones have no layer scale'
        conv_name = 'dw_conv' if dense else 'local_conv'
        cfg = REFERENCE_ARCHS[arch]
        dims, k = cfg['dims'], cfg['head_conv']
        stem = nn.Module()
        stem.conv = nn.Sequential(
            nn.Conv2d(in_channels, dims[0], k, 2, padding=k // 2, bias=False),
            nn.BatchNorm2d(dims[0]),
            nn.ReLU(),
            nn.Conv2d(dims[0], dims[0], 2, 2),
        )
        stem.norm = nn.LayerNorm(dims[0])
        self.patch_embed1 = stem
        for i in range(1, 4):
            embed = nn.Module()
            embed.proj = nn.Conv2d(dims[i - 1], dims[i], 3, 2, padding=1)
            embed.norm = nn.LayerNorm(dims[i])
            setattr(self, f'patch_embed{i + 1}', embed)
        sa_heads = (None, None, 8, 16)
        for i in range(4):
            blocks = []
            for j in range(cfg['depths'][i]):
                sam = i < 2 or (i == 2 and j % 2 == 0)
                blocks.append(
                    RefBlock(dims[i], cfg['mlp_ratios'][i], sam, sa_heads[i], layerscale, conv_name)
                )
            setattr(self, f'block{i + 1}', nn.ModuleList(blocks))
            setattr(self, f'norm{i + 1}', nn.LayerNorm(dims[i], eps=1e-6))
        if not dense:
            self.head = nn.Linear(dims[3], num_classes)

    def forward(self, x):
        outs = []
        for i in range(4):
            embed = getattr(self, f'patch_embed{i + 1}')
            x = embed.conv(x) if i == 0 else embed.proj(x)
            h, w = x.shape[-2:]
            x = embed.norm(image_to_tokens(x))
            for block in getattr(self, f'block{i + 1}'):
                x = block(x, h, w)
            x = getattr(self, f'norm{i + 1}')(x)
            outs.append(tokens_to_image(x, h, w))
            x = outs[-1]
        return tuple(outs)

    def logits(self, x):
        return self.head(self.forward(x)[-1].flatten(2).mean(-1))


def randomize_(model, generator=None):
    """Give every parameter and BN buffer random, well-scaled values (so that BN and layer scale
    are not identities and errors in any of them show up in the outputs)."""
    gen = generator or torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                base = 1.0 if name.endswith('weight') else 0.0
                if 'gamma' in name:
                    base = 0.5
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)
        for name, b in model.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(0.1 * torch.randn(b.shape, generator=gen))
            elif name.endswith('running_var'):
                b.copy_(1.0 + 0.2 * torch.rand(b.shape, generator=gen))
    return model


def to_official_layout(state_dict, arch, dense=True, prefix='backbone.'):
    """Rename an smt_mm state dict into the official layout, keeping the other keys.

    The map is the inverse of ``convert_official_smt`` on a reference model of ``arch``: each
    official key is matched to the smt_mm key the converter gives it (by tensor identity), so
    no key name is written by hand here.

    Args:
        state_dict (dict): smt_mm keys, the backbone's under ``prefix``.
        arch (str): The SMT arch of the backbone.
        dense (bool): The detection / segmentation layout (``attn.dw_conv``). Defaults to True.
        prefix (str): Where the backbone keys are. Defaults to ``'backbone.'``.

    Returns:
        dict: The same tensors under official keys.
    """
    from smt_mm.models.checkpoint import convert_official_smt

    with torch.device('meta'):  # only the key layout is needed
        official = RefSMT(arch, dense=dense).state_dict()
    by_tensor = {id(v): k for k, v in official.items()}
    inverse = {k: by_tensor[id(v)] for k, v in convert_official_smt(official).items()}
    return {
        prefix + inverse[key[len(prefix) :]] if key.startswith(prefix) else key: value
        for key, value in state_dict.items()
    }
