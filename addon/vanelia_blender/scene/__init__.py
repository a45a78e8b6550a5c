"""Vanelia scene."""
