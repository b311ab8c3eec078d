"""Tests of the SMT backbone: contract, parameter counts, loading, equivalence."""

import math
import warnings

import pytest
import torch
import torch.nn as nn
from smt_reference import RefSMT, randomize_
from torch.nn.modules.batchnorm import _BatchNorm

from smt_mm.models.backbones import SMT, smt_ops
from smt_mm.models.backbones.smt import GlobalAttention, ScaleAwareModulation
from smt_mm.models.checkpoint import CheckpointMismatchError, convert_official_smt
from smt_mm.models.utils import check_input

#: Official parameter counts (classification models, 1000-class head included).
OFFICIAL_PARAMS_M = {
    ('tiny', False): 11.507,
    ('small', False): 22.551,
    ('base', False): 32.037,
    ('large', True): 80.620,
    ('large', False): 80.590,
}
#: A small custom arch that keeps the slow tests (checkpointing, bf16) fast.
MINI = dict(embed_dims=(16, 32, 48, 64), depths=(1, 2, 2, 1), mlp_ratios=(2, 2, 2, 2), head_conv=3)
MINI_ARCH = dict(MINI, sa_num_heads=(2, 4))
CHANNELS = {'tiny': (64, 128, 256, 512), 'large': (96, 192, 384, 768)}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def stage_sizes(h, w):
    """Expected feature sizes: stem conv (ceil), 2x2 conv (floor), then 3 ceil halvings."""
    h, w = math.ceil(h / 2) // 2, math.ceil(w / 2) // 2
    sizes = [(h, w)]
    for _ in range(3):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        sizes.append((h, w))
    return sizes


def matched_pair(arch, layerscale=False, seed=0, fused=True):
    """A reference model with random weights and an SMT with the same weights, both in eval."""
    torch.manual_seed(seed)
    ref = randomize_(RefSMT(arch, layerscale=layerscale), torch.Generator().manual_seed(seed))
    model = SMT(arch=arch, use_layerscale=layerscale, fused=fused)
    model.load_state_dict(convert_official_smt(ref.state_dict()), strict=True)
    return ref.eval(), model.eval()


@pytest.mark.parametrize('arch,layerscale', list(OFFICIAL_PARAMS_M))
def test_parameter_counts_match_official(arch, layerscale):
    model = SMT(arch=arch, use_layerscale=layerscale)
    head = model.embed_dims[-1] * 1000 + 1000
    total = n_params(model) + head
    assert round(total / 1e6, 3) == OFFICIAL_PARAMS_M[(arch, layerscale)]
    assert total == n_params(RefSMT(arch, layerscale=layerscale))


def test_arch_aliases_and_layerscale_default():
    assert SMT('t').arch_settings == SMT('tiny').arch_settings
    assert SMT('S').depths == (3, 4, 18, 2)
    assert SMT('l', use_layerscale=None).use_layerscale
    assert not SMT('tiny').use_layerscale
    model = SMT(MINI_ARCH)
    outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [16, 32, 48, 64]
    assert isinstance(model.stages[2][1].attn, GlobalAttention)
    assert isinstance(model.stages[2][0].attn, ScaleAwareModulation)
    assert model.stages[2][1].attn.num_heads == 2
    assert model.stages[3][0].attn.num_heads == 4
    assert SMT(MINI).stages[3][0].attn.num_heads == 16


@pytest.mark.parametrize(
    'arch,match',
    [
        ('huge', r"Unknown SMT arch 'huge'; choose one of \['b', 'base', 'l', 'large'"),
        (dict(embed_dims=(64,) * 4, depths=(1,) * 4), r"misses the keys \['mlp_ratios', 'head"),
        (
            dict(embed_dims=(64,) * 4, depths=(1,) * 4, mlp_ratios=(4,) * 4, head_conv=3, x=1),
            r"Unknown keys \['x'\]",
        ),
        (
            dict(embed_dims=(64, 128, 256), depths=(1,) * 4, mlp_ratios=(4,) * 4, head_conv=3),
            r"arch\['embed_dims'\] needs 4 values",
        ),
        (
            dict(embed_dims=(66, 128, 256, 512), depths=(1,) * 4, mlp_ratios=(4,) * 4, head_conv=3),
            r'embed_dims\[0\]=66 .* divisible by ca_num_heads=4',
        ),
        (
            dict(embed_dims=(64, 128, 260, 512), depths=(1,) * 4, mlp_ratios=(4,) * 4, head_conv=3),
            r'embed_dims\[2\]=260 .* divisible by its sa_num_heads=8',
        ),
        (
            dict(embed_dims=(64,) * 4, depths=(1,) * 4, mlp_ratios=(4,) * 4, head_conv=4),
            r"head_conv'\] must be odd",
        ),
    ],
)
def test_bad_arch_raises_clear_error(arch, match):
    with pytest.raises(ValueError, match=match):
        SMT(arch)


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match='arch must be a str or a dict'):
        SMT(3)
    with pytest.raises(ValueError, match='out_indices entry 4 is out of range'):
        SMT(out_indices=(0, 4))
    with pytest.raises(ValueError, match="Unsupported out_type 'cls_token'"):
        SMT(out_type='cls_token')
    with pytest.raises(ValueError, match='frozen_stages must be in'):
        SMT(frozen_stages=4)


@pytest.mark.parametrize('size', [(64, 64), (113, 157)])
def test_output_shapes_for_all_indices(size):
    model = SMT('tiny').eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        outs = model(x)
    assert len(outs) == 4
    for out, channels, hw in zip(outs, CHANNELS['tiny'], stage_sizes(*size), strict=False):
        assert out.shape == (2, channels, *hw)
        assert out.is_contiguous()
    selected_model = SMT('tiny', out_indices=(-1, 1, -4)).eval()
    selected_model.load_state_dict(model.state_dict())
    with torch.no_grad():
        selected = selected_model(x)
    assert [o.shape for o in selected] == [outs[3].shape, outs[1].shape, outs[0].shape]
    torch.testing.assert_close(selected[0], outs[3])
    assert SMT('tiny', out_indices=2).out_indices == (2,)


def test_avg_featmap_is_token_mean_of_normed_output():
    model = SMT('tiny', out_indices=(1, 3)).eval()
    pooled_model = SMT('tiny', out_indices=(1, 3), out_type='avg_featmap').eval()
    pooled_model.load_state_dict(model.state_dict())
    x = torch.rand(2, 3, 96, 80)
    with torch.no_grad():
        maps, pooled = model(x), pooled_model(x)
    assert [p.shape for p in pooled] == [(2, 128), (2, 512)]
    for m, p in zip(maps, pooled, strict=False):
        torch.testing.assert_close(p, m.mean(dim=(2, 3)))


def test_large_channels():
    model = SMT('large', out_indices=(0, 3)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [96, 768]


def test_frozen_stages_and_norm_eval():
    model = SMT('tiny', frozen_stages=1, norm_eval=True)
    model.train()
    for i in range(4):
        modules = (model.patch_embeds[i], model.stages[i], model.norms[i])
        params = [p for m in modules for p in m.parameters()]
        frozen = i <= 1
        assert all(p.requires_grad != frozen for p in params)
        others = [m for mod in modules for m in mod.modules() if not isinstance(m, _BatchNorm)]
        assert all(m.training != frozen for m in others)
        bns = [m for mod in modules for m in mod.modules() if isinstance(m, _BatchNorm)]
        if i < 3:
            assert bns and not any(bn.training for bn in bns)
    layernorms = [m for m in model.stages[2].modules() if isinstance(m, nn.LayerNorm)]
    assert all(ln.training for ln in layernorms)
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_bn_trains_without_norm_eval():
    model = SMT('tiny', frozen_stages=0).train()
    assert not model.patch_embeds[0].bn.training
    assert model.stages[1][0].attn.bn.training


def test_with_cp_gives_same_outputs_and_gradients():
    torch.manual_seed(0)
    model = SMT(MINI_ARCH).train()
    model_cp = SMT(MINI_ARCH, with_cp=True).train()
    model_cp.load_state_dict(model.state_dict())
    x = torch.rand(2, 3, 32, 48)
    outs = model(x)
    outs_cp = model_cp(x)
    for a, b in zip(outs, outs_cp, strict=False):
        torch.testing.assert_close(a, b)
    sum(o.sum() for o in outs).backward()
    sum(o.sum() for o in outs_cp).backward()
    grads = dict(model.named_parameters())
    for name, p in model_cp.named_parameters():
        torch.testing.assert_close(p.grad, grads[name].grad, msg=name)


def test_every_parameter_gets_a_finite_gradient():
    model = SMT('tiny', drop_path_rate=0.1, use_layerscale=True).train()
    outs = model(torch.rand(2, 3, 64, 64))
    assert all(torch.isfinite(o).all() for o in outs)
    sum(o.square().mean() for o in outs).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_drop_path_schedule_is_linear():
    model = SMT('tiny', drop_path_rate=0.26)
    blocks = [b for stage in model.stages for b in stage]
    rates = [getattr(b.drop_path, 'drop_prob', 0.0) for b in blocks]
    expected = torch.linspace(0, 0.26, len(blocks)).tolist()
    assert rates == pytest.approx(expected)
    assert isinstance(blocks[0].drop_path, nn.Identity)


def test_default_init_follows_official_rules():
    torch.manual_seed(0)
    model = SMT('tiny')
    model.init_weights()
    fc = model.stages[2][0].ffn.fc1
    assert fc.weight.std().item() == pytest.approx(0.02, rel=0.1)
    assert torch.all(fc.bias == 0)
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)
    dw = model.stages[2][0].ffn.dwconv  # 1024 channels, 3x3, groups=1024: fan_out = 9
    assert dw.weight.std().item() == pytest.approx(math.sqrt(2 / 9), rel=0.05)
    assert torch.all(dw.bias == 0)
    proj0 = model.stages[1][0].attn.proj0  # 128 -> 256, groups 32: fan_out = 256 / 32
    assert proj0.weight.std().item() == pytest.approx(math.sqrt(2 / 8), rel=0.1)


@pytest.mark.parametrize('fused', [True, False], ids=['fused', 'plain'])
@pytest.mark.parametrize('arch', ['tiny', 'small', 'base', 'large'])
def test_equivalence_with_reference(arch, fused):
    layerscale = arch == 'large'
    ref, model = matched_pair(arch, layerscale=layerscale, fused=fused)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        expected, outs = ref(x), model(x)
    for e, o in zip(expected, outs, strict=False):
        assert o.shape == e.shape
        assert (o - e).abs().max().item() <= 1e-4


def test_equivalence_in_train_mode_odd_size_and_logits():
    ref, model = matched_pair('tiny', layerscale=True, seed=1)
    x = torch.randn(2, 3, 113, 157)
    with torch.no_grad():
        expected, outs = ref.train()(x), model.train()(x)
    for e, o in zip(expected, outs, strict=False):
        assert (o - e).abs().max().item() <= 1e-4
    classifier = SMT('tiny', use_layerscale=True, out_indices=3, out_type='avg_featmap').eval()
    converted = convert_official_smt(ref.state_dict(), keep_head=True)
    classifier.load_state_dict(
        {k.removeprefix('backbone.'): v for k, v in converted.items() if k.startswith('backbone.')}
    )
    head = nn.Linear(512, 1000)
    head.load_state_dict({'weight': converted['head.fc.weight'], 'bias': converted['head.fc.bias']})
    ref.eval()
    with torch.no_grad():
        logits = head(classifier(x)[0])
        expected_logits = ref.logits(x)
    assert (logits - expected_logits).abs().max().item() <= 1e-4


@pytest.mark.parametrize('fused', [True, False], ids=['fused', 'plain'])
@pytest.mark.parametrize('norm_eval', [False, True])
def test_gradients_match_reference(norm_eval, fused):
    """Both paths (fused: merged kernels, folded BN, recomputed GELU) have exact gradients."""
    ref, model = matched_pair('tiny', layerscale=True, seed=2, fused=fused)
    model.norm_eval = norm_eval
    ref.train(), model.train()
    if norm_eval:
        for m in ref.modules():
            if isinstance(m, _BatchNorm):
                m.eval()
    x = torch.randn(2, 3, 64, 96)
    weights = [torch.randn(o.shape) for o in model(x)]
    sum((o * w).sum() for o, w in zip(ref(x), weights, strict=False)).backward()
    sum((o * w).sum() for o, w in zip(model(x), weights, strict=False)).backward()
    ref_params = {n: p for n, p in ref.named_parameters() if not n.startswith('head')}
    params = dict(model.named_parameters())
    # Some gradients are exactly 0 in theory (a conv bias before train-mode BN), so the
    # tolerance is relative to the largest gradient of the model.
    scale = max(p.grad.abs().max().item() for p in ref_params.values())
    for (name, p), key in zip(ref_params.items(), convert_official_smt(ref_params), strict=False):
        torch.testing.assert_close(params[key].grad, p.grad, atol=1e-6 * scale, rtol=1e-4, msg=name)


@pytest.mark.parametrize('fused', [True, False], ids=['fused', 'plain'])
def test_bf16_autocast_forward_and_backward(fused):
    model = SMT(MINI_ARCH, use_layerscale=True, fused=fused).train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        outs = model(torch.rand(2, 3, 64, 64))
    assert all(torch.isfinite(o).all() for o in outs)
    sum(o.float().mean() for o in outs).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == torch.float32, name
        assert torch.isfinite(p.grad).all(), name


def _outputs_and_grads(model, x):
    outs = model(x)
    weights = [torch.linspace(-1, 1, o.numel()).view_as(o) for o in outs]
    sum((o * w).sum() for o, w in zip(outs, weights, strict=True)).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return [o.detach() for o in outs], grads


@pytest.mark.parametrize('train', [True, False], ids=['train', 'eval'])
def test_fused_and_plain_paths_agree_on_outputs_and_gradients(train):
    torch.manual_seed(0)
    model = SMT(MINI_ARCH, use_layerscale=True, layer_scale_init_value=0.5).train(train)
    x = torch.randn(2, 3, 61, 83)
    fused_outs, fused_grads = _outputs_and_grads(model, x)
    model.fused = False
    plain_outs, plain_grads = _outputs_and_grads(model, x)
    for f, p in zip(fused_outs, plain_outs, strict=True):
        torch.testing.assert_close(f, p, atol=1e-5, rtol=1e-5)
    scale = max(g.abs().max().item() for g in plain_grads.values())
    for name, grad in plain_grads.items():
        torch.testing.assert_close(fused_grads[name], grad, atol=1e-6 * scale, rtol=1e-4, msg=name)


def test_fused_switch_reaches_every_module_and_plain_path_uses_no_fused_op(monkeypatch):
    model = SMT(MINI_ARCH, fused=False)
    switched = [m for m in model.modules() if m is not model and hasattr(m, 'fused')]
    assert {type(m).__name__ for m in switched} == {'SMTStem', 'ScaleAwareModulation', 'DWConvFFN'}
    assert not model.fused and not any(m.fused for m in switched)

    def refuse(*args, **kwargs):
        raise AssertionError('the plain path called a fused operation')

    for name in ('conv_bn', 'mhmc_interleaved', 'dwconv_residual_act_linear', 'act_linear'):
        monkeypatch.setattr(smt_ops, name, refuse)
    outs = model.train()(torch.rand(1, 3, 64, 64))
    sum(o.sum() for o in outs).backward()
    model.eval()(torch.rand(1, 3, 64, 64))
    model.fused = True
    assert all(m.fused for m in switched)
    with pytest.raises(AssertionError, match='plain path called'):  # the switch is live
        model(torch.rand(1, 3, 64, 64))
    with pytest.raises(TypeError, match="fused must be True, False or 'auto'"):
        model.fused = 'fast'


def test_auto_is_resolved_once_by_the_documented_rule(monkeypatch):
    """'auto' is plain where CUDA is available, fused elsewhere; moving never re-picks."""
    model = SMT(MINI_ARCH)  # fused='auto', on a machine without CUDA: fused
    assert model.fused_mode == 'auto'
    assert model.fused is SMT.resolve_fused('auto') is (not torch.cuda.is_available())
    assert f"fused={model.fused} (from 'auto')" in repr(model)
    model.to('meta')  # any device: the path stays as it was resolved
    assert model.fused is SMT.resolve_fused('auto')
    assert model.stages[0][0].attn.fused is model.fused
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert not SMT.resolve_fused('auto') and not SMT(MINI_ARCH).fused
    assert SMT(MINI_ARCH, fused=True).to('meta').fused  # an explicit choice stays
    model = SMT(MINI_ARCH, fused=False)
    assert not model.float().fused and model.fused_mode is False
    model.fused = 'auto'  # resolved at once when set (CUDA 'available' here)
    assert model.fused is False and model.fused_mode == 'auto'


def _computed_conv_kernels(model, x):
    """Convolutions of the traced model whose kernel is computed at run time, not a weight."""
    with torch.no_grad():
        graph = torch.jit.trace(model, x, check_trace=False).inlined_graph
    convs = [n for n in graph.nodes() if n.kind() == 'aten::_convolution']
    assert convs
    return [n for n in convs if n.inputsAt(1).node().kind() != 'prim::GetAttr']


def test_plain_path_convolves_with_stored_weights_only():
    """What TorchScript-based ONNX export needs: the fused path builds kernels at run time."""
    model = SMT(MINI_ARCH, fused=False).eval()
    x = torch.rand(1, 3, 64, 96)
    assert _computed_conv_kernels(model, x) == []
    model.fused = True
    assert len(_computed_conv_kernels(model, x)) > 0


def test_pretrained_official_file_and_prefixed_checkpoint(tmp_path):
    ref, expected_model = matched_pair('tiny', layerscale=True)
    official = tmp_path / 'smt_tiny.pth'
    torch.save({'model': ref.state_dict()}, official)
    model = SMT(
        'tiny', use_layerscale=True, init_cfg=dict(type='Pretrained', checkpoint=str(official))
    )
    model.init_weights()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = ref(x)
        outs = model.eval()(x)
    for e, o in zip(expected, outs, strict=False):
        assert (o - e).abs().max().item() <= 1e-4

    detector = {'backbone.' + k: v for k, v in expected_model.state_dict().items()}
    detector['neck.lateral.weight'] = torch.zeros(1)
    mmdet_file = tmp_path / 'mask-rcnn_smt.pth'
    torch.save({'state_dict': detector, 'meta': {'epoch': 12}}, mmdet_file)
    cfg = dict(type='Pretrained', checkpoint=str(mmdet_file), prefix='backbone.')
    model = SMT('tiny', use_layerscale=True, init_cfg=cfg)
    model.init_weights()
    for name, tensor in expected_model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], tensor, msg=name)

    model = SMT('tiny', use_layerscale=True, init_cfg=dict(cfg, prefix=None))
    with pytest.raises(KeyError, match=r"set prefix='backbone.'"):
        model.init_weights()


def test_pretrained_loading_is_strict_and_names_keys(tmp_path):
    ref = RefSMT('tiny', layerscale=True)
    path = tmp_path / 'smt_tiny.pth'
    torch.save({'model': ref.state_dict()}, path)
    model = SMT(
        'tiny', use_layerscale=False, init_cfg=dict(type='Pretrained', checkpoint=str(path))
    )
    with pytest.raises(KeyError) as err:
        model.init_weights()
    assert 'unexpected keys' in str(err.value)
    assert 'stages.0.0.gamma1' in str(err.value)

    state = ref.state_dict()
    del state['block2.1.attn.proj0.weight']
    torch.save(state, path)
    model = SMT('tiny', use_layerscale=True, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(KeyError, match=r"missing keys: \['stages.1.1.attn.proj0.weight'\]"):
        model.init_weights()

    small = SMT(MINI_ARCH, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(CheckpointMismatchError, match='shape mismatches') as err:
        small.init_weights()  # shapes are checked before anything is loaded
    assert 'patch_embeds.0.conv1.weight: checkpoint (64, 3, 3, 3), model (16, 3, 3, 3)' in str(
        err.value
    )


def test_forward_never_reads_a_tensor_back_to_python(monkeypatch):
    """No host-device synchronisation in forward: nothing turns a tensor into a Python value."""
    model = SMT(MINI_ARCH)
    x = torch.rand(2, 3, 35, 47)
    x[0, 0, 0, 0] = float('nan')  # not scanned unless check_finite=True

    def refuse(*args, **kwargs):
        raise AssertionError('forward read a tensor value back to Python')

    for name in ('__bool__', 'item', 'tolist', '__int__', '__float__', '__index__'):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    for fused in (True, False):
        model.fused = fused
        with torch.no_grad():
            assert len(model.eval()(x)) == 4
        outs = model.train()(x.nan_to_num())
        sum(o.sum() for o in outs).backward()  # the custom backward passes read nothing either
    model.check_finite = True
    with pytest.raises(AssertionError, match='read a tensor value back'):
        model(x)


def test_input_checks_raise_for_small_and_warn_for_non_finite_images():
    image = torch.zeros(1, 3, 32, 32)
    image[0, 1, 3, :3] = float('nan')
    with pytest.warns(UserWarning, match='SMT input holds 3 NaN or infinite values of 3072'):
        check_input(image)
    with pytest.warns(UserWarning, match='3 NaN or infinite values'):
        SMT(MINI_ARCH, check_finite=True)(image)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        check_input(torch.zeros(1, 3, 3, 3))
        SMT(MINI_ARCH)(image)  # off by default
    with pytest.raises(ValueError, match='at least 3x3 pixels.*got 2x5'):
        check_input(torch.zeros(1, 3, 2, 5))


def test_arch_zoo_rows_name_their_settings():
    for name, row in SMT.arch_zoo.items():
        assert set(row) >= set(SMT._required_keys), name
        assert set(row) <= set(SMT._required_keys) | set(SMT._arch_defaults), name
        assert SMT.parse_arch(dict(row)) == SMT.parse_arch(name)


def test_missing_pretrained_file_names_path_and_config_key(tmp_path):
    missing = str(tmp_path / 'nope' / 'smt_base.pth')
    model = SMT('tiny', init_cfg=dict(type='Pretrained', checkpoint=missing))
    with pytest.raises(FileNotFoundError) as err:
        model.init_weights()
    assert missing in str(err.value)
    assert 'model.backbone.init_cfg.checkpoint' in str(err.value)


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpretrain'])
def test_builds_from_every_toolbox_registry(scope):
    registry = pytest.importorskip(f'{scope}.registry')
    model = registry.MODELS.build(dict(type='SMT', arch='tiny', out_indices=(1, 3)))
    assert isinstance(model, SMT)
    assert model.out_indices == (1, 3)


@pytest.mark.slow
def test_torch_compile_traces_without_graph_breaks():
    ref, model = matched_pair('tiny')
    compiled = torch.compile(model, backend='aot_eager', fullgraph=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for e, o in zip(ref(x), compiled(x), strict=False):
            assert (o - e).abs().max().item() <= 1e-4


@pytest.mark.slow
def test_torch_compile_inductor_matches_eager():
    torch.manual_seed(0)
    model = SMT(MINI_ARCH).train()
    compiled = torch.compile(model)
    x = torch.randn(2, 3, 64, 64)
    eager = model(x)
    outs = compiled(x)
    for e, o in zip(eager, outs, strict=False):
        assert (o - e).abs().max().item() <= 1e-4
    sum(o.sum() for o in outs).backward()
    assert all(p.grad is not None for p in model.parameters())
