"""Realistic made-up values, without any network: names, contact details, prices, dates, text.

Every function takes a `random.Random`, so a seed fixes the values. The field or parameter
name picks the kind of value (`email`, `phone`, `last_name`, `price`…); `value_for` is the
single entry point that datagen and task sampling share.
"""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta

FIRST_NAMES = [
    "Maria",
    "James",
    "Aisha",
    "Robert",
    "Li",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Sofia",
    "Mateo",
    "Chloe",
    "Ethan",
    "Amara",
    "Lucas",
    "Mia",
    "Omar",
    "Yuki",
    "Hannah",
    "Daniel",
    "Priya",
    "Samuel",
    "Grace",
    "Diego",
    "Fatima",
    "Jonah",
    "Elena",
    "Kofi",
    "Nora",
    "Arjun",
    "Leah",
    "Victor",
    "Ingrid",
    "Tomas",
    "Zara",
    "Felix",
    "Ruth",
    "Hugo",
    "Mei",
    "Isaac",
    "Lena",
    "Marcus",
    "Ana",
    "Kai",
    "Rosa",
    "Theo",
    "Leila",
    "Oscar",
    "Nina",
    "Adrian",
    "Sara",
    "Julian",
]
LAST_NAMES = [
    "Garcia",
    "Smith",
    "Khan",
    "Johnson",
    "Wei",
    "Brown",
    "Martinez",
    "Nguyen",
    "Patel",
    "Kim",
    "Rossi",
    "Schmidt",
    "Okafor",
    "Silva",
    "Cohen",
    "Novak",
    "Larsen",
    "Dubois",
    "Tanaka",
    "Murphy",
    "Lopez",
    "Walker",
    "Hughes",
    "Bianchi",
    "Moreau",
    "Ahmed",
    "Kowalski",
    "Jensen",
    "Fischer",
    "Park",
    "Reyes",
    "Turner",
    "Baker",
    "Costa",
    "Haddad",
    "Ivanova",
    "Mensah",
    "Olsen",
    "Sato",
    "Wright",
    "Young",
    "Foster",
    "Price",
    "Bennett",
    "Chavez",
]
STREETS = [
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Oak",
    "Birch",
    "Willow",
    "Lake",
    "Hill",
    "River",
    "Park",
    "Church",
    "Mill",
    "Spring",
    "Meadow",
    "Sunset",
    "Highland",
    "Forest",
    "Orchard",
    "Valley",
    "Ridge",
    "Harbor",
    "Chestnut",
    "Walnut",
    "Aspen",
    "Juniper",
    "Magnolia",
    "Cherry",
]
STREET_KINDS = ("St", "Ave", "Rd", "Ln", "Blvd", "Dr", "Ct", "Way")
CITIES = (
    "Springfield",
    "Riverton",
    "Fairview",
    "Madison",
    "Georgetown",
    "Clinton",
    "Salem",
    "Franklin",
    "Greenville",
    "Bristol",
    "Ashland",
    "Oakdale",
    "Milton",
    "Newport",
    "Kingston",
    "Dayton",
    "Lakewood",
    "Burlington",
    "Marion",
    "Arlington",
    "Auburn",
    "Dover",
    "Hudson",
    "Jackson",
    "Lexington",
    "Oxford",
)
STATES = [
    "CA",
    "NY",
    "TX",
    "WA",
    "IL",
    "OH",
    "PA",
    "MA",
    "GA",
    "NC",
    "MI",
    "OR",
    "CO",
    "AZ",
    "MN",
    "VA",
    "NJ",
    "FL",
]
COUNTRIES = (
    "USA",
    "Canada",
    "Mexico",
    "United Kingdom",
    "Germany",
    "France",
    "Spain",
    "Italy",
    "Japan",
    "India",
    "Brazil",
    "Australia",
    "Netherlands",
    "Sweden",
    "Ireland",
)
COMPANIES = (
    "Northwind",
    "Bluepeak",
    "Summit",
    "Evergreen",
    "Harbor",
    "Crescent",
    "Pinnacle",
    "Redwood",
    "Atlas",
    "Silverline",
    "Brightway",
    "Keystone",
    "Lakeshore",
    "Granite",
    "Meridian",
    "Horizon",
    "Cobalt",
    "Sterling",
)
COMPANY_KINDS = ("Group", "Health", "Partners", "Mutual", "Co", "Systems", "Labs", "Holdings")
TIERS = (
    "Gold",
    "Silver",
    "Bronze",
    "Platinum",
    "Basic",
    "Plus",
    "Select",
    "Premier",
    "Choice",
    "Core",
)
ADJECTIVES = (
    "classic",
    "compact",
    "deluxe",
    "wireless",
    "vintage",
    "modern",
    "portable",
    "ergonomic",
    "organic",
    "smart",
    "rugged",
    "lightweight",
    "premium",
    "eco",
    "quiet",
    "bright",
    "slim",
    "sturdy",
    "soft",
    "fast",
)
NOUNS = (
    "lamp",
    "backpack",
    "kettle",
    "headphones",
    "jacket",
    "chair",
    "blender",
    "watch",
    "notebook",
    "tent",
    "speaker",
    "bicycle",
    "mug",
    "keyboard",
    "camera",
    "sneakers",
    "desk",
    "pillow",
    "umbrella",
    "bottle",
)
COLORS = (
    "red",
    "blue",
    "green",
    "black",
    "white",
    "grey",
    "navy",
    "beige",
    "yellow",
    "purple",
    "orange",
)
MEDICATIONS = (
    "Lisinopril",
    "Metformin",
    "Atorvastatin",
    "Amoxicillin",
    "Levothyroxine",
    "Albuterol",
    "Omeprazole",
    "Sertraline",
    "Amlodipine",
    "Cetirizine",
    "Ibuprofen",
    "Losartan",
    "Montelukast",
    "Gabapentin",
)
DOSAGES = (
    "5 mg once daily",
    "10 mg once daily",
    "20 mg twice daily",
    "500 mg twice daily",
    "250 mg three times daily",
    "2 puffs as needed",
    "1 tablet at bedtime",
)
ALLERGENS = (
    "penicillin",
    "latex",
    "peanuts",
    "sulfa",
    "shellfish",
    "pollen",
    "aspirin",
    "eggs",
    "dust mites",
)
REASONS = (
    "Persistent cough for two weeks",
    "Annual check-up",
    "Follow-up on blood pressure",
    "Knee pain after running",
    "Skin rash on the arm",
    "Recurring headaches",
    "Back pain",
    "Trouble sleeping",
    "Sore throat and fever",
    "Medication review",
    "Shortness of breath on stairs",
    "Routine vaccination",
)
SENTENCES = (
    "Customer asked for a quick update.",
    "Handled at the front desk.",
    "Needs a follow-up next week.",
    "Confirmed by phone.",
    "Requested by the account holder.",
    "No further action needed.",
    "Entered in error.",
    "Duplicate of an earlier request.",
    "Changed plans at the last minute.",
    "Prefers to be contacted by email.",
)
PERSON_ENTITIES = (
    "patient",
    "user",
    "customer",
    "clinician",
    "doctor",
    "employee",
    "person",
    "passenger",
    "member",
    "staff",
    "agent",
    "student",
    "teacher",
    "guest",
    "driver",
    "contact",
    "owner",
)
MAIL_DOMAINS = ("example.com", "example.org", "mail.example.net")


def words(name: str) -> list[str]:
    """`visit_fee` and `visitFee` alike -> ['visit', 'fee']."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in spaced.lower().split("_") if w]


def person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def email(rng: random.Random, first: str | None = None, last: str | None = None) -> str:
    first = first or rng.choice(FIRST_NAMES)
    last = last or rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace(" ", "")
    return f"{re.sub(r'[^a-z0-9.]', '', local)}{rng.randint(1, 999)}@{rng.choice(MAIL_DOMAINS)}"


def phone(rng: random.Random) -> str:
    return f"555{rng.randint(0, 9_999_999):07d}"


def address(rng: random.Random) -> str:
    return (
        f"{rng.randint(1, 999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}, "
        f"{rng.choice(CITIES)}"
    )


def company(rng: random.Random) -> str:
    return f"{rng.choice(COMPANIES)} {rng.choice(COMPANY_KINDS)}"


def product(rng: random.Random) -> str:
    return f"{rng.choice(ADJECTIVES).capitalize()} {rng.choice(NOUNS)}"


def money(rng: random.Random, low: float = 5.0, high: float = 400.0) -> float:
    return round(rng.uniform(low, high), 2)


def shift_date(clock: str, days: int) -> str:
    return (date.fromisoformat(clock[:10]) + timedelta(days=days)).isoformat()


def date_for(rng: random.Random, tokens: list[str], clock: str) -> str:
    """A date near the domain clock: birthdays in the past, expiries ahead, events around now."""
    if {"birth", "dob", "born", "birthday"} & set(tokens):
        return shift_date(clock, -rng.randint(18 * 365, 85 * 365))
    if {"expires", "expiry", "expiration", "due", "until", "end", "ends", "valid", "renewal"} & set(
        tokens
    ):
        return shift_date(clock, rng.randint(-30, 365))
    if {
        "issued",
        "created",
        "last",
        "since",
        "joined",
        "registered",
        "filled",
        "opened",
        "paid",
        "signed",
        "placed",
        "ordered",
        "purchased",
        "shipped",
        "delivered",
    } & set(tokens):
        return shift_date(clock, -rng.randint(0, 365))
    return shift_date(clock, rng.randint(-45, 45))


def datetime_for(rng: random.Random, tokens: list[str], clock: str) -> str:
    """A date-time near the clock, on a quarter hour within working hours."""
    base = datetime.fromisoformat(clock)
    if {"created", "at", "paid", "sent", "updated", "logged"} & set(tokens):
        days = -rng.randint(0, 120)
    else:
        days = rng.randint(-14, 21)
    day = (base + timedelta(days=days)).date()
    minute = rng.randrange(8 * 60, 18 * 60, 15)
    return f"{day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:00"


def int_for(rng: random.Random, tokens: list[str]) -> int:
    t = set(tokens)
    if {"pct", "percent", "percentage"} & t:
        return rng.randrange(10, 95, 5)
    if {"duration", "min", "minutes", "length"} & t:
        return rng.choice((15, 30, 30, 45, 60))
    if {"rating", "stars", "priority", "level"} & t:
        return rng.randint(1, 5)
    if "age" in t:
        return rng.randint(18, 90)
    if "year" in t:
        return rng.randint(1995, 2024)
    if {
        "left",
        "remaining",
        "quantity",
        "qty",
        "count",
        "stock",
        "seats",
        "refills",
        "available",
    } & t:
        return rng.randint(0, 6)
    return rng.randint(1, 100)


MONEY_WORDS = {
    "price",
    "amount",
    "fee",
    "balance",
    "cost",
    "total",
    "paid",
    "due",
    "covered",
    "charge",
    "salary",
    "budget",
    "fare",
    "payment",
    "deposit",
    "credit",
    "refund",
    "subtotal",
    "tax",
}


def float_for(rng: random.Random, tokens: list[str]) -> float:
    t = set(tokens)
    if {"balance", "paid", "covered", "refund", "credit"} & t:
        return rng.choice((0.0, 0.0, money(rng, 10, 150)))
    if MONEY_WORDS & t:
        return money(rng)
    if {"rate", "ratio", "share", "score"} & t:
        return round(rng.random(), 2)
    if {"weight", "kg"} & t:
        return round(rng.uniform(0.2, 20), 1)
    return round(rng.uniform(1, 100), 2)


def text_for(rng: random.Random, tokens: list[str], entity: str = "") -> str:
    """A string value chosen by the field's name (and its entity, for a bare `name`)."""
    t = set(tokens)
    last = tokens[-1] if tokens else ""
    if "email" in t or "mail" in t:
        return email(rng)
    if {"phone", "mobile", "fax", "tel", "telephone"} & t:
        return phone(rng)
    if {"first", "given", "firstname"} & t:
        return rng.choice(FIRST_NAMES)
    if {"last", "family", "surname", "lastname"} & t and "name" in t:
        return rng.choice(LAST_NAMES)
    if {"address2", "line2", "apartment", "suite", "unit"} & t:
        return f"{rng.choice(('Suite', 'Apt', 'Unit'))} {rng.randint(1, 999)}"
    if "street" in t or {"address1", "line1"} & t:
        return f"{rng.randint(1, 999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}"
    if "address" in t:
        return address(rng)
    if "city" in t:
        return rng.choice(CITIES)
    if "state" in t:
        return rng.choice(STATES)
    if "country" in t:
        return rng.choice(COUNTRIES)
    if {"zip", "zipcode", "postal", "postcode"} & t:
        return f"{rng.randint(10000, 99999)}"
    if {
        "payer",
        "company",
        "vendor",
        "supplier",
        "manufacturer",
        "brand",
        "airline",
        "carrier",
        "insurer",
    } & t:
        return company(rng)
    if {"medication", "drug", "medicine"} & t:
        return rng.choice(MEDICATIONS)
    if {"dosage", "dose"} & t:
        return rng.choice(DOSAGES)
    if {"allergy", "allergen", "allergies"} & t:
        return rng.choice(ALLERGENS)
    if {"color", "colour"} & t:
        return rng.choice(COLORS)
    if "currency" in t:
        return rng.choice(("USD", "EUR", "GBP"))
    if {"url", "website", "link"} & t:
        return f"https://www.{rng.choice(NOUNS)}{rng.randint(1, 99)}.example.com"
    if last in {"id", "number", "code", "sku", "ref"}:
        return f"{rng.randint(10, 99)}-{rng.randint(100000, 999999)}"
    if {"reason", "symptom", "complaint"} & t:
        return rng.choice(REASONS)
    if {
        "description",
        "notes",
        "note",
        "comment",
        "comments",
        "message",
        "text",
        "summary",
        "details",
    } & t:
        return rng.choice(SENTENCES)
    if {"title", "product", "item"} & t:
        return product(rng)
    if last == "name" or "name" in t:
        ent = set(words(entity))
        if ent & set(PERSON_ENTITIES):
            return person_name(rng)
        if {"plan", "policy", "tier", "package", "subscription"} & ent:
            return f"{rng.choice(COMPANIES)} {rng.choice(TIERS)} {rng.randint(1, 9) * 10}"
        if {"company", "vendor", "supplier", "payer", "airline", "store", "shop"} & ent:
            return company(rng)
        return product(rng)
    return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"


def value_for(rng: random.Random, name: str, kind: str, clock: str, entity: str = "") -> object:
    """A realistic value for a field name.

    The value is of a plain kind: str, int, float, bool, date or datetime.
    """
    tokens = words(name)
    if kind == "int":
        return int_for(rng, tokens)
    if kind == "float":
        return float_for(rng, tokens)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "date":
        return date_for(rng, tokens, clock)
    if kind == "datetime":
        return datetime_for(rng, tokens, clock)
    return text_for(rng, tokens, entity)


def word(rng: random.Random) -> str:
    return rng.choice(NOUNS)


AIRPORTS = (
    "SFO",
    "JFK",
    "LAX",
    "ORD",
    "DFW",
    "DEN",
    "SEA",
    "ATL",
    "MIA",
    "BOS",
    "PHX",
    "IAH",
    "LAS",
    "MCO",
    "EWR",
    "CLT",
    "MSP",
    "DTW",
    "PHL",
    "LGA",
)
CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def code(rng: random.Random, length: int, tokens: list[str] | None = None) -> str:
    """A code of exactly `length` characters: an airport code for a three-letter airport,
    origin or destination; else capital letters (and digits past four characters)."""
    t = set(tokens or ())
    if length == 3 and {"airport", "origin", "destination", "from", "to"} & t:
        return rng.choice(AIRPORTS)
    if length == 3 and "currency" in t:
        return rng.choice(("USD", "EUR", "GBP", "JPY", "CAD"))
    alphabet = CODE_LETTERS if length <= 4 else CODE_LETTERS + "0123456789"
    return "".join(rng.choice(alphabet) for _ in range(length))


def time_of_day(rng: random.Random) -> str:
    """A time HH:MM:SS on a quarter hour."""
    minute = rng.randrange(0, 24 * 60, 15)
    return f"{minute // 60:02d}:{minute % 60:02d}:00"
