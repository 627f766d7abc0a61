"""Personal names and ethnic categories for synthetic UK patients and staff.

Ethnicity is recorded with the NHS England ethnic category codes (NHS Data Model and Dictionary
"Ethnic Category", carried by the UK Core Extension-UKCore-EthnicCategory). The weights approximate
the 2021 census for England and Wales. Each category is paired with a pool of given and family names
so that a synthetic population looks like a real UK register rather than one family tree; given names
for the largest pool also change with birth decade, as real naming fashions do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NamePool:
    """Given names by sex and family names that are common together in the UK."""

    male: tuple[str, ...]
    female: tuple[str, ...]
    family: tuple[str, ...]


_BRITISH_FAMILY = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke",
    "Hughes", "Edwards", "Turner", "Hill", "Moore", "Cooper", "Ward", "Harris", "King", "Baker",
    "Lewis", "Morris", "Marshall", "Holmes", "Shaw", "Barker", "Fletcher", "Dixon", "Pearson", "Atkinson",
)
_ERAS: tuple[tuple[int, NamePool], ...] = (
    (0, NamePool(
        ("John", "David", "Michael", "Peter", "Robert", "Alan", "Brian", "Keith", "Kenneth", "Raymond"),
        ("Margaret", "Patricia", "Barbara", "Jean", "Joan", "Dorothy", "Brenda", "Sheila", "Maureen", "Ivy"),
        _BRITISH_FAMILY,
    )),
    (1960, NamePool(
        ("Paul", "Mark", "Andrew", "Richard", "Stephen", "Darren", "Lee", "Christopher", "Matthew", "Gary"),
        ("Sarah", "Claire", "Emma", "Nicola", "Lisa", "Karen", "Helen", "Rachel", "Joanne", "Michelle"),
        _BRITISH_FAMILY,
    )),
    (1990, NamePool(
        ("Thomas", "James", "Jack", "Daniel", "Joshua", "Ryan", "Callum", "Liam", "Adam", "Luke"),
        ("Jessica", "Sophie", "Chloe", "Hannah", "Lauren", "Charlotte", "Amy", "Megan", "Rebecca", "Katie"),
        _BRITISH_FAMILY,
    )),
    (2010, NamePool(
        ("Oliver", "George", "Noah", "Arthur", "Harry", "Leo", "Jack", "Charlie", "Oscar", "Freddie"),
        ("Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Grace", "Poppy"),
        _BRITISH_FAMILY,
    )),
)
_POOLS: dict[str, NamePool] = {
    "irish": NamePool(
        ("Sean", "Patrick", "Declan", "Ciaran", "Eoin", "Liam", "Conor", "Niall"),
        ("Siobhan", "Aoife", "Niamh", "Ciara", "Roisin", "Orla", "Mary", "Bridget"),
        ("Murphy", "Kelly", "O'Brien", "Byrne", "Ryan", "O'Connor", "Walsh", "Doyle", "McCarthy", "Quinn"),
    ),
    "european": NamePool(
        ("Jakub", "Piotr", "Andrei", "Marco", "Luca", "Tomasz", "Joao", "Mateusz", "Stefan", "Pawel"),
        ("Anna", "Maria", "Zofia", "Elena", "Ioana", "Giulia", "Katarzyna", "Ana", "Agnieszka", "Monika"),
        ("Nowak", "Kowalski", "Wisniewski", "Popescu", "Rossi", "Silva", "Santos", "Lewandowski", "Ionescu"),
    ),
    "south_asian": NamePool(
        ("Arjun", "Rohan", "Sanjay", "Vikram", "Amit", "Rajesh", "Harpreet", "Dev", "Nikhil", "Kiran"),
        ("Priya", "Anjali", "Sunita", "Kavita", "Meera", "Asha", "Deepa", "Simran", "Neha", "Pooja"),
        ("Patel", "Singh", "Sharma", "Kaur", "Shah", "Gupta", "Kumar", "Mistry", "Chauhan", "Joshi"),
    ),
    "muslim_south_asian": NamePool(
        ("Mohammed", "Muhammad", "Ali", "Imran", "Bilal", "Hamza", "Yusuf", "Abdul", "Tariq", "Zain"),
        ("Aisha", "Fatima", "Amina", "Zainab", "Maryam", "Nadia", "Sana", "Hafsa", "Ayesha", "Rukhsana"),
        ("Khan", "Ahmed", "Hussain", "Ali", "Begum", "Rahman", "Iqbal", "Akhtar", "Mahmood", "Uddin"),
    ),
    "black_african": NamePool(
        ("Emmanuel", "Samuel", "Kwame", "Chinedu", "Oluwaseun", "Kofi", "Tendai", "Abdi", "Daniel", "Joseph"),
        ("Grace", "Blessing", "Abena", "Chioma", "Adaeze", "Esther", "Faith", "Amara", "Nia", "Hodan"),
        ("Okafor", "Mensah", "Adeyemi", "Okoye", "Asante", "Mohamed", "Osei", "Nwosu", "Boateng", "Adebayo"),
    ),
    "black_caribbean": NamePool(
        ("Marcus", "Andre", "Delroy", "Leon", "Jerome", "Tyrone", "Winston", "Kareem", "Jordan", "Nathan"),
        ("Shanice", "Marcia", "Yvonne", "Jasmine", "Tanya", "Simone", "Beverley", "Keisha", "Nadine", "Maya"),
        ("Campbell", "Brown", "Williams", "Thomas", "Francis", "Grant", "Reid", "Henry", "Bailey", "Clarke"),
    ),
    "chinese": NamePool(
        ("Wei", "Jun", "Hao", "Ming", "Jian", "Chen", "Kai", "Tao"),
        ("Mei", "Li", "Xin", "Yan", "Hui", "Ling", "Jing", "Qing"),
        ("Chen", "Wong", "Li", "Zhang", "Wang", "Liu", "Lam", "Cheung", "Ho", "Lee"),
    ),
    "arab": NamePool(
        ("Omar", "Ahmed", "Khalid", "Youssef", "Hassan", "Karim", "Sami", "Tariq"),
        ("Layla", "Noor", "Yasmin", "Huda", "Rania", "Salma", "Leila", "Mariam"),
        ("Hassan", "Ibrahim", "Mahmoud", "Saleh", "Abdullah", "Haddad", "Nasser", "Mansour"),
    ),
}

# (NHS England ethnic category code, display, weight, name pool key; "british" means by-era pool)
ETHNICITIES: tuple[tuple[str, str, float, str], ...] = (
    ("A", "White - British", 73.5, "british"),
    ("B", "White - Irish", 0.9, "irish"),
    ("C", "White - Any other White background", 6.2, "european"),
    ("D", "Mixed - White and Black Caribbean", 0.9, "british"),
    ("E", "Mixed - White and Black African", 0.4, "british"),
    ("F", "Mixed - White and Asian", 0.8, "british"),
    ("G", "Mixed - Any other mixed background", 0.8, "british"),
    ("H", "Asian or Asian British - Indian", 3.1, "south_asian"),
    ("J", "Asian or Asian British - Pakistani", 2.7, "muslim_south_asian"),
    ("K", "Asian or Asian British - Bangladeshi", 1.1, "muslim_south_asian"),
    ("L", "Asian or Asian British - Any other Asian background", 1.6, "south_asian"),
    ("M", "Black or Black British - Caribbean", 1.0, "black_caribbean"),
    ("N", "Black or Black British - African", 2.5, "black_african"),
    ("P", "Black or Black British - Any other Black background", 0.5, "black_caribbean"),
    ("R", "Other Ethnic Groups - Chinese", 0.7, "chinese"),
    ("S", "Other Ethnic Groups - Any other ethnic group", 1.6, "arab"),
    ("Z", "Not stated", 1.7, "british"),
)
_WEIGHTS = tuple(weight for _, _, weight, _ in ETHNICITIES)


def pick_ethnicity(rng: random.Random) -> tuple[str, str, str]:
    """A (code, display, name pool key) triple drawn with census-like weights."""
    code, display, _, pool = rng.choices(ETHNICITIES, weights=_WEIGHTS)[0]
    return code, display, pool


def pool_for(key: str, birth_year: int) -> NamePool:
    """The name pool ``key``; the British pool is chosen by decade of birth."""
    if key != "british":
        return _POOLS[key]
    chosen = _ERAS[0][1]
    for start, pool in _ERAS:
        if birth_year >= start:
            chosen = pool
    return chosen


def given_names(rng: random.Random, pool: NamePool, sex: str) -> list[str]:
    """One or two given names for a person of ``sex`` ("male" or "female") from ``pool``."""
    names = pool.male if sex == "male" else pool.female
    first = rng.choice(names)
    if rng.random() < 0.4:
        middle = rng.choice(names)
        if middle != first:
            return [first, middle]
    return [first]
