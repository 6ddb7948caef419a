"""Consistent, traceable error handling for Django and Django REST framework."""

__version__ = "0.1.0"
