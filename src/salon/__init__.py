"""Salon: a self-hosted AI chat server whose heart is sharing conversations safely."""

__version__ = "0.1.0"
