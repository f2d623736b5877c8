"""The small experiments the chapters run: each builds models, trains them with
:func:`dlbook.train.fit` and returns numbers for the prose. Plots live in :mod:`dlbook.viz`."""
