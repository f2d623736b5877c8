"""dlbook.nets.inception: bottlenecks beside direct convolutions, the Inception block, and the two
small networks of the chapter; parameter counts by hand, fields equal to dlbook.receptive_field."""

import pytest
import torch

from dlbook import nets, receptive_field


def test_direct_and_bottleneck_keep_the_shape_and_count_by_hand():
    x = torch.zeros(2, 32, 9, 7)
    direct, bottle = nets.direct_conv(32, 24, 5), nets.bottleneck_conv(32, 24, 8, 5)
    assert direct(x).shape == bottle(x).shape == (2, 24, 9, 7)
    assert nets.count_parameters(direct) == 25 * 32 * 24
    assert nets.count_parameters(bottle) == 32 * 8 + 25 * 8 * 8 + 8 * 24
    s = nets.summary(bottle, (32, 9, 7))
    assert s.mult_adds == nets.count_parameters(bottle) * 9 * 7  # stride 1, no bias
    assert s.field.size == receptive_field(bottle, (32, 9, 7)).size == (5, 5)


def test_resnet_bottleneck_saves_eightfold():
    d = nets.summary(nets.direct_conv(256, 256), (256, 14, 14), trace_field=False)
    b = nets.summary(nets.bottleneck_conv(256, 256, 64), (256, 14, 14), trace_field=False)
    assert d.mult_adds == 589_824 * 196 and b.mult_adds == 69_632 * 196


def test_bottleneck_without_relu_is_linear():
    torch.manual_seed(0)
    m = nets.bottleneck_conv(4, 4, 2, relu=False).double()
    x, y = (
        torch.randn(1, 4, 5, 5, dtype=torch.float64),
        torch.randn(1, 4, 5, 5, dtype=torch.float64),
    )
    torch.testing.assert_close(m(x + 2 * y), m(x) + 2 * m(y))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: nets.direct_conv(4, 4, 4), "kernel_size must be odd"),
        (lambda: nets.bottleneck_conv(4, 4, 0), "mid must be a positive int"),
        (lambda: nets.InceptionBlock(8, 4, (4,), (2, 2), 2), "c3 must be a (reduce, out) pair"),
        (lambda: nets.inception_small(width=10), "width must be a multiple of 4"),
        (lambda: nets.plain_cnn_small(num_classes=0), "num_classes must be a positive int"),
    ],
)
def test_bad_arguments_are_named(call, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_googlenet_3a_block_count_and_branch_fields():
    block = nets.InceptionBlock(192, 64, (96, 128), (16, 32), 32)
    assert nets.count_parameters(block) == 163_696
    assert block.out_channels == 256
    fields = {n: receptive_field(getattr(block, n), (192, 28, 28)).size for n in ("b1", "b3", "b5")}
    fields["bp"] = receptive_field(block.bp, (192, 28, 28)).size
    assert fields == {"b1": (1, 1), "b3": (3, 3), "b5": (5, 5), "bp": (3, 3)}
    assert receptive_field(block, (192, 28, 28)).size == (5, 5)  # the widest branch


def test_batch_norm_block_drops_the_biases():
    plain = nets.InceptionBlock(16, 4, (4, 8), (2, 4), 4)
    bn = nets.InceptionBlock(16, 4, (4, 8), (2, 4), 4, batch_norm=True)
    n_convs, n_channels = 6, 4 + 4 + 8 + 2 + 4 + 4  # every conv loses its bias, gains 2 per channel
    assert n_convs == sum(isinstance(m, torch.nn.Conv2d) for m in bn.modules())
    assert nets.count_parameters(bn) == nets.count_parameters(plain) + n_channels


def test_small_networks_map_images_to_classes_at_similar_cost():
    models = {"inception": nets.inception_small(), "plain": nets.plain_cnn_small()}
    macs = {}
    for name, m in models.items():
        assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 9)
        s = nets.summary(m, (3, 16, 16))
        macs[name] = s.mult_adds
        assert s.params == nets.count_parameters(m)
        rf = receptive_field(m, (3, 16, 16))
        assert s.field.size == rf.size
        traced = {layer.name: layer.size for layer in rf.layers}
        checked = [r for r in s.rows if r.field is not None and r.name in traced]
        assert len(checked) >= 8
        assert all(r.field == traced[r.name] for r in checked)
    assert 0.9 < macs["plain"] / macs["inception"] < 1.0


def test_small_inception_block_widths():
    m = nets.inception_small(width=8)
    blocks = [b for b in m if isinstance(b, nets.InceptionBlock)]
    assert [b.out_channels for b in blocks] == [32, 48]
