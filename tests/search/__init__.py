"""Tests of search parameter definitions, FHIRPath compilation and indexing."""
