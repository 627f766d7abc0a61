"""Synthetic UK patient data as FHIR R4 transaction Bundles.

Generates a realistic, fully synthetic population for testing and demonstrating a FHIR server: GP
practices and hospital trusts with ODS codes, clinicians with SDS ids, and patients with NHS numbers
from the reserved 999 test range whose lifetime records (encounters, conditions, observations,
prescriptions, immunisations, allergies, procedures) use SNOMED CT, dm+d, LOINC and UCUM as UK Core
expects. Output is deterministic for a given seed, and every bundle loads idempotently with PUT.

Usage::

    from caregate.synth import generate, write_ndjson
    counts = write_ndjson(generate(patients=100, seed=42), Path("out"))
"""

from caregate.synth.generate import generate
from caregate.synth.output import write_bundles, write_ndjson
from caregate.synth.times import DEFAULT_NOW

__all__ = ["DEFAULT_NOW", "generate", "write_bundles", "write_ndjson"]
