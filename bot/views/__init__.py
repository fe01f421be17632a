"""Modals: what they look like and what happens on submit."""
