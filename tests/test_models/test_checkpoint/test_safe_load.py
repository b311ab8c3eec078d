"""Safe checkpoint loading: mmengine runs resume on torch >= 2.6, foreign pickles are refused."""

import os
import os.path as osp
import pickle

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch import nn
from unsafe_pickle import EXECUTED, Payload, record

from smt_mm.models.checkpoint import (
    TRUST_ENV,
    InvalidCheckpointError,
    UnsafeCheckpointError,
    safe_torch_load,
    trust_checkpoint,
)


class ToyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, labels=None, mode='tensor'):
        preds = self.linear(torch.stack(inputs) if isinstance(inputs, list) else inputs)
        if mode == 'loss':
            return dict(loss=((preds.squeeze(-1) - labels) ** 2).mean())
        return preds


class ToyDataset(torch.utils.data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, idx):
        x = torch.tensor([float(idx), 1.0])
        return dict(inputs=x, labels=2 * x[0] - 1)


def make_runner(work_dir, max_iters, resume=False, load_from=None):
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2,
            collate_fn=dict(type='default_collate'),
        ),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
        resume=resume,
        load_from=load_from,
        default_scope='mmengine',
        experiment_name=f'toy_{max_iters}_{resume}',
    )


def test_runner_resumes_with_weights_only_loading(tmp_path):
    first = make_runner(tmp_path, max_iters=2)
    first.train()
    ckpt = osp.join(tmp_path, 'iter_2.pth')
    assert osp.isfile(ckpt)
    # What mmengine 0.10.7 alone does on torch >= 2.6 (mmengine issue #1655).
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(ckpt, weights_only=True)

    second = make_runner(tmp_path, max_iters=4, resume=True, load_from=ckpt)
    second.train()
    assert second.iter == 4
    # The loss history (a HistoryBuffer) of iterations 1-2 came back from the checkpoint.
    losses, _ = second.message_hub.get_scalar('train/loss').data
    assert len(losses) == 4
    saved = safe_torch_load(ckpt)
    assert saved['meta']['iter'] == 2
    resumed = safe_torch_load(osp.join(tmp_path, 'iter_4.pth'))
    assert resumed['meta']['iter'] == 4
    assert 'train/loss' in resumed['message_hub']['log_scalars']


def test_load_checkpoint_goes_through_safe_loader(tmp_path):
    model = ToyModel()
    path = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {'note': 'plain data'}}, path)
    fresh = ToyModel()
    load_checkpoint(fresh, path, map_location='cpu', strict=True)
    assert torch.equal(fresh.linear.weight, model.linear.weight)


def test_foreign_global_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    path = str(tmp_path / 'malicious.pth')
    torch.save({'state_dict': {}, 'extra': Payload()}, path)
    EXECUTED.clear()
    model = ToyModel()
    with pytest.raises(UnsafeCheckpointError) as err:
        load_checkpoint(model, path, map_location='cpu')
    message = str(err.value)
    assert f'{record.__module__}.record' in message
    assert TRUST_ENV in message
    assert 'trust_checkpoint' in message
    assert EXECUTED == []


def test_trusted_file_opt_in_is_per_file(tmp_path, monkeypatch):
    trusted = str(tmp_path / 'trusted.pth')
    other = str(tmp_path / 'other.pth')
    for path in (trusted, other):
        torch.save({'extra': Payload()}, path)
    EXECUTED.clear()
    monkeypatch.setenv(TRUST_ENV, trusted)
    assert safe_torch_load(trusted)['extra'] == 'payload ran'
    with pytest.raises(UnsafeCheckpointError):
        safe_torch_load(other)
    monkeypatch.delenv(TRUST_ENV)
    trust_checkpoint(other)
    assert safe_torch_load(other)['extra'] == 'payload ran'
    assert EXECUTED == ['payload ran', 'payload ran']


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        safe_torch_load(str(tmp_path / 'nowhere.pth'))


class SystemCall:
    """Pickles as ``os.system(...)``: torch 2.14 refuses it with another wording."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}',)


def test_blocked_module_global_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    marker = tmp_path / 'ran'
    path = str(tmp_path / 'attack.pth')
    torch.save({'state_dict': {}, 'extra': SystemCall(marker)}, path)
    with pytest.raises(UnsafeCheckpointError) as err:
        safe_torch_load(path)
    message = str(err.value)
    assert path in message and 'system' in message.split('contains ')[1].split(',')[0]
    assert TRUST_ENV in message
    assert not marker.exists()


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def saved_bytes(tmp_path, legacy=False):
    path = tmp_path / 'whole.pth'
    torch.save(
        {'state_dict': {'w': torch.arange(64.0)}}, path, _use_new_zipfile_serialization=not legacy
    )
    return path.read_bytes()


BAD_FILES = {
    'empty': (lambda tmp: b'', 'empty', ['0 bytes', 'download it again']),
    'html': (
        lambda tmp: b'<!DOCTYPE html>\n<html><body>404 Not Found</body></html>',
        'html',
        ['web page', 'failed download', 'download it again'],
    ),
    'lfs': (
        lambda tmp: b'version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 99\n',
        'lfs-pointer',
        ['Git LFS pointer', 'git lfs pull'],
    ),
    'random': (lambda tmp: bytes(range(7, 207)), 'not-a-checkpoint', ['not a PyTorch checkpoint']),
    'safetensors': (
        lambda tmp: (14).to_bytes(8, 'little') + b'{"__metadata__":{}}',
        'safetensors',
        ['safetensors.torch.load_file'],
    ),
    'truncated': (
        lambda tmp: saved_bytes(tmp)[:300],
        'damaged',
        ['truncated or corrupted', 'earlier checkpoint'],
    ),
    'truncated-legacy': (
        lambda tmp: saved_bytes(tmp, legacy=True)[:100],
        'damaged',
        ['truncated or corrupted', 'EOFError'],
    ),
}


@pytest.mark.parametrize('name', list(BAD_FILES))
def test_non_checkpoints_are_named_with_the_fix(tmp_path, name):
    make, kind, phrases = BAD_FILES[name]
    path = write(tmp_path / f'{name}.pth', make(tmp_path))
    for load in (safe_torch_load, lambda p: load_checkpoint(ToyModel(), p)):
        with pytest.raises(InvalidCheckpointError) as err:
            load(path)
        assert err.value.kind == kind and err.value.path == path
        message = str(err.value)
        assert path in message and 'trust' not in message.lower()
        for phrase in phrases:
            assert phrase in message
