"""Small helpers shared by the tests: running torch on NumPy arrays and collecting its gradients."""

import numpy as np
import torch


def torch_forward_backward(fn, arrays, grad_output_seed=0, **kwargs):
    """Run ``fn`` on tensors made from ``arrays`` (None stays None), backpropagate a random
    upstream gradient, and return ``(output, grad_output, grads)`` as NumPy arrays."""
    tensors = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors, **kwargs)
    g = np.random.default_rng(grad_output_seed).standard_normal(out.shape).astype(arrays[0].dtype)
    out.backward(torch.from_numpy(g))
    grads = tuple(None if t is None else t.grad.numpy() for t in tensors)
    return out.detach().numpy(), g, grads


def assert_close(ours, theirs, tol=1e-10):
    assert (ours is None) == (theirs is None)
    if ours is None:
        return
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol)
