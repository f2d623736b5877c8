r"""Learning-rate schedulers from scratch, named and computed as in ``torch.optim.lr_scheduler``.

A scheduler sets ``optimizer.lr`` (see :mod:`dlbook.scratch.optim`) once per call of
:meth:`LRScheduler.step`, which comes after the optimizer's step, as in torch::

    opt = SGD([w], lr=0.1, momentum=0.9)
    sched = CosineAnnealingLR(opt, T_max=100)
    for t in range(100):
        opt.step([grad(w)])
        sched.step()

The learning rate at step :math:`t` (``last_epoch``) of a base rate
:math:`\eta_0` is: StepLR :math:`\eta_0 \gamma^{\lfloor t / s \rfloor}`; ExponentialLR
:math:`\eta_0 \gamma^t`; CosineAnnealingLR :math:`\eta_{\min} + \frac12 (\eta_0 - \eta_{\min})
(1 + \cos \frac{\pi t}{T})`; LinearLR :math:`\eta_0` times a factor going linearly from
``start_factor`` to ``end_factor`` in ``total_iters`` steps; OneCycleLR a warm-up to ``max_lr``
and a long annealing far below the start. The closed forms are plain functions too
(:func:`cosine_lr`, ...), for plotting a schedule without an optimizer.

**Torch's values, step by step.** Where torch updates the rate recursively (StepLR, MultiStepLR,
ExponentialLR, CosineAnnealingLR, LinearLR multiply or shift the *current* rate), so do these,
in the same order of operations, so the rates are torch's to the last bit, and a rate that
something else changed between steps changes the schedule as in torch. The recursive cosine
follows the cosine back up past ``T_max``, as torch's does.

**One learning rate per optimizer.** dlbook's optimizers have no parameter groups: one ``lr``
for all parameters. So ``get_last_lr()`` and ``base_lrs`` are lists of one rate (torch's shape),
and an argument torch takes per group (``max_lr``, ``lr_lambda``, ...) is one value, or a list of
one. What torch keeps in each ``param_group`` (``initial_lr``; OneCycleLR's ``max_lr``, ``min_lr``,
``max_momentum``, ``base_momentum``) becomes an attribute of the optimizer, so that
``optimizer.state_dict()`` saves it as torch's does and ``last_epoch`` can resume a schedule.

Left out: torch's warning when the scheduler steps before the optimizer (it patches the
optimizer's ``step`` to notice), and its warning when ``get_lr`` is called outside ``step``; and
torch's other schedulers (ConstantLR, MultiplicativeLR, PolynomialLR, CyclicLR,
CosineAnnealingWarmRestarts, ChainedScheduler, ReduceLROnPlateau).
"""

from __future__ import annotations

import copy
import functools
import math
import types
import warnings
from bisect import bisect_right
from collections import Counter

import numpy as np

from dlbook.checks import check_int, real
from dlbook.scratch.optim import Optimizer

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "LambdaLR",
    "SequentialLR",
    "OneCycleLR",
    "step_lr",
    "multistep_lr",
    "exponential_lr",
    "cosine_lr",
    "linear_lr",
    "one_cycle_lr",
    "one_cycle_momentum",
]


class LRScheduler:
    """What every scheduler shares: ``last_epoch``, ``base_lrs``, ``step`` and ``get_last_lr``.

    A subclass writes ``get_lr()``, the rate at step ``last_epoch`` as a list of one float,
    computed from ``self.optimizer.lr`` (the rate now) or ``self.base_lrs`` (the rate it started
    at). Building a scheduler takes the first step: ``last_epoch`` becomes 0 and ``optimizer.lr``
    the schedule's first rate. ``last_epoch = k >= 0`` resumes a schedule after ``k`` steps, with
    an optimizer whose ``initial_lr`` a scheduler set (torch's resume rules: the first step then
    keeps the current rate, and ``last_epoch`` becomes ``k + 1``).

    Shapes:
        optimizer: a dlbook.scratch.optim optimizer; get_last_lr(): a list of one float
    Formula:
        each step: last_epoch <- last_epoch + 1; optimizer.lr <- get_lr()[0]
    Torch:
        torch.optim.lr_scheduler.LRScheduler
    """

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = _check_optimizer(optimizer)
        last_epoch = check_int(last_epoch, "last_epoch", minimum=-1)
        if last_epoch == -1:
            if not hasattr(optimizer, "initial_lr"):  # the first scheduler's base rate stays
                optimizer.initial_lr = optimizer.lr
        elif not hasattr(optimizer, "initial_lr"):
            raise ValueError(
                f"last_epoch={last_epoch} resumes a schedule, which needs optimizer.initial_lr "
                "(set by the scheduler that started it; load the optimizer's state_dict first)"
            )
        self.base_lrs = [optimizer.initial_lr]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The rate the last step set, as a list of one float."""
        return list(self._last_lr)

    def step(self, epoch=None) -> None:
        """Move to the next step and set ``optimizer.lr``. Torch's deprecated ``step(epoch)``
        jumps to step ``epoch`` instead, by the closed form where there is one (with torch's
        warning)."""
        if epoch is not None:
            warnings.warn(
                "step(epoch) is deprecated in torch; call step() once per step instead",
                UserWarning,
                stacklevel=2,
            )
            epoch = check_int(epoch, "epoch", minimum=0)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", self.get_lr)
            values = closed_form()
        self.optimizer.lr = float(values[0])  # a Python float, whatever lr_lambda returns
        self._last_lr = [self.optimizer.lr]

    def state_dict(self) -> dict:
        """A copy of everything but the optimizer, for :meth:`load_state_dict`."""
        return copy.deepcopy({k: v for k, v in vars(self).items() if k != "optimizer"})

    def load_state_dict(self, state_dict: dict) -> None:
        """Resume from :meth:`state_dict`'s output (a copy of it is taken)."""
        vars(self).update(copy.deepcopy(state_dict))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self.optimizer.lr!r})"


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps.

    Shapes:
        optimizer: a dlbook.scratch.optim optimizer; get_last_lr(): a list of one float
    Formula:
        lr_t = base_lr * gamma ** floor(t / step_size); recursively, lr_t = gamma lr_(t-1) when
        t > 0 is a multiple of step_size, else lr_(t-1)
    Torch:
        torch.optim.lr_scheduler.StepLR
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = check_int(step_size, "step_size", minimum=1)
        self.gamma = _nonnegative(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lr = self.optimizer.lr
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [lr]
        return [lr * self.gamma]

    def _get_closed_form_lr(self):
        return [step_lr(self.last_epoch, self.base_lrs[0], self.step_size, self.gamma)]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone (twice at a milestone given twice).

    Shapes:
        optimizer: a dlbook.scratch.optim optimizer; get_last_lr(): a list of one float
        milestones: an iterable of ints >= 0, the steps at which the rate drops
    Formula:
        lr_t = base_lr * gamma ** (number of milestones <= t)
    Torch:
        torch.optim.lr_scheduler.MultiStepLR
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(_milestones(milestones))
        self.gamma = _nonnegative(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lr = self.optimizer.lr
        if self.last_epoch not in self.milestones:
            return [lr]
        return [lr * self.gamma ** self.milestones[self.last_epoch]]

    def _get_closed_form_lr(self):
        milestones = list(self.milestones.elements())
        return [multistep_lr(self.last_epoch, self.base_lrs[0], milestones, self.gamma)]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every step.

    Shapes:
        optimizer: a dlbook.scratch.optim optimizer; get_last_lr(): a list of one float
    Formula:
        lr_t = base_lr * gamma ** t; recursively, lr_t = gamma lr_(t-1)
    Torch:
        torch.optim.lr_scheduler.ExponentialLR
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = _nonnegative(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:  # resuming: keep the loaded rate rather than step past it
            return [self.optimizer.lr]
        return [self.optimizer.lr * self.gamma]

    def _get_closed_form_lr(self):
        return [exponential_lr(self.last_epoch, self.base_lrs[0], self.gamma)]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the rate from its base down to ``eta_min`` along half a cosine in ``T_max`` steps.

    Torch updates the rate recursively, scaling the rate's distance to ``eta_min`` by the ratio
    of two consecutive closed-form distances. That is the closed form up to rounding, and it
    follows the cosine back up past ``T_max`` (a period of ``2 T_max``). At ``t = T_max + 1``
    (and every ``2 T_max`` after) the ratio would be 0/0, so the rate adds the closed form's
    increment instead.

    Shapes:
        optimizer: a dlbook.scratch.optim optimizer; get_last_lr(): a list of one float
    Formula:
        lr_t = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2; recursively,
        lr_t = eta_min + (lr_(t-1) - eta_min) (1 + cos(pi t / T_max)) / (1 + cos(pi (t-1) / T_max))
    Torch:
        torch.optim.lr_scheduler.CosineAnnealingLR
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = _positive(T_max, "T_max")
        self.eta_min = _nonnegative(eta_min, "eta_min")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lr, t, T, eta_min = self.optimizer.lr, self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [lr]
        if (t - 1 - T) % (2 * T) == 0:  # just past a trough: 0/0 in the ratio below
            return [lr + (self.base_lrs[0] - eta_min) * (1 - math.cos(math.pi / T)) / 2]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min]

    def _get_closed_form_lr(self):
        return [cosine_lr(self.last_epoch, self.base_lrs[0], self.T_max, self.eta_min)]


class LinearLR(LRScheduler):
    """Scale the rate by a factor that goes linearly from ``start_factor`` to ``end_factor`` in
    ``total_iters`` steps, then stays; often a warm-up (``start_factor`` small).

    Shapes:
        optimizer: a dlbook.scratch.optim optimizer; get_last_lr(): a list of one float
    Formula:
        lr_t = base_lr (start + (end - start) min(t, total_iters) / total_iters); recursively,
        lr_t = lr_(t-1) (1 + (end - start) / (total_iters start + (t - 1) (end - start)))
    Torch:
        torch.optim.lr_scheduler.LinearLR
    """

    def __init__(
        self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1
    ):
        self.start_factor = real(start_factor, "start_factor")
        self.end_factor = real(end_factor, "end_factor")
        if not 0 < self.start_factor <= 1:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= self.end_factor <= 1:
            raise ValueError(f"end_factor must be in [0, 1], got {end_factor!r}")
        self.total_iters = check_int(total_iters, "total_iters", minimum=1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        lr, t, start, end = self.optimizer.lr, self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start]
        if self._is_initial or t > self.total_iters:
            return [lr]
        return [lr * (1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start)))]

    def _get_closed_form_lr(self):
        args = (self.start_factor, self.end_factor, self.total_iters)
        return [linear_lr(self.last_epoch, self.base_lrs[0], *args)]


class LambdaLR(LRScheduler):
    """The base rate times ``lr_lambda(t)``, any function of the step.

    ``state_dict`` keeps ``lr_lambda``'s attributes when it is a callable object, and nothing
    when it is a plain function or lambda (which cannot be saved), as in torch.

    Shapes:
        optimizer: a dlbook.scratch.optim optimizer; get_last_lr(): a list of one float
        lr_lambda: a function int -> float (or a list of one)
    Formula:
        lr_t = base_lr * lr_lambda(t)
    Torch:
        torch.optim.lr_scheduler.LambdaLR
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        lr_lambda = _one(lr_lambda, "lr_lambda")
        if not callable(lr_lambda):
            raise TypeError(f"lr_lambda must be a function of the step, got {lr_lambda!r}")
        self.lr_lambdas = [lr_lambda]
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [self.base_lrs[0] * self.lr_lambdas[0](self.last_epoch)]

    def state_dict(self):
        state = {k: v for k, v in vars(self).items() if k not in ("optimizer", "lr_lambdas")}
        state = copy.deepcopy(state)
        fn = self.lr_lambdas[0]
        state["lr_lambdas"] = [None if _is_function(fn) else copy.deepcopy(vars(fn))]
        return state

    def load_state_dict(self, state_dict):
        state = copy.deepcopy(state_dict)
        (fn_state,) = state.pop("lr_lambdas")
        vars(self).update(state)
        if fn_state is not None:
            vars(self.lr_lambdas[0]).update(fn_state)


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after the other, switching at the ``milestones``: e.g. a
    :class:`LinearLR` warm-up, then :class:`CosineAnnealingLR` from ``milestones[0]`` on.

    Each scheduler takes over at its milestone from its own step 0, by its closed form where it
    has one (the cosine starts again from the base rate), and steps on from there. Build the
    schedulers on the same optimizer first; building them stepped the rate, which this undoes.

    Shapes:
        optimizer: a dlbook.scratch.optim optimizer; get_last_lr(): a list of one float
        schedulers: a list of n schedulers of this optimizer; milestones: n - 1 sorted ints
    Formula:
        lr_t = schedulers[i] at step t - milestones[i - 1], i = number of milestones <= t
    Torch:
        torch.optim.lr_scheduler.SequentialLR
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        optimizer = _check_optimizer(optimizer)
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("schedulers is empty: SequentialLR needs at least one scheduler")
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler):
                raise TypeError(f"schedulers[{i}] must be a scheduler, got {scheduler!r}")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"schedulers[{i}] schedules another optimizer than optimizer")
        milestones = _milestones(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"milestones must hold one step fewer than the {len(schedulers)} schedulers, "
                f"got {len(milestones)}"
            )
        if milestones != sorted(milestones):
            raise ValueError(f"milestones must be sorted, got {milestones}")
        self._schedulers, self._milestones = schedulers, milestones
        self.last_epoch = check_int(last_epoch, "last_epoch", minimum=-1) + 1
        self.optimizer = optimizer
        optimizer.lr = optimizer.initial_lr
        self.recursive_undo()
        first = self._schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched=None) -> None:
        """Take back the first step that building each scheduler took."""
        sched = self if sched is None else sched
        if hasattr(sched, "_schedulers"):
            for s in sched._schedulers:
                self.recursive_undo(s)
        else:
            sched.last_epoch -= 1

    def step(self) -> None:
        """The next step of the scheduler whose turn it is (its step 0 at a milestone)."""
        self.last_epoch += 1
        scheduler = self._schedulers[bisect_right(self._milestones, self.last_epoch)]
        if self.last_epoch in self._milestones:  # its turn starts now
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        skip = ("optimizer", "_schedulers")
        state = copy.deepcopy({k: v for k, v in vars(self).items() if k not in skip})
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state = copy.deepcopy(state_dict)
        for scheduler, sub in zip(self._schedulers, state.pop("_schedulers")):
            scheduler.load_state_dict(sub)
        vars(self).update(state)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith and Topin, 2017): warm up from ``max_lr / div_factor`` to
    ``max_lr`` in the first ``pct_start`` of ``total_steps``, then anneal to
    ``max_lr / (div_factor * final_div_factor)``; the momentum (SGD's and RMSprop's
    ``momentum``, Adam's ``betas[0]``) goes the other way, from ``max_momentum`` down to
    ``base_momentum`` and back.

    ``three_phase=True`` comes back down to the start symmetrically, then anneals further in a
    third phase (the paper's schedule). Step ``total_steps`` is the last one allowed; a step past
    it raises, as in torch. An RMSprop built with ``momentum=0`` cannot be cycled yet (its state
    has no momentum buffer; torch makes one at the first step).

    Shapes:
        optimizer: a dlbook.scratch.optim optimizer; get_last_lr(): a list of one float
        max_lr, base_momentum, max_momentum: a float (or a list of one)
    Formula:
        phase ends e_1 = pct_start T - 1 (e_2 = 2 pct_start T - 2 if three_phase), last T - 1;
        lr_t = anneal(lr at the phase's start, lr at its end, (t - e_(i-1)) / (e_i - e_(i-1))),
        anneal 'cos': b + (a - b) (1 + cos(pi p)) / 2, 'linear': a + (b - a) p
    Torch:
        torch.optim.lr_scheduler.OneCycleLR
    """

    def __init__(
        self,
        optimizer,
        max_lr,
        total_steps=None,
        epochs=None,
        steps_per_epoch=None,
        pct_start=0.3,
        anneal_strategy="cos",
        cycle_momentum=True,
        base_momentum=0.85,
        max_momentum=0.95,
        div_factor=25.0,
        final_div_factor=1e4,
        three_phase=False,
        last_epoch=-1,
    ):
        optimizer = _check_optimizer(optimizer)
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        self._schedule_phases = _one_cycle_phases(
            self.total_steps, pct_start, anneal_strategy, three_phase
        )
        self._anneal_func_type = anneal_strategy
        max_lr = _nonnegative(_one(max_lr, "max_lr"), "max_lr")
        div_factor = _positive(div_factor, "div_factor")
        final_div_factor = _positive(final_div_factor, "final_div_factor")
        resume = check_int(last_epoch, "last_epoch", minimum=-1) != -1
        if not resume:
            optimizer.initial_lr = max_lr / div_factor
            optimizer.max_lr = max_lr
            optimizer.min_lr = optimizer.initial_lr / final_div_factor
        self.cycle_momentum = _check_bool(cycle_momentum, "cycle_momentum")
        if self.cycle_momentum:
            self._init_momentum(optimizer, base_momentum, max_momentum, resume)
        needed = ["max_lr", "min_lr"] + ["max_momentum", "base_momentum"] * self.cycle_momentum
        missing = [name for name in needed if not hasattr(optimizer, name)]
        if resume and missing:
            raise ValueError(
                f"last_epoch={last_epoch} resumes a cycle, which needs optimizer.{missing[0]} "
                "(set by the OneCycleLR that started it; load the optimizer's state_dict first)"
            )
        super().__init__(optimizer, last_epoch)

    def _init_momentum(self, optimizer, base_momentum, max_momentum, resume):
        if not hasattr(optimizer, "betas") and not hasattr(optimizer, "momentum"):
            raise ValueError(
                f"cycle_momentum=True needs an optimizer with a momentum (SGD, RMSprop) or betas "
                f"(Adam, AdamW), got {type(optimizer).__name__}; pass cycle_momentum=False"
            )
        self.use_beta1 = hasattr(optimizer, "betas")
        max_momentum = _nonnegative(_one(max_momentum, "max_momentum"), "max_momentum")
        base_momentum = _nonnegative(_one(base_momentum, "base_momentum"), "base_momentum")
        if self.use_beta1 and not (max_momentum < 1 and base_momentum < 1):
            raise ValueError(
                f"base_momentum and max_momentum become Adam's betas[0], which must be < 1, "
                f"got {base_momentum!r} and {max_momentum!r}"
            )
        if not resume:
            if self.use_beta1:
                optimizer.betas = (max_momentum, *optimizer.betas[1:])
            else:
                optimizer.momentum = max_momentum
            optimizer.max_momentum, optimizer.base_momentum = max_momentum, base_momentum

    def get_lr(self):
        step, opt = self.last_epoch, self.optimizer
        if step > self.total_steps:
            raise ValueError(
                f"Tried to step {step} times; OneCycleLR's total_steps is {self.total_steps}"
            )
        (_, lr0, lr1, m0, m1), pct = _phase_at(step, self._schedule_phases)
        lr = _anneal(self._anneal_func_type, getattr(opt, lr0), getattr(opt, lr1), pct)
        if self.cycle_momentum:
            momentum = _anneal(self._anneal_func_type, getattr(opt, m0), getattr(opt, m1), pct)
            if self.use_beta1:
                opt.betas = (momentum, *opt.betas[1:])
            else:
                opt.momentum = momentum
        return [lr]


# --- closed forms, for plotting a schedule (and for torch's deprecated step(epoch)) -------------


def _elementwise(f):
    """``f`` of one step, or of every step of an array (the same shape back)."""

    @functools.wraps(f)
    def wrapper(step, *args, **kwargs):
        if np.ndim(step) == 0:
            return f(_check_step(step), *args, **kwargs)
        steps = np.asarray(step)
        values = [f(_check_step(s), *args, **kwargs) for s in steps.ravel()]
        return np.array(values, dtype=np.float64).reshape(steps.shape)

    return wrapper


@_elementwise
def step_lr(step, base_lr, step_size, gamma=0.1):
    """:class:`StepLR`'s rate at ``step`` (or at each of an array of steps).

    Shapes:
        step: a number >= 0 or an array of them; returns: a float, or an array of step's shape
    Formula:
        lr = base_lr * gamma ** floor(step / step_size)
    Torch:
        none (torch.optim.lr_scheduler.StepLR's closed form, used by its step(epoch))
    """
    base_lr = _nonnegative(base_lr, "base_lr")
    step_size = check_int(step_size, "step_size", minimum=1)
    return base_lr * _nonnegative(gamma, "gamma") ** (step // step_size)


@_elementwise
def multistep_lr(step, base_lr, milestones, gamma=0.1):
    """:class:`MultiStepLR`'s rate at ``step`` (or at each of an array of steps).

    Shapes:
        step: a number >= 0 or an array of them; returns: a float, or an array of step's shape
        milestones: an iterable of ints >= 0
    Formula:
        lr = base_lr * gamma ** (number of milestones <= step)
    Torch:
        none (torch.optim.lr_scheduler.MultiStepLR's closed form, used by its step(epoch))
    """
    drops = bisect_right(sorted(_milestones(milestones)), step)
    return _nonnegative(base_lr, "base_lr") * _nonnegative(gamma, "gamma") ** drops


@_elementwise
def exponential_lr(step, base_lr, gamma):
    """:class:`ExponentialLR`'s rate at ``step`` (or at each of an array of steps).

    Shapes:
        step: a number >= 0 or an array of them; returns: a float, or an array of step's shape
    Formula:
        lr = base_lr * gamma ** step
    Torch:
        none (torch.optim.lr_scheduler.ExponentialLR's closed form, used by its step(epoch))
    """
    return _nonnegative(base_lr, "base_lr") * _nonnegative(gamma, "gamma") ** step


@_elementwise
def cosine_lr(step, base_lr, T_max, eta_min=0.0):
    """:class:`CosineAnnealingLR`'s rate at ``step`` (or at each of an array of steps), in
    closed form: the scheduler's recursive rates equal it up to rounding.

    Shapes:
        step: a number >= 0 or an array of them; returns: a float, or an array of step's shape
    Formula:
        lr = eta_min + (base_lr - eta_min) (1 + cos(pi step / T_max)) / 2
    Torch:
        none (torch.optim.lr_scheduler.CosineAnnealingLR's closed form, used by its step(epoch))
    """
    base_lr, eta_min = _nonnegative(base_lr, "base_lr"), _nonnegative(eta_min, "eta_min")
    T_max = _positive(T_max, "T_max")
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2


@_elementwise
def linear_lr(step, base_lr, start_factor=1.0 / 3, end_factor=1.0, total_iters=5):
    """:class:`LinearLR`'s rate at ``step`` (or at each of an array of steps).

    Shapes:
        step: a number >= 0 or an array of them; returns: a float, or an array of step's shape
    Formula:
        lr = base_lr (start_factor + (end_factor - start_factor) min(step, total_iters)
        / total_iters)
    Torch:
        none (torch.optim.lr_scheduler.LinearLR's closed form, used by its step(epoch))
    """
    base_lr = _nonnegative(base_lr, "base_lr")
    start, end = real(start_factor, "start_factor"), real(end_factor, "end_factor")
    total_iters = check_int(total_iters, "total_iters", minimum=1)
    return base_lr * (start + (end - start) * min(total_iters, step) / total_iters)


@_elementwise
def one_cycle_lr(
    step,
    max_lr,
    total_steps,
    pct_start=0.3,
    anneal_strategy="cos",
    div_factor=25.0,
    final_div_factor=1e4,
    three_phase=False,
):
    """:class:`OneCycleLR`'s rate at ``step`` (or at each of an array of steps), 0 to
    ``total_steps``.

    Shapes:
        step: a number >= 0 or an array of them; returns: a float, or an array of step's shape
    Formula:
        OneCycleLR's, from initial_lr = max_lr / div_factor up to max_lr, then down to
        min_lr = initial_lr / final_div_factor
    Torch:
        none (what torch.optim.lr_scheduler.OneCycleLR computes at each step)
    """
    phases = _one_cycle_phases(total_steps, pct_start, anneal_strategy, three_phase)
    max_lr = _nonnegative(max_lr, "max_lr")
    initial_lr = max_lr / _positive(div_factor, "div_factor")
    min_lr = initial_lr / _positive(final_div_factor, "final_div_factor")
    if step > total_steps:
        raise ValueError(f"step must be <= total_steps={total_steps}, got {step}")
    values = dict(initial_lr=initial_lr, max_lr=max_lr, min_lr=min_lr)
    (_, start, end, _, _), pct = _phase_at(step, phases)
    return _anneal(anneal_strategy, values[start], values[end], pct)


@_elementwise
def one_cycle_momentum(
    step,
    total_steps,
    pct_start=0.3,
    anneal_strategy="cos",
    base_momentum=0.85,
    max_momentum=0.95,
    three_phase=False,
):
    """:class:`OneCycleLR`'s momentum (or Adam's ``betas[0]``) at ``step`` (or at each of an
    array of steps), 0 to ``total_steps``.

    Shapes:
        step: a number >= 0 or an array of them; returns: a float, or an array of step's shape
    Formula:
        OneCycleLR's, from max_momentum down to base_momentum while the rate goes up, and back
    Torch:
        none (the momentum torch.optim.lr_scheduler.OneCycleLR sets at each step)
    """
    phases = _one_cycle_phases(total_steps, pct_start, anneal_strategy, three_phase)
    if step > total_steps:
        raise ValueError(f"step must be <= total_steps={total_steps}, got {step}")
    values = dict(
        base_momentum=_nonnegative(base_momentum, "base_momentum"),
        max_momentum=_nonnegative(max_momentum, "max_momentum"),
    )
    (_, _, _, start, end), pct = _phase_at(step, phases)
    return _anneal(anneal_strategy, values[start], values[end], pct)


def _one_cycle_phases(total_steps, pct_start, anneal_strategy, three_phase) -> list[tuple]:
    """(last step, start lr, end lr, start momentum, end momentum) of each phase, as torch's."""
    total_steps = check_int(total_steps, "total_steps", minimum=1)
    pct_start = real(pct_start, "pct_start")
    if not 0 <= pct_start <= 1:
        raise ValueError(f"pct_start must be in [0, 1], got {pct_start!r}")
    if anneal_strategy not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
    up = float(pct_start * total_steps) - 1
    if not _check_bool(three_phase, "three_phase"):
        last = (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")
        return [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"), last]
    return [
        (up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
        (
            float(2 * pct_start * total_steps) - 2,
            "max_lr",
            "initial_lr",
            "base_momentum",
            "max_momentum",
        ),
        (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
    ]


def _phase_at(step, phases) -> tuple:
    """The phase ``step`` falls in, and how far through it: 0 to 1 (a little past 1 at the
    last step, ``total_steps``, as in torch)."""
    start_step = 0.0
    for i, phase in enumerate(phases):
        end_step = phase[0]
        if step <= end_step or i == len(phases) - 1:
            if end_step == start_step:  # torch divides by zero here
                raise ValueError(
                    f"pct_start and total_steps leave phase {i + 1} of the cycle no steps "
                    f"(it ends at step {end_step}, as the one before); change pct_start"
                )
            return phase, (step - start_step) / (end_step - start_step)
        start_step = end_step


def _anneal(strategy, start, end, pct):
    """From ``start`` (pct = 0) to ``end`` (pct = 1), along half a cosine or a line."""
    if strategy == "cos":
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
    return (end - start) * pct + start


# --- argument checks ---------------------------------------------------------------------------


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be a dlbook.scratch.optim optimizer, got {type(optimizer).__name__}"
        )
    return optimizer


def _finite(value, name) -> float:
    value = real(value, name)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _nonnegative(value, name) -> float:
    if _finite(value, name) < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return float(value)


def _positive(value, name) -> float:
    if _finite(value, name) <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)


def _check_bool(value, name) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def _check_step(step):
    """A step as a float: a real step (not only an int) plots a smooth schedule."""
    if _finite(step, "step") < 0:
        raise ValueError(f"step must be >= 0, got {step!r}")
    return float(step)


def _one(value, name):
    """The one value of a per-param-group argument: dlbook's optimizers have one group."""
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(
                f"{name} must be one value (or a list of one): dlbook's optimizers have one "
                f"learning rate, no param groups; got {len(value)} values"
            )
        return value[0]
    return value


def _milestones(milestones) -> list[int]:
    if isinstance(milestones, (str, bytes)) or not hasattr(milestones, "__iter__"):
        raise TypeError(f"milestones must be a list of ints, got {milestones!r}")
    return [check_int(m, f"milestones[{i}]", minimum=0) for i, m in enumerate(milestones)]


def _total_steps(total_steps, epochs, steps_per_epoch) -> int:
    if total_steps is not None:
        return check_int(total_steps, "total_steps", minimum=1)
    if epochs is None or steps_per_epoch is None:
        raise ValueError("total_steps is missing: give total_steps, or epochs and steps_per_epoch")
    epochs = check_int(epochs, "epochs", minimum=1)
    return epochs * check_int(steps_per_epoch, "steps_per_epoch", minimum=1)


def _is_function(fn) -> bool:
    """A plain function or lambda, whose state cannot be saved (torch saves other callables')."""
    return isinstance(fn, types.FunctionType)
