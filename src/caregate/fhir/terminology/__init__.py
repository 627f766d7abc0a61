"""Terminology: the CodeSystems and ValueSets of FHIR R4 and UK Core, their expansion and operations.

Pure and storage-free: the web layer passes parameters in and renders the resources that come back.
"""

from caregate.fhir.terminology.content import code_system, code_system_by_id, value_set, value_set_by_id
from caregate.fhir.terminology.expand import NotExpandable, UnknownValueSet, expand, expand_url

__all__ = ["NotExpandable", "UnknownValueSet", "code_system", "code_system_by_id", "expand", "expand_url",
           "value_set", "value_set_by_id"]
