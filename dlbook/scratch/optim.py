r"""Optimizers from scratch: SGD (with momentum and Nesterov), Adagrad, RMSprop, Adam and AdamW.

Each follows the update rule of its ``torch.optim`` namesake exactly (its single-tensor code path),
with the same argument names and defaults. The parameters are NumPy arrays, updated in place;
the gradients are handed to :meth:`Optimizer.step` in the same order::

    opt = Adam([weight, bias], lr=1e-3)
    for x, y in batches:
        grad_weight, grad_bias = ...  # a backward pass
        opt.step([grad_weight, grad_bias])

Below, :math:`\theta` is a parameter, :math:`g` its gradient, :math:`\gamma` the learning rate
``lr``, :math:`\lambda` the ``weight_decay`` and :math:`t = 1, 2, \dots` the step.

Every argument of torch's that changes the maths is here, ``maximize`` included (ascend: the
gradient's sign is flipped before anything else, as in torch). Torch's ``foreach``, ``fused``,
``capturable`` and ``differentiable`` only choose how torch runs the same maths (batched
kernels, CUDA graphs, autograd through the step), so they are left out; ``maximize`` (and
``Adam``'s ``decoupled_weight_decay``) are keyword-only here, since torch's positional ones
before them are left out.
"""

from __future__ import annotations

import copy
import math

import numpy as np

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]


class Optimizer:
    """What every optimizer shares: the parameters, one state dict per parameter, and ``step``.

    The hyperparameters are plain attributes, so a schedule can change ``opt.lr`` between steps.
    A subclass writes two methods: ``init_state(param)``, the state a parameter starts with (named
    as in torch, e.g. ``exp_avg``), and ``update(param, grad, state)``, one parameter's update.

    Shapes:
        params: a list of floating arrays, any shapes, updated in place
        grads (of step): a list of arrays (or None) of the params' shapes and dtypes
    Formula:
        g <- -g if maximize, then the subclass's update of each parameter
    Torch:
        torch.optim.Optimizer
    """

    def __init__(self, params):
        # A subclass sets its hyperparameters first: init_state may read them.
        self.params = _check_params(params)
        self.state = [self.init_state(param) for param in self.params]

    def step(self, grads) -> None:
        """Update every parameter in place; ``grads[i]`` is the gradient of ``params[i]``.

        A gradient of ``None`` leaves its parameter (and its state) untouched, as torch does for
        a parameter whose ``.grad`` is ``None``.
        """
        _check_grads(grads, self.params)
        for param, grad, state in zip(self.params, grads, self.state):
            if grad is not None:
                self.update(param, -grad if getattr(self, "maximize", False) else grad, state)

    def init_state(self, param: np.ndarray) -> dict:
        return {}

    def update(self, param: np.ndarray, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def l2_penalty(self, param, grad):
        r"""Weight decay as an L2 penalty :math:`\frac\lambda2 \lVert\theta\rVert^2` in the loss:
        :math:`g \leftarrow g + \lambda\theta`. A new array: the caller's gradient is kept."""
        return grad + self.weight_decay * param if self.weight_decay != 0 else grad

    def hyperparameters(self) -> dict:
        return {k: v for k, v in vars(self).items() if k not in ("params", "state")}

    def state_dict(self) -> dict:
        """A copy of the state and the hyperparameters, for :meth:`load_state_dict`."""
        return {"state": copy.deepcopy(self.state), "hyperparameters": self.hyperparameters()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Resume from :meth:`state_dict`'s output (a copy of it is taken)."""
        _check_state(state_dict["state"], self.params)
        self.state = copy.deepcopy(state_dict["state"])
        vars(self).update(state_dict["hyperparameters"])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} params, {args})"


class SGD(Optimizer):
    r"""Stochastic gradient descent, with momentum and Nesterov momentum; ``torch.optim.SGD``.

    .. math::
        g \leftarrow g + \lambda\theta, \qquad
        b \leftarrow \mu b + (1 - \tau) g \quad (b = g \text{ at the first step}), \qquad
        \theta \leftarrow \theta - \gamma \, (g + \mu b \text{ if Nesterov, else } b)

    with :math:`\mu` the ``momentum`` and :math:`\tau` the ``dampening``. Without momentum it is
    :math:`\theta \leftarrow \theta - \gamma g`.

    Shapes:
        params: a list of floating arrays, updated in place
    Formula:
        g <- g + wd theta; b <- mu b + (1 - tau) g (b = g at first); theta <- theta - lr d,
        d = g + mu b (nesterov) or b (or g without momentum)
    Torch:
        torch.optim.SGD
    """

    def __init__(
        self,
        params,
        lr=0.001,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
    ):
        _check_nonnegative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"nesterov=True needs momentum > 0 and dampening = 0, "
                f"got momentum={momentum}, dampening={dampening}"
            )
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.maximize = _check_bool(maximize=maximize)
        super().__init__(params)

    def init_state(self, param):
        return {"momentum_buffer": None}

    def update(self, param, grad, state):
        grad = self.l2_penalty(param, grad)
        if self.momentum != 0:
            buf = state["momentum_buffer"]
            if buf is None:  # torch starts the buffer at the first gradient, undamped
                buf = grad.copy()
            else:
                buf = self.momentum * buf + (1 - self.dampening) * grad
            state["momentum_buffer"] = buf
            # Nesterov looks ahead: the step uses the gradient plus the next momentum term.
            grad = grad + self.momentum * buf if self.nesterov else buf
        param -= self.lr * grad


class Adagrad(Optimizer):
    r"""Adagrad: a learning rate per coordinate that shrinks with its gradients' sum of squares;
    ``torch.optim.Adagrad``.

    .. math::
        s \leftarrow s + g^2, \qquad
        \theta \leftarrow \theta - \frac{\gamma}{1 + (t - 1)\,\eta} \; \frac{g}{\sqrt s + \epsilon}

    with :math:`\eta` the ``lr_decay`` and :math:`s` starting at ``initial_accumulator_value``.

    Shapes:
        params: a list of floating arrays, updated in place
    Formula:
        g <- g + wd theta; s <- s + g^2;
        theta <- theta - lr / (1 + (t - 1) lr_decay) g / (sqrt(s) + eps)
    Torch:
        torch.optim.Adagrad
    """

    def __init__(
        self,
        params,
        lr=0.01,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        *,
        maximize=False,
    ):
        _check_nonnegative(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )
        self.lr, self.lr_decay, self.weight_decay = lr, lr_decay, weight_decay
        self.initial_accumulator_value, self.eps = initial_accumulator_value, eps
        self.maximize = _check_bool(maximize=maximize)
        super().__init__(params)

    def init_state(self, param):
        return {"step": 0, "sum": np.full_like(param, self.initial_accumulator_value)}

    def update(self, param, grad, state):
        state["step"] += 1
        grad = self.l2_penalty(param, grad)
        clr = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
        state["sum"] = state["sum"] + grad * grad
        param -= clr * grad / (np.sqrt(state["sum"]) + self.eps)


class RMSprop(Optimizer):
    r"""RMSprop: divide by a running root mean square of the gradients; ``torch.optim.RMSprop``.

    .. math::
        v \leftarrow \alpha v + (1 - \alpha) g^2, \qquad
        \theta \leftarrow \theta - \gamma \frac{g}{\sqrt{v} + \epsilon}

    ``centered=True`` subtracts the squared running mean :math:`\bar g \leftarrow \alpha\bar g +
    (1 - \alpha) g` under the root (a running variance); ``momentum`` :math:`\mu > 0` accumulates
    the steps, :math:`b \leftarrow \mu b + g / (\sqrt{v} + \epsilon)`, :math:`\theta \leftarrow
    \theta - \gamma b`.

    Shapes:
        params: a list of floating arrays, updated in place
    Formula:
        g <- g + wd theta; v <- alpha v + (1 - alpha) g^2; gbar <- alpha gbar + (1 - alpha) g;
        d = g / (sqrt(v - gbar^2 if centered else v) + eps); b <- mu b + d;
        theta <- theta - lr (b if momentum > 0 else d)
    Torch:
        torch.optim.RMSprop
    """

    def __init__(
        self,
        params,
        lr=0.01,
        alpha=0.99,
        eps=1e-08,
        weight_decay=0,
        momentum=0,
        centered=False,
        *,
        maximize=False,
    ):
        _check_nonnegative(
            lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha
        )
        self.lr, self.alpha, self.eps, self.weight_decay = lr, alpha, eps, weight_decay
        self.momentum, self.centered = momentum, centered
        self.maximize = _check_bool(maximize=maximize)
        super().__init__(params)

    def init_state(self, param):
        state = {"step": 0, "square_avg": np.zeros_like(param)}
        if self.momentum > 0:
            state["momentum_buffer"] = np.zeros_like(param)
        if self.centered:
            state["grad_avg"] = np.zeros_like(param)
        return state

    def update(self, param, grad, state):
        state["step"] += 1
        grad = self.l2_penalty(param, grad)
        alpha = self.alpha
        square_avg = state["square_avg"] = alpha * state["square_avg"] + (1 - alpha) * grad * grad
        if self.centered:
            grad_avg = state["grad_avg"] = alpha * state["grad_avg"] + (1 - alpha) * grad
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + self.eps
        else:
            avg = np.sqrt(square_avg) + self.eps
        if self.momentum > 0:
            # A scheduler (OneCycleLR) may switch momentum on after construction; torch makes
            # the state at the first step, so the buffer starts at zero then.
            buf = state.get("momentum_buffer")
            buf = np.zeros_like(param) if buf is None else buf
            buf = state["momentum_buffer"] = self.momentum * buf + grad / avg
            param -= self.lr * buf
        else:
            param -= self.lr * grad / avg


class Adam(Optimizer):
    r"""Adam: momentum divided by a running root mean square, both bias-corrected;
    ``torch.optim.Adam``.

    .. math::
        m \leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \qquad
        \theta \leftarrow \theta - \frac{\gamma}{1 - \beta_1^t}
            \; \frac{m}{\sqrt{v} / \sqrt{1 - \beta_2^t} + \epsilon}

    Note where :math:`\epsilon` sits: after the bias correction of :math:`\sqrt v`, as in torch.
    ``amsgrad=True`` divides by the running maximum of :math:`v` instead. ``weight_decay`` is an L2
    penalty added to :math:`g` (and so rescaled by :math:`1/\sqrt v`), unless
    ``decoupled_weight_decay=True``, which makes this :class:`AdamW`.

    Shapes:
        params: a list of floating arrays, updated in place
    Formula:
        g <- g + wd theta (or theta <- (1 - lr wd) theta if decoupled); m <- b1 m + (1 - b1) g;
        v <- b2 v + (1 - b2) g^2 (vmax <- max(vmax, v) for amsgrad);
        theta <- theta - lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    Torch:
        torch.optim.Adam
    """

    def __init__(
        self,
        params,
        lr=0.001,
        betas=(0.9, 0.999),
        eps=1e-08,
        weight_decay=0,
        amsgrad=False,
        *,
        maximize=False,
        decoupled_weight_decay=False,
    ):
        _check_nonnegative(lr=lr, eps=eps, weight_decay=weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"betas[{i}] must be in [0, 1), got {beta!r}")
        self.lr, self.betas, self.eps = lr, tuple(betas), eps
        self.weight_decay, self.amsgrad = weight_decay, amsgrad
        self.maximize = _check_bool(maximize=maximize)
        self.decoupled_weight_decay = _check_bool(decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params)

    def init_state(self, param):
        state = {"step": 0, "exp_avg": np.zeros_like(param), "exp_avg_sq": np.zeros_like(param)}
        if self.amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        return state

    def update(self, param, grad, state):
        beta1, beta2 = self.betas
        state["step"] += 1
        t = state["step"]
        grad = self.apply_weight_decay(param, grad)
        m = state["exp_avg"] = beta1 * state["exp_avg"] + (1 - beta1) * grad
        v = state["exp_avg_sq"] = beta2 * state["exp_avg_sq"] + (1 - beta2) * grad * grad
        if self.amsgrad:
            v = state["max_exp_avg_sq"] = np.maximum(state["max_exp_avg_sq"], v)
        step_size = self.lr / (1 - beta1**t)
        denom = np.sqrt(v) / math.sqrt(1 - beta2**t) + self.eps
        param -= step_size * m / denom

    def apply_weight_decay(self, param, grad):
        if self.decoupled_weight_decay and self.weight_decay != 0:
            param *= 1 - self.lr * self.weight_decay
            return grad
        return self.l2_penalty(param, grad)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019); ``torch.optim.AdamW``.

    Before the Adam step the parameter shrinks, :math:`\theta \leftarrow (1 - \gamma\lambda)
    \theta`, rather than the decay being added to :math:`g`, where Adam's :math:`1/\sqrt v` would
    rescale it: every weight then decays at the same rate. It is ``Adam`` with
    ``decoupled_weight_decay=True`` (and a default decay of 0.01).

    Shapes:
        params: a list of floating arrays, updated in place
    Formula:
        theta <- (1 - lr wd) theta, then Adam's step without weight decay
    Torch:
        torch.optim.AdamW
    """

    def __init__(
        self,
        params,
        lr=0.001,
        betas=(0.9, 0.999),
        eps=1e-08,
        weight_decay=0.01,
        amsgrad=False,
        *,
        maximize=False,
    ):
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def apply_weight_decay(self, param, grad):
        if self.weight_decay != 0:
            param *= 1 - self.lr * self.weight_decay
        return grad


# --- argument checks ---------------------------------------------------------------------------


def _check_params(params) -> list:
    if isinstance(params, np.ndarray) or not hasattr(params, "__iter__"):
        raise TypeError(f"params must be a list of numpy arrays, got {type(params).__name__}")
    params = list(params)
    if not params:
        raise ValueError("params is empty: the optimizer has nothing to update")
    for i, param in enumerate(params):
        if not isinstance(param, np.ndarray) or not np.issubdtype(param.dtype, np.floating):
            got = getattr(param, "dtype", type(param).__name__)
            raise TypeError(f"params[{i}] must be a floating numpy array, got {got}")
    if len({id(param) for param in params}) != len(params):
        raise ValueError("params holds the same array twice; it would be updated twice a step")
    return params


def _check_grads(grads, params) -> None:
    if not isinstance(grads, (list, tuple)):
        raise TypeError(f"grads must be a list of arrays, one per parameter, got {type(grads)}")
    if len(grads) != len(params):
        raise ValueError(f"grads has {len(grads)} arrays, but there are {len(params)} params")
    for i, (grad, param) in enumerate(zip(grads, params)):
        if grad is None:
            continue
        if not isinstance(grad, (np.ndarray, np.generic)):  # 0-d arithmetic gives np.float64
            raise TypeError(f"grads[{i}] must be a numpy array or None, got {type(grad)}")
        if grad.shape != param.shape:
            raise ValueError(
                f"grads[{i}] has shape {grad.shape} but params[{i}] has shape {param.shape}"
            )
        if grad.dtype != param.dtype:
            raise TypeError(
                f"grads[{i}] has dtype {grad.dtype} but params[{i}] has dtype {param.dtype}"
            )


def _check_state(state, params) -> None:
    if len(state) != len(params):
        raise ValueError(f"state_dict holds {len(state)} parameters' state, not {len(params)}")
    for i, (param_state, param) in enumerate(zip(state, params)):
        for key, value in param_state.items():
            if isinstance(value, np.ndarray) and value.shape != param.shape:
                raise ValueError(
                    f"state_dict: state[{i}][{key!r}] has shape {value.shape} "
                    f"but params[{i}] has shape {param.shape}"
                )


def _check_bool(**values) -> bool:
    ((name, value),) = values.items()
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _check_nonnegative(**values) -> None:
    for name, value in values.items():
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
