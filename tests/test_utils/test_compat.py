"""Every supported torch (2.1 to 2.14): the torch check at import and the version-dependent APIs.

Each helper of :mod:`smt_mm.utils.compat` is tested on the running torch, and its other branch
(the API of an older or a newer torch) is forced by hiding the newer API, so that both the
reference leg (torch 2.14) and the oldest leg (torch 2.1) run both branches where the running
torch allows it.
"""

import io
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import HistoryBuffer
from mmengine.runner import load_checkpoint
from torch import nn
from unsafe_pickle import EXECUTED, Payload, record

from smt_mm.deployment import export
from smt_mm.models.backbones.smt_ops import depthwise, dwconv_residual_act_linear
from smt_mm.models.checkpoint import MMENGINE_SAFE_GLOBALS, TRUST_ENV, UnsafeCheckpointError
from smt_mm.models.checkpoint.safe_load import _is_refused_global
from smt_mm.utils import StackVersionError, compat
from smt_mm.utils.compat import SUPPORTED_VERSIONS, check_stack

# --- the torch check of ``import smt_mm`` ------------------------------------------------------


def supported(**changes):
    return {**{name: low for name, (low, _) in SUPPORTED_VERSIONS.items()}, **changes}


@pytest.mark.parametrize('found', ['2.1.0', '2.1.2+cu121', '2.1.0a0+32f93b1', '2.14.1'])
def test_supported_torch_builds_pass(found):
    check_stack(supported(torch=found))


@pytest.mark.parametrize('found', ['2.0.1', '1.13.1+cu117', '2.15.0', '2.15.0.dev20270101'])
def test_unsupported_torch_names_version_range_and_fix(found):
    with pytest.raises(StackVersionError) as err:
        check_stack(supported(torch=found))
    message = str(err.value)
    assert f'torch: found {found}, supported >=2.1.0,<2.15.0' in message
    assert 'torchvision' in message and 'docs/install.md' in message


def test_missing_torch_and_mmcv_name_the_fix():
    with pytest.raises(StackVersionError) as err:
        check_stack(supported(torch=None, mmcv=None))
    message = str(err.value)
    assert 'torch: found nothing (not installed)' in message
    assert 'mim install "mmcv>=2.0.0,<2.2.0"' in message
    assert 'mmcv-lite' in message


def test_running_torch_is_in_the_supported_range():
    check_stack()
    assert f'torch {compat.installed_version("torch")}' in compat.stack_summary()


# --- torch.compile -----------------------------------------------------------------------------


def test_is_compiling_is_false_in_eager_and_true_under_torch_compile():
    assert compat.is_compiling() is False

    def branch(x):
        return x + 1 if compat.is_compiling() else x

    compiled = torch.compile(branch, backend='eager', fullgraph=True)
    assert compiled(torch.zeros(2)).tolist() == [1.0, 1.0]
    torch._dynamo.reset()


# --- autocast ----------------------------------------------------------------------------------


def test_autocast_dtype_on_the_running_torch():
    assert compat.autocast_dtype('cpu') is None
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert compat.autocast_dtype('cpu') is torch.bfloat16
        assert compat.autocast_dtype('cuda') is None


def test_autocast_dtype_with_the_per_device_functions_of_torch_before_2_4(monkeypatch):
    if not hasattr(torch, 'is_autocast_cpu_enabled'):
        pytest.skip('this torch no longer has the per-device autocast functions')
    monkeypatch.setattr(compat, '_AUTOCAST_BY_DEVICE', False)
    assert compat.autocast_dtype('cpu') is None
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert compat.autocast_dtype('cpu') is torch.bfloat16
        assert compat.autocast_dtype('cuda') is None
    # Both backbone paths under autocast: tests/test_models/test_backbones/test_smt.py.


# --- GradScaler --------------------------------------------------------------------------------


def _one_step(scaler):
    param = nn.Parameter(torch.ones(2))
    optimizer = torch.optim.SGD([param], lr=0.5)
    loss = (param * 2).sum()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return param.detach()


def test_disabled_grad_scaler_is_a_plain_step():
    assert _one_step(compat.grad_scaler('cpu', enabled=False)).tolist() == [0.0, 0.0]


def test_grad_scaler_of_torch_before_2_3(monkeypatch):
    monkeypatch.delattr(torch.amp, 'GradScaler', raising=False)
    scaler = compat.grad_scaler('cuda', enabled=False)
    assert isinstance(scaler, torch.cuda.amp.GradScaler)
    assert _one_step(scaler).tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match=r"CUDA only.*'cpu'.*bf16"):
        compat.grad_scaler('cpu', enabled=True)


# --- ONNX exporter -----------------------------------------------------------------------------


def test_dynamo_exporter_check_reads_the_export_signature(monkeypatch):
    has_all = all(
        name in torch.onnx.export.__code__.co_varnames for name in compat.DYNAMO_EXPORT_ARGS
    )
    assert (compat.onnx_dynamo_exporter() is None) == (has_all and hasattr(torch, 'export'))

    def old_export(model, args, f, export_params=True, opset_version=None, dynamic_axes=None):
        """torch 2.1's signature, shortened."""

    monkeypatch.setattr(torch.onnx, 'export', old_export)
    reason = compat.onnx_dynamo_exporter()
    assert reason is not None
    assert 'dynamo=, external_data=, dynamic_shapes=' in reason and 'torch >= 2.5' in reason


def test_exporter_choice_says_why_it_is_not_the_one_asked(monkeypatch):
    available = compat.onnx_dynamo_exporter() is None
    assert export.choose_exporter('auto') == ('dynamo' if available else 'torchscript', None)
    assert export.choose_exporter('torchscript') == ('torchscript', None)
    monkeypatch.setattr(export, 'onnx_dynamo_exporter', lambda: 'torch 2.1.2 lacks it')
    assert export.choose_exporter('auto') == ('torchscript', None)
    exporter, note = export.choose_exporter('dynamo')
    assert exporter == 'torchscript'
    assert note == 'torch 2.1.2 lacks it: exporting with the TorchScript exporter instead'
    with pytest.raises(export.ExportError, match='torch 2.1.2 lacks it.*--what backbone'):
        export.check_request('segmentation', 'model', False, 'auto')
    monkeypatch.setattr(export, 'onnx_dynamo_exporter', lambda: None)
    assert export.choose_exporter('dynamo') == ('dynamo', None)
    with pytest.raises(export.ExportError, match='use --exporter dynamo'):
        export.check_request('segmentation', 'model', False, 'torchscript')


def test_torchscript_opset_is_capped_to_what_the_exporter_writes(monkeypatch):
    newest = compat.onnx_torchscript_max_opset()
    assert export._check_opset('torchscript', None) == min(export.DEFAULT_OPSET, newest)
    monkeypatch.setattr(export, 'onnx_torchscript_max_opset', lambda: 17)  # torch 2.1's
    assert export._check_opset('torchscript', None) == 17
    assert export._check_opset('dynamo', None) == export.DEFAULT_OPSET
    assert export._check_opset('torchscript', 16) == 16
    with pytest.raises(export.ExportError, match='opsets up to 17: give --opset 17'):
        export._check_opset('torchscript', 18)


# --- FLOP counting: torch.jit.trace of the fused path ------------------------------------------


class FusedFFNTail(nn.Module):
    """The fused path's depthwise convolutions with kernels built at run time."""

    def __init__(self):
        super().__init__()
        self.dwconv = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.fc = nn.Linear(4, 2)
        self.large = nn.Parameter(torch.randn(4, 1, 7, 7))

    def forward(self, h):
        kernel = self.large * 2  # a kernel computed in the graph, as SAM's interleaved one
        y = depthwise(h.permute(0, 3, 1, 2), kernel, None, 3)
        return dwconv_residual_act_linear(y.permute(0, 2, 3, 1), self.dwconv, nn.GELU(), self.fc)


def test_fused_depthwise_traces_with_python_int_padding():
    model = FusedFFNTail().eval()
    h = torch.randn(1, 9, 11, 4)
    with torch.no_grad():
        traced = torch.jit.trace(model, h)
        assert torch.allclose(traced(h), model(h))
        expected = F.conv2d(h.permute(0, 3, 1, 2), model.large * 2, padding=3, groups=4)
        assert torch.allclose(depthwise(h.permute(0, 3, 1, 2), model.large * 2, None), expected)


# --- weights-only loading: torch's mechanism and the allow-list unpickler ----------------------


def mmengine_like_checkpoint() -> dict:
    losses = HistoryBuffer()
    for step in range(3):
        losses.update(np.float64(step) + 0.5)
    return {
        'state_dict': OrderedDict(w=torch.randn(2, 2), b=torch.ones(3, dtype=torch.bfloat16)),
        'meta': {'dtype': torch.float16, 'device': torch.device('cpu'), 'ids': {1}, 'raw': b'\x00'},
        'message_hub': {
            'log_scalars': {'train/loss': losses},
            'runtime_info': {'lr': np.float32(1)},
        },
        'param': nn.Parameter(torch.ones(2)),
    }


@pytest.fixture(params=['torch', 'allow-list'])
def mechanism(request, monkeypatch):
    """Load with torch's ``safe_globals`` (torch >= 2.5) and with smt_mm's own unpickler."""
    has_scope = hasattr(torch.serialization, 'safe_globals')
    if request.param == 'torch' and not has_scope:
        pytest.skip(f'torch {torch.__version__} has no torch.serialization.safe_globals (2.5+)')
    if request.param == 'allow-list':
        monkeypatch.delattr(torch.serialization, 'safe_globals', raising=False)
    return request.param


@pytest.mark.parametrize('zipfile_format', [True, False])
def test_mmengine_checkpoint_loads_the_same_way(tmp_path, mechanism, zipfile_format):
    saved = mmengine_like_checkpoint()
    path = str(tmp_path / 'ckpt.pth')
    torch.save(saved, path, _use_new_zipfile_serialization=zipfile_format)
    loaded = compat.load_weights_only(path, 'cpu', MMENGINE_SAFE_GLOBALS)
    assert torch.equal(loaded['state_dict']['w'], saved['state_dict']['w'])
    assert loaded['state_dict']['b'].dtype is torch.bfloat16
    assert loaded['meta'] == saved['meta']
    assert isinstance(loaded['param'], nn.Parameter)
    buffer = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.data[0].tolist() == [0.5, 1.5, 2.5]
    assert buffer.mean() == 1.5  # its statistics methods came back callable


def test_code_running_pickle_is_refused_with_its_name(tmp_path, mechanism, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path = str(tmp_path / 'malicious.pth')
    torch.save({'state_dict': {}, 'extra': Payload()}, path)
    EXECUTED.clear()
    with pytest.raises(pickle.UnpicklingError) as err:
        compat.load_weights_only(path, 'cpu', MMENGINE_SAFE_GLOBALS)
    assert _is_refused_global(err.value) == f'{record.__module__}.record'
    with pytest.raises(UnsafeCheckpointError, match=rf'{record.__module__}\.record.*{TRUST_ENV}'):
        load_checkpoint(nn.Linear(2, 1), path, map_location='cpu')
    assert EXECUTED == []


def test_refusal_messages_of_every_torch_are_recognised():
    torch_21 = (
        'Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` '
        'will likely succeed, but it can result in arbitrary code execution.Do it only if you '
        'get the file from a trusted source. WeightsUnpickler error: Unsupported class '
        'posix.system'
    )
    torch_26 = 'Unsupported global: GLOBAL posix.system was not an allowed global by default.'
    for message in (torch_21, torch_26):
        assert _is_refused_global(pickle.UnpicklingError(message)) == 'posix.system'
    assert _is_refused_global(pickle.UnpicklingError('unpickling stack underflow')) is None


class Reduce:
    """Pickles as ``func(*args)`` followed by the optional state and dict items."""

    def __init__(self, func, args, state=None, dictitems=None):
        self.parts = (func, args, state, None, dictitems)

    def __call__(self):
        """Never called: only pickled."""

    def __reduce__(self):
        return self.parts


def allow_list_load(obj):
    data = pickle.dumps(obj, protocol=2)
    module = compat._allow_list_pickle_module(MMENGINE_SAFE_GLOBALS)
    return module.Unpickler(io.BytesIO(data)).load()


@pytest.mark.parametrize(
    ('crafted', 'refusal'),
    [
        # getattr is allowed (HistoryBuffer pickles its methods with it); what it returns is not
        (Reduce(Reduce(getattr, (HistoryBuffer, 'min')), ([],)), 'refusing to call'),
        (Reduce(getattr, (HistoryBuffer, 'min'), state={'a': 1}), 'refusing to set the state'),
        (Reduce(getattr, (HistoryBuffer, '__dict__'), dictitems=iter([('a', 1)])), 'add items'),
        (Reduce(os.getcwd, ()), 'GLOBAL posix.getcwd was not an allowed global'),
    ],
)
def test_allow_list_unpickler_calls_and_builds_nothing_else(crafted, refusal):
    with pytest.raises(pickle.UnpicklingError, match=refusal):
        allow_list_load(crafted)


def test_allow_list_unpickler_refuses_protocol_0_instantiation():
    data = b'(i__builtin__\nset\n(lp0\ntp1\nRp2\n.'  # INST builtins.set: an allowed class
    module = compat._allow_list_pickle_module([])
    with pytest.raises(pickle.UnpicklingError, match='protocol 0/1'):
        module.Unpickler(io.BytesIO(data)).load()
