"""The one strict check and the loaders built on it: whole models and official classifiers."""

import pytest
import torch
from smt_reference import RefSMT, randomize_
from torch import nn

from smt_mm.models.backbones import SMT
from smt_mm.models.checkpoint import (
    CheckpointMismatchError,
    check_state_dict,
    load_model_checkpoint,
    model_state_dict,
)

TINY_LS = dict(arch='tiny', use_layerscale=True)


class Classifier(nn.Module):
    """The parameter layout of an mmpretrain ImageClassifier with a linear head."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.backbone = SMT(**TINY_LS)
        self.head = nn.Module()
        self.head.fc = nn.Linear(512, num_classes)


@pytest.fixture(scope='module')
def official_file(tmp_path_factory):
    ref = randomize_(RefSMT('tiny', layerscale=True), torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp('official') / 'smt_tiny.pth'
    torch.save({'model': ref.state_dict()}, path)
    return path, ref.state_dict()


def test_official_classification_file_loads_into_a_classifier_with_its_head(official_file):
    path, official = official_file
    model = Classifier()
    load_model_checkpoint(model, str(path))
    torch.testing.assert_close(model.head.fc.weight, official['head.weight'])
    torch.testing.assert_close(model.backbone.norms[3].bias, official['norm4.bias'])

    with pytest.raises(CheckpointMismatchError, match=r'head.fc.weight: checkpoint \(1000, 512\)'):
        load_model_checkpoint(Classifier(num_classes=10), str(path))


def test_mmengine_checkpoints_are_taken_as_they_are(tmp_path):
    model = nn.Linear(2, 3)
    state_dict = {'module.weight': torch.ones(3, 2), 'module.bias': torch.zeros(3)}
    assert model_state_dict({'state_dict': state_dict, 'meta': {}}) is state_dict
    path = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': state_dict}, path)
    load_model_checkpoint(model, str(path))  # DDP's module. prefix is dropped
    assert model.weight.detach().eq(1).all()
    with pytest.raises(ValueError, match='Not an SMT state dict'):
        model_state_dict({'weight': torch.ones(3, 2)})
    with pytest.raises(FileNotFoundError, match='checkpoint not found: .*nope.pth'):
        load_model_checkpoint(model, str(tmp_path / 'nope.pth'))


def test_the_check_names_the_source_and_the_fix():
    with pytest.raises(CheckpointMismatchError) as err:
        check_state_dict(nn.Linear(2, 3), {}, source='SMT checkpoint x.pth', fix='Do this.')
    first_line = str(err.value).splitlines()[0]
    assert first_line == (
        'SMT checkpoint x.pth does not fit the model: 2 missing, 0 unexpected keys, '
        '0 shape mismatches. Do this.'
    )
    check_state_dict(nn.Linear(2, 3), nn.Linear(2, 3).state_dict())  # fits: no error
