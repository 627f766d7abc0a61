"""Tests of FHIR-level helpers that other layers build on."""
