"""Tests of the synthetic UK patient generator."""
