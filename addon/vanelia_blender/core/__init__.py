"""Vanelia core."""
