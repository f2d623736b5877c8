"""Figures, animations and widgets. Nothing here trains or computes a result the text relies on."""
