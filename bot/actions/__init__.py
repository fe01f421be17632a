"""Listeners of buttons and other block actions, one module per surface."""
