"""Official SMT classification files load with their head into the classification configs.

The official computation is the plain reference implementation with the official key layout
(``tests/smt_reference.py``): on random weights, the converted classifier's logits
must equal the reference's to fp32 rounding, both model-level and through ``tools/test.py``.
"""

import os.path as osp
import pickle
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO_ROOT
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import MODELS, init_default_scope
from smt_reference import RefSMT, randomize_

from smt_mm.engine import SMTCheckpointHook
from smt_mm.toydata import generate_imagenet

ROOT = REPO_ROOT
CONFIG_DIR = osp.join(ROOT, 'configs', 'classification')

# Forward differences of float32 models of this depth stay far below this; a wrong key mapping,
# a missing layer scale or a head on the wrong features gives differences of order 1.
TOLERANCE = 1e-4


def build_classifier(config: str, **head):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    cfg.model.backbone.init_cfg = None
    cfg.model.head.update(head)
    init_default_scope('mmpretrain')
    return cfg, MODELS.build(cfg.model)


def official_checkpoint(arch: str, layerscale: bool, num_classes: int = 1000, seed: int = 0):
    """A reference model with random weights and its state dict wrapped like a release file."""
    torch.manual_seed(seed)
    ref = RefSMT(arch, layerscale=layerscale, num_classes=num_classes)
    randomize_(ref, torch.Generator().manual_seed(seed))
    return ref.eval(), {'model': ref.state_dict()}


def load_with_hook(model, checkpoint: dict) -> None:
    """What the runner does for load_from: the hook, then mmengine's (non-strict) load."""
    SMTCheckpointHook().after_load_checkpoint(SimpleNamespace(model=model), checkpoint)
    model.load_state_dict(checkpoint['state_dict'], strict=True)


@pytest.mark.parametrize(
    'config,arch,layerscale',
    [
        ('smt_t_in1k_224.py', 'tiny', False),
        ('smt_b_in1k_224.py', 'base', False),  # 7x7 stem, other MLP ratios
        ('smt_l_in22k_to_in1k_384.py', 'large', True),  # layer scale, 96-768 channels
    ],
)
def test_converted_logits_equal_official(config, arch, layerscale):
    ref, checkpoint = official_checkpoint(arch, layerscale)
    _, model = build_classifier(config)
    load_with_hook(model, checkpoint)
    model.eval()
    x = torch.randn(2, 3, 96, 80)
    with torch.no_grad():
        expected = ref.logits(x)
        logits = model(x)
    assert logits.shape == expected.shape == (2, 1000)
    assert (logits - expected).abs().max().item() <= TOLERANCE


def test_hook_only_checks_mmengine_checkpoints():
    _, model = build_classifier('smt_t_in1k_224.py')
    state_dict = {'backbone.' + k: v for k, v in model.backbone.state_dict().items()}
    state_dict.update({'head.' + k: v for k, v in model.head.state_dict().items()})
    checkpoint = {'state_dict': dict(state_dict), 'meta': {'epoch': 1}}
    SMTCheckpointHook().after_load_checkpoint(SimpleNamespace(model=model), checkpoint)
    assert checkpoint['state_dict'] == state_dict  # untouched


def test_hook_names_missing_unexpected_and_mismatched_keys():
    _, model = build_classifier('smt_t_in1k_224.py')
    _, checkpoint = official_checkpoint('tiny', layerscale=True, num_classes=10)
    with pytest.raises(KeyError) as err:
        SMTCheckpointHook().after_load_checkpoint(SimpleNamespace(model=model), checkpoint)
    message = str(err.value)
    assert 'unexpected keys' in message and 'backbone.stages.0.0.gamma1' in message
    assert 'head.fc.weight: checkpoint (10, 512), model (1000, 512)' in message
    assert "prefix='backbone.'" in message

    state_dict = {'backbone.' + k: v for k, v in model.backbone.state_dict().items()}
    with pytest.raises(KeyError, match=r"missing keys: \['head.fc.weight', 'head.fc.bias'\]"):
        SMTCheckpointHook().after_load_checkpoint(
            SimpleNamespace(model=model), {'state_dict': state_dict}
        )


def test_hook_refuses_a_file_that_is_not_smt():
    _, model = build_classifier('smt_t_in1k_224.py')
    with pytest.raises(ValueError, match='Not an SMT state dict'):
        SMTCheckpointHook().after_load_checkpoint(
            SimpleNamespace(model=model), {'conv1.weight': torch.zeros(1)}
        )


def test_tools_test_evaluates_an_official_file_with_its_head(tmp_path, load_tool):
    """tools/test.py CONFIG OFFICIAL.pth: the shipped config, its test pipeline, the real runner."""
    data_root = str(tmp_path / 'toy_imagenet')
    generate_imagenet(data_root, num_train_per_class=1, num_val_per_class=1, size=64)
    ref, checkpoint = official_checkpoint('tiny', layerscale=False, seed=3)
    official = str(tmp_path / 'smt_tiny.pth')
    torch.save(checkpoint, official)
    preds = str(tmp_path / 'preds.pkl')
    config = osp.join(CONFIG_DIR, 'smt_t_in1k_224.py')
    load_tool('tools/test.py').main([
        config, official, '--work-dir', str(tmp_path / 'work'), '--out', preds, '--cfg-options',
        f'test_dataloader.dataset.data_root={data_root}', 'test_dataloader.batch_size=2',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
    ])  # fmt: skip
    with open(preds, 'rb') as f:
        results = pickle.load(f)

    # The reference sees exactly the config's test inputs: the pipeline, then RGB + normalise.
    cfg = Config.fromfile(config)
    init_default_scope('mmpretrain')
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    preprocessor = MODELS.build(dict(type='ClsDataPreprocessor', **cfg.data_preprocessor))
    with open(osp.join(data_root, 'meta', 'val.txt')) as f:
        samples = [line.split() for line in f]
    assert [int(r['gt_label']) for r in results] == [int(label) for _, label in samples]
    for (path, _), result in zip(samples, results, strict=True):
        packed = pipeline(dict(img_path=osp.join(data_root, 'val', path)))
        inputs = preprocessor(dict(inputs=[packed['inputs']], data_samples=None))['inputs']
        assert inputs.shape == (1, 3, 224, 224)
        with torch.no_grad():
            expected = ref.logits(inputs).softmax(-1)[0]
        assert (result['pred_score'] - expected).abs().max().item() <= TOLERANCE
        assert int(result['pred_label']) == int(expected.argmax())
