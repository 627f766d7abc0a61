"""Made-up SNOMED CT releases in RF2 format, for tests and the terminology benchmark.

caregate ships no SNOMED CT, so its tests write their own release: valid-format concept ids (item number,
partition 00, Verhoeff check digit) with invented meanings, in the Snapshot file layout of a real release.
`small_release` is a little clinical-looking hierarchy with the awkward cases (an inactive concept, an
inactive description, an inactive is-a, a non-is-a relationship, a concept with two parents);
`synthetic_release` is a random hierarchy of any size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from caregate.check.snomed import verhoeff_ok

IS_A = "116680003"
FINDING_SITE = "363698007"
FSN, SYNONYM = "900000000000003001", "900000000000013009"
GB_LANGUAGE, PREFERRED, ACCEPTABLE = "999001261000000100", "900000000000548007", "900000000000549004"
MODULE = "999000011000000103"
DATE = "20260101"
CASE = "900000000000448009"


def sctid(item: int, partition: str = "00") -> str:
    """An SCTID: the item number, the partition (00 concept, 01 description, 02 relationship) and the Verhoeff
    check digit that makes it valid."""
    stem = f"{item}{partition}"
    return stem + next(str(d) for d in range(10) if verhoeff_ok(f"{stem}{d}"))


@dataclass
class Concept:
    id: str
    fsn: str
    synonyms: list[str]
    parents: list[str] = field(default_factory=list)
    active: bool = True


def write_release(folder: Path, concepts: list[Concept], *, extra_rows: bool = True) -> Path:
    """Write the Snapshot files of a release holding `concepts` under `folder`; the release folder."""
    snap = folder / "SnomedCT_TestRF2_PRODUCTION" / "Snapshot"
    (snap / "Terminology").mkdir(parents=True, exist_ok=True)
    (snap / "Refset" / "Language").mkdir(parents=True, exist_ok=True)
    concept_rows = ["id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId"]
    desc_rows = ["id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId"]
    rel_rows = ["id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\ttypeId\t"
                "characteristicTypeId\tmodifierId"]
    lang_rows = ["id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId"]
    n = 0
    for c in concepts:
        concept_rows.append(f"{c.id}\t{DATE}\t{int(c.active)}\t{MODULE}\t900000000000074008")
        for term, type_id, acceptability in [(c.fsn, FSN, PREFERRED)] + [
                (s, SYNONYM, PREFERRED if i == 0 else ACCEPTABLE) for i, s in enumerate(c.synonyms)]:
            n += 1
            desc_rows.append(f"{sctid(n, '01')}\t{DATE}\t1\t{MODULE}\t{c.id}\ten\t{type_id}\t{term}\t{CASE}")
            lang_rows.append(f"{n:08x}-0000-4000-8000-000000000000\t{DATE}\t1\t{MODULE}\t{GB_LANGUAGE}\t"
                             f"{sctid(n, '01')}\t{acceptability}")
        for parent in c.parents:
            n += 1
            rel_rows.append(f"{sctid(n, '02')}\t{DATE}\t1\t{MODULE}\t{c.id}\t{parent}\t0\t{IS_A}\t900000000000011006\t"
                            "900000000000451002")
    if extra_rows and len(concepts) > 3:  # rows a loader must leave out
        a, b = concepts[-1].id, concepts[1].id
        desc_rows.append(f"{sctid(n + 1, '01')}\t{DATE}\t0\t{MODULE}\t{a}\ten\t{SYNONYM}\tRetired wording\t{CASE}")
        rel_rows.append(f"{sctid(n + 2, '02')}\t{DATE}\t0\t{MODULE}\t{a}\t{b}\t0\t{IS_A}\t900000000000011006\t"
                        "900000000000451002")
        rel_rows.append(f"{sctid(n + 3, '02')}\t{DATE}\t1\t{MODULE}\t{a}\t{b}\t1\t{FINDING_SITE}\t900000000000011006\t"
                        "900000000000451002")
    for name, rows in ((f"Terminology/sct2_Concept_Snapshot_INT_{DATE}.txt", concept_rows),
                       (f"Terminology/sct2_Description_Snapshot-en_INT_{DATE}.txt", desc_rows),
                       (f"Terminology/sct2_Relationship_Snapshot_INT_{DATE}.txt", rel_rows),
                       (f"Refset/Language/der2_cRefset_LanguageSnapshot-en_INT_{DATE}.txt", lang_rows)):
        (snap / name).write_text("\r\n".join(rows) + "\r\n", encoding="utf-8", newline="")
    return folder


ROOT, FINDING, HEART, MI, ACUTE_MI, OLD_MI, LUNG, ASTHMA, CHEST, PROCEDURE, RETIRED, SITE = (
    sctid(i) for i in range(1001, 1013))


def small_release(folder: Path) -> Path:
    """A dozen concepts: findings of the heart and lung, a procedure, a two-parent concept, a retired one."""
    concepts = [
        Concept(ROOT, "Test root concept (root)", ["Test root concept"]),
        Concept(FINDING, "Clinical finding (finding)", ["Clinical finding"], [ROOT]),
        Concept(HEART, "Disorder of heart (disorder)", ["Heart disease"], [FINDING]),
        Concept(MI, "Myocardial infarction (disorder)", ["Myocardial infarction", "Heart attack"], [HEART]),
        Concept(ACUTE_MI, "Acute myocardial infarction (disorder)", ["Acute myocardial infarction"], [MI]),
        Concept(OLD_MI, "Old myocardial infarction (disorder)", ["Old myocardial infarction"], [MI]),
        Concept(LUNG, "Disorder of lung (disorder)", ["Lung disease"], [FINDING]),
        Concept(ASTHMA, "Asthma (disorder)", ["Asthma"], [LUNG]),
        Concept(CHEST, "Disorder of heart and lung (disorder)", ["Cardiopulmonary disease"], [HEART, LUNG]),
        Concept(PROCEDURE, "Procedure (procedure)", ["Procedure"], [ROOT]),
        Concept(SITE, "Body structure (body structure)", ["Body structure"], [ROOT]),
        Concept(RETIRED, "Retired concept (disorder)", ["Retired concept"], [HEART], active=False),
    ]
    return write_release(folder, concepts)


_VOCABULARY = (
    "acute chronic disorder of heart lung kidney liver skin bone joint muscle nerve brain blood vessel "
    "artery vein infection inflammation injury fracture tumour benign malignant congenital finding "
    "procedure excision repair biopsy scan left right upper lower anterior posterior syndrome deficiency "
    "pain swelling ulcer cyst stenosis failure insufficiency hypertension diabetes asthma arthritis "
    "dermatitis hepatitis nephritis neuropathy myopathy anaemia embolism thrombosis haemorrhage "
    "infarction ischaemia fibrosis sclerosis carcinoma lymphoma leukaemia disease abnormal primary "
    "secondary recurrent severe mild moderate bilateral partial complete traumatic allergic viral "
    "bacterial fungal familial neonatal senile postoperative"
)
WORDS = _VOCABULARY.split()


def synthetic_release(folder: Path, n: int, seed: int = 4) -> tuple[Path, list[str]]:
    """A random hierarchy of `n` active concepts under one root (some with two parents); the folder and ids."""
    rng = random.Random(seed)
    ids = [sctid(100000 + i) for i in range(n)]
    concepts = [Concept(ids[0], "Synthetic root (root)", ["Synthetic root"])]
    for i in range(1, n):
        parents = [ids[rng.randrange(i)]]
        if i > 10 and rng.random() < 0.05:
            other = ids[rng.randrange(i)]
            if other != parents[0]:
                parents.append(other)
        name = " ".join(rng.sample(WORDS, rng.randint(2, 4)))
        concepts.append(Concept(ids[i], f"{name.capitalize()} (disorder)", [name.capitalize(),
                                                                           " ".join(rng.sample(WORDS, 2))], parents))
    return write_release(folder, concepts, extra_rows=False), ids
