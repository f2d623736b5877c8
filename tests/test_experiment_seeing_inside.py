"""The saliency chapter's experiments: the NumPy input gradient against torch autograd and finite
differences, the rank correlation against SciPy, the saliency methods' definitions, the cascading
randomization, the sanity-check summary and activation maximization, on tiny inputs."""

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from dlbook import nets
from dlbook.data.offline import Split
from dlbook.experiments import seeing_inside as exp
from dlbook.scratch.gradcheck import numerical_gradient


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # a LeNet on 3 images: a second thread costs more in synchronisation than it saves
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lenet():
    torch.manual_seed(0)
    return nets.LeNet5(input_size=28).eval()


def _digits(n=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 28, 28)) * (rng.random((n, 1, 28, 28)) < 0.4)  # a zero background
    return x, rng.integers(0, 10, n)


def test_numpy_input_gradient_equals_autograd_and_finite_differences(lenet):
    net = exp.numpy_twin(lenet)
    reference = nets.LeNet5(input_size=28).double()
    reference.load_state_dict(lenet.state_dict())
    x, y = _digits()
    scores = reference(torch.from_numpy(x)).gather(1, torch.from_numpy(y)[:, None])[:, 0]
    np.testing.assert_allclose(exp.class_scores(x, net, y), scores.detach().numpy(), atol=1e-10)
    g = np.array([0.5, -1.0, 2.0])
    ours = exp.class_scores_backward(g, x, net, y)
    xt = torch.tensor(x, requires_grad=True)
    reference(xt).gather(1, torch.from_numpy(y)[:, None])[:, 0].backward(torch.tensor(g))
    np.testing.assert_allclose(ours, xt.grad.numpy(), atol=1e-10)
    autograd = exp.input_gradient(reference, x, y).numpy()
    np.testing.assert_allclose(autograd, exp.class_scores_backward(np.ones(3), x, net, y),
                               atol=1e-10)  # fmt: skip
    pixels = np.random.default_rng(1).choice(x.size, 15, replace=False)
    numeric = numerical_gradient(lambda: exp.class_scores(x, net, y), x, g, entries=pixels)
    np.testing.assert_allclose(ours.ravel()[pixels], numeric, rtol=1e-6, atol=1e-9)


def test_class_scores_reject_bad_targets(lenet):
    net = exp.numpy_twin(lenet)
    x, _ = _digits(2)
    with pytest.raises(ValueError, match="target"):
        exp.class_scores(x, net, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="target"):
        exp.class_scores(x, net, np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="input"):
        exp.class_scores(x[0], net, np.array([1]))


def test_rank_correlation_equals_scipy_with_ties_and_rejects_mismatched_shapes():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 5, 5)) * (rng.random((4, 5, 5)) < 0.5)
    b = np.round(a + rng.normal(size=a.shape), 1) * (rng.random(a.shape) < 0.7)
    want = [spearmanr(u.ravel(), v.ravel())[0] for u, v in zip(a, b)]
    np.testing.assert_allclose(exp.rank_correlation(a, b), want, atol=1e-12)
    np.testing.assert_allclose(exp.rank_correlation(a, np.exp(a)), 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="one shape"):
        exp.rank_correlation(a, b[:, :4])


def test_saliency_methods_follow_their_definitions(lenet):
    x, y = _digits()
    g = exp.input_gradient(lenet, x, y).double().numpy()[:, 0]
    np.testing.assert_allclose(exp.saliency(lenet, x, y, "gradient"), np.abs(g), rtol=1e-6)
    np.testing.assert_allclose(exp.saliency(lenet, x, y, "gradient × input"),
                               np.abs(g * x[:, 0]), rtol=1e-5, atol=1e-9)  # fmt: skip
    tiny = exp.saliency(lenet, x, y, "SmoothGrad", n=4, sigma=1e-6)  # no noise: the gradient
    np.testing.assert_allclose(tiny, np.abs(g), rtol=1e-3, atol=1e-6)
    noisy = exp.saliency(lenet, x, y, "SmoothGrad", n=4, sigma=0.5)
    assert np.abs(noisy - np.abs(g)).max() > 0.05 * np.abs(g).max()  # noise changes it
    with pytest.raises(ValueError, match="method"):
        exp.saliency(lenet, x, y, "occlusion")
    edges = exp.edge_map(np.pad(np.ones((1, 1, 4, 4)), ((0, 0), (0, 0), (3, 3), (3, 3))))
    assert edges[0, 0, 0] == 0 and edges[0, 5, 5] == 0 and edges[0, 3, 5] > 0  # edges only


def test_cascade_reinitializes_from_the_top_down(lenet):
    stages = exp.cascade(lenet)
    assert [s for s, _ in stages] == list(exp.STAGES)
    assert stages[0][1] is lenet
    names = list(exp.LAYERS)  # C1, C3, C5, F6, logits: bottom up

    def same(a, b, layer):
        return torch.equal(exp._module(a, layer).weight, exp._module(b, layer).weight)

    for k, (stage, model) in enumerate(stages[1:], 1):
        changed = names[len(names) - k :]
        for layer in names:
            assert same(model, lenet, layer) == (layer not in changed), (stage, layer)


def test_sanity_checks_and_training_on_tiny_data(lenet):
    x, y = _digits(24)
    data = Split(x[:16].astype(np.float32), y[:16], x[16:].astype(np.float32), y[16:], "tiny")
    shuffled, history = exp.train_lenet(data, epochs=1, shuffle_labels=True)
    assert len(history) == 1 and not shuffled.training
    methods = ("gradient", "gradient × input")
    r = exp.sanity_checks(lenet, shuffled, x[:2].astype(np.float32), y[:2], methods, seed=0)
    assert set(r["maps"]) == set(exp.STAGES) | {"shuffled labels"}
    for m in methods:
        assert r["model"][m].shape == (len(exp.STAGES),)
        assert r["model"][m][0] == pytest.approx(1.0)
        assert -1 <= r["data"][m] <= 1 and -1 <= r["input"][m] <= 1
    # gradient × input is zero wherever the image is: its maps keep the zeros of x
    zero = x[:2, 0] == 0
    assert all((r["maps"][s]["gradient × input"][zero] == 0).all() for s in r["maps"])


def test_layer_output_top_images_and_activation_maximization(lenet):
    x, _ = _digits(5)
    xt = torch.as_tensor(x, dtype=torch.float32)
    shapes = {k: tuple(exp.layer_output(lenet, xt, k).shape) for k in exp.LAYERS}
    assert shapes == {"C1": (5, 6, 28, 28), "C3": (5, 16, 10, 10), "C5": (5, 120, 1, 1),
                      "F6": (5, 84), "logits": (5, 10)}  # fmt: skip
    with torch.no_grad():
        best = exp.layer_output(lenet, xt, "C3")[:, 2].amax((1, 2)).argmax().item()
    assert exp.top_images(lenet, x, "C3", 2, k=2)[0] == best
    run = exp.activation_maximization(lenet, "logits", 3, steps=20, every=5)
    assert run["frames"].shape == (5, 28, 28) and list(run["steps"]) == [0, 5, 10, 15, 20]
    assert run["activation"][-1] > run["activation"][0] + 0.01  # it climbs
    assert all(p.grad is None for p in lenet.parameters())
