"""The demos' helpers: the per-class IoU read back from a test log, the side-by-side table."""

import json

import pytest

from smt_mm.demo import format_table, read_class_iou

LOG = """2026/11/25 19:31:35 - mmengine - INFO - Iter(test) [50/50]    eta: 0:00:00  time: 0.7166
2026/11/25 19:31:35 - mmengine - INFO - per class results:
2026/11/25 19:31:35 - mmengine - INFO - {space}
+------------+-------+-------+
|   Class    |  IoU  |  Acc  |
+------------+-------+-------+
| background | 81.93 | 100.0 |
|   circle   |  nan  |  nan  |
|    star    |  2.5  |  3.0  |
+------------+-------+-------+
2026/11/25 19:31:35 - mmengine - INFO - Iter(test) [50/50]    aAcc: 81.9300  mIoU: 42.2200
""".format(space=' ')  # mmengine logs the table after a message of one space


def write_record(tmp_path, log: str) -> dict:
    timestamp = '20261125_193009'
    (tmp_path / timestamp).mkdir()
    (tmp_path / timestamp / f'{timestamp}.log').write_text(log)
    record = {'timestamp': timestamp, 'metrics': {'mIoU': 42.22}}
    path = tmp_path / f'eval_{timestamp}.json'
    path.write_text(json.dumps(record))
    return dict(record, path=str(path))


def test_read_class_iou(tmp_path):
    ious = read_class_iou(write_record(tmp_path, LOG))
    assert list(ious) == ['background', 'circle', 'star']
    assert ious['background'] == 81.93 and ious['star'] == 2.5
    assert ious['circle'] != ious['circle']  # NaN: absent from ground truth and prediction


def test_read_class_iou_without_table(tmp_path):
    with pytest.raises(ValueError, match='no per-class results'):
        read_class_iou(write_record(tmp_path, LOG.split('per class')[0]))


def test_format_table():
    columns = {
        'untrained': {'mIoU': 3.5, '  background': 7.0, '  star': 0.0},
        'trained': {'mIoU': 60.25, '  background': 95.5, '  star': 25.0},
    }
    lines = format_table(columns).splitlines()
    assert lines[0].split() == ['untrained', 'trained']
    assert lines[1].split() == ['mIoU', '3.50', '60.25']
    assert lines[3].split() == ['star', '0.00', '25.00']
    assert format_table(columns, digits=3).splitlines()[1].split() == ['mIoU', '3.500', '60.250']
