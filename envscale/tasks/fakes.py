"""Realistic made-up values, without any network: people, addresses, companies, prices, dates,
text, drawn from Faker's locale providers and seeded by the caller's `random.Random`.

Values of one record agree with each other: `Persona.make(rng, home)` draws one person of
the state's home (`Home`: one locale of `LOCALES`, and for a local business one region of
it): a name, an email and a user name made from that name, a phone number of the country,
and one address whose street, city, state, zip and country belong together.
`value_for` is the single entry point that datagen and task sampling share; the field or
parameter name picks the kind of value (`email`, `phone`, `last_name`, `price`…), the
entity and the field's doc refine it (a restaurant's `name`, a dish's `description`).

Faker has no vocabulary for dishes, products, medications or airports; the few lists here
are that vocabulary. Everything else comes from Faker.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from envscale.tasks import reasons

try:
    from faker import Faker
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("generated data needs Faker: pip install 'envscale[data]'") from error


# (locale, weight, country as stored): most states are American, as tau-bench's are.
LOCALES: tuple[tuple[str, int, str], ...] = (
    ("en_US", 7, "USA"),
    ("en_GB", 1, "United Kingdom"),
    ("en_CA", 1, "Canada"),
    ("en_AU", 1, "Australia"),
)
CURRENCIES = {"en_US": "USD", "en_GB": "GBP", "en_CA": "CAD", "en_AU": "AUD"}
# Entities of a business its customers live near (a restaurant delivers across town, a
# clinic's patients come from its state): every address of such a state is in one region.
LOCAL_ENTITIES = frozenset({"restaurant", "courier", "menu", "patient", "clinician", "clinic"})
# Words of states a record ends in off the normal path (a visit called off, an invoice
# voided): a minority of records are in one, `EXIT_SHARE` of them all together.
EXIT_WORDS = frozenset(
    {
        "void",
        "voided",
        "cancelled",
        "canceled",
        "refunded",
        "rejected",
        "declined",
        "failed",
        "discontinued",
        "archived",
        "blocked",
        "suspended",
        "lost",
        "show",  # no_show
    }
)
EXIT_SHARE = 0.08


def is_exit(member: object) -> bool:
    """Whether an enum member names a state off the normal path (void, cancelled, no_show)."""
    return bool(EXIT_WORDS & set(words(str(member).replace(" ", "_"))))


def exit_weighted(rng: random.Random, members: list, held: Iterable[object] = ()) -> Any:
    """One of the members, those naming an exit state drawn `EXIT_SHARE` of the time all
    together (the others evenly); when all or none are exits, any evenly. `held`: what the
    records made before this one hold; once their exits reach `EXIT_SHARE` of them and this
    one together, this one is on the normal path. Each record is drawn apart from the others
    (and again on every redraw), so without that bound the share over a few dozen records
    strays well past `EXIT_SHARE`: 9 cancelled orders of 50 at one seed."""
    exits = [m for m in members if is_exit(m)]
    normal = [m for m in members if not is_exit(m)]
    if not exits or not normal:
        return rng.choice(members)
    if rng.random() >= EXIT_SHARE:
        return rng.choice(normal)
    held = list(held)  # read only for a draw that would be an exit
    room = sum(map(is_exit, held)) < EXIT_SHARE * (len(held) + 1)
    return rng.choice(exits if room else normal)


@dataclass(frozen=True)
class Home:
    """Where the people and places of one generated state are: one locale (its country,
    phone format and currency), and for a local business one region of it (a state, a
    province or a county), or None where they spread over the country."""

    locale: str
    region: str | None = None

    @property
    def country(self) -> str:
        return next(c for loc, _, c in LOCALES if loc == self.locale)

    @property
    def currency(self) -> str:
        return CURRENCIES.get(self.locale, "USD")

    @classmethod
    def draw(cls, rng: random.Random, local: bool = False) -> Home:
        locale = rng.choices([loc for loc, _, _ in LOCALES], weights=[w for _, w, _ in LOCALES])[0]
        return cls(locale, _region(faker(rng, locale), locale) if local else None)


def _region(fake: Faker, locale: str) -> str:
    """A region of the locale, as its addresses name it."""
    if locale == "en_US":
        return fake.state_abbr(include_territories=False, include_freely_associated_states=False)
    if locale == "en_CA":
        return fake.province_abbr()
    if locale == "en_AU":
        return fake.state_abbr()
    return fake.county()


MAIL_DOMAINS = ("example.com", "example.org", "mail.example.net")
PERSON_ENTITIES = frozenset(
    {
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
        "courier",
        "rider",
        "contact",
        "owner",
        "client",
        "nurse",
    }
)
CUISINE_DISHES: dict[str, tuple[str, ...]] = {
    "italian": (
        "Margherita Pizza",
        "Spaghetti Carbonara",
        "Lasagna",
        "Risotto ai Funghi",
        "Tiramisu",
        "Penne Arrabbiata",
        "Caprese Salad",
    ),
    "japanese": (
        "Salmon Nigiri",
        "Tonkotsu Ramen",
        "Chicken Katsu",
        "Miso Soup",
        "California Roll",
        "Gyoza",
        "Tempura Udon",
    ),
    "mexican": (
        "Carne Asada Tacos",
        "Chicken Burrito",
        "Guacamole and Chips",
        "Quesadilla",
        "Enchiladas Verdes",
        "Churros",
        "Pozole",
    ),
    "indian": (
        "Butter Chicken",
        "Chana Masala",
        "Lamb Biryani",
        "Garlic Naan",
        "Palak Paneer",
        "Samosas",
        "Mango Lassi",
    ),
    "thai": (
        "Pad Thai",
        "Green Curry",
        "Tom Yum Soup",
        "Massaman Curry",
        "Papaya Salad",
        "Mango Sticky Rice",
        "Drunken Noodles",
    ),
    "american": (
        "Cheeseburger",
        "Buffalo Wings",
        "BBQ Pulled Pork Sandwich",
        "Mac and Cheese",
        "Caesar Salad",
        "Milkshake",
        "Fried Chicken",
    ),
    "mediterranean": (
        "Falafel Wrap",
        "Chicken Shawarma",
        "Hummus Plate",
        "Greek Salad",
        "Lamb Kofta",
        "Baklava",
        "Spanakopita",
    ),
    "chinese": (
        "Kung Pao Chicken",
        "Mapo Tofu",
        "Pork Dumplings",
        "Fried Rice",
        "Sweet and Sour Pork",
        "Hot and Sour Soup",
        "Chow Mein",
    ),
}
RESTAURANT_KINDS: dict[str, tuple[str, ...]] = {
    "italian": ("Trattoria", "Pizzeria", "Osteria"),
    "japanese": ("Sushi Bar", "Ramen House", "Izakaya"),
    "mexican": ("Taqueria", "Cantina", "Cocina"),
    "indian": ("Tandoor", "Curry House", "Spice Kitchen"),
    "thai": ("Thai Kitchen", "Noodle Bar", "Thai Bistro"),
    "american": ("Diner", "Grill", "Burger Joint"),
    "mediterranean": ("Mezze House", "Grill", "Taverna"),
    "chinese": ("Dumpling House", "Wok", "Garden"),
}
OPTION_SETS: dict[str, tuple[str, ...]] = {
    "size": ("small", "medium", "large"),
    "spice": ("mild", "medium", "hot"),
    "side": ("fries", "salad", "rice"),
    "sauce": ("garlic", "chili", "none"),
    "drink": ("water", "soda", "iced tea"),
}
PRODUCTS = (
    "Desk Lamp",
    "Backpack",
    "Electric Kettle",
    "Headphones",
    "Rain Jacket",
    "Office Chair",
    "Blender",
    "Wristwatch",
    "Notebook",
    "Camping Tent",
    "Bluetooth Speaker",
    "Road Bicycle",
    "Coffee Mug",
    "Mechanical Keyboard",
    "Action Camera",
    "Running Shoes",
    "Standing Desk",
    "Pillow",
    "Umbrella",
    "Water Bottle",
    "T-Shirt",
    "Sunglasses",
    "Yoga Mat",
    "Air Purifier",
)
PRODUCT_OPTIONS: dict[str, tuple[str, ...]] = {
    "color": ("black", "white", "blue", "red", "green", "grey"),
    "size": ("S", "M", "L", "XL"),
    "material": ("cotton", "polyester", "leather", "steel"),
    "capacity": ("500ml", "750ml", "1L"),
    "brightness": ("400 lumens", "800 lumens", "1200 lumens"),
    "connectivity": ("wired", "wireless"),
    "power": ("600W", "1000W", "1500W"),
    "strap": ("leather", "metal", "silicone"),
    "pages": ("100", "200", "300"),
    "sleeps": ("2", "4", "6"),
    "frame size": ("S", "M", "L"),
    "thickness": ("4mm", "6mm", "8mm"),
    "switch type": ("linear", "tactile", "clicky"),
    "resolution": ("1080p", "4K"),
    "shoe size": ("8", "9", "10", "11"),
    "lens": ("polarized", "non-polarized"),
    "firmness": ("soft", "medium", "firm"),
    "filter": ("HEPA", "carbon"),
    "kettle capacity": ("1L", "1.5L", "1.7L"),
}
# The options each kind of product comes in: a T-shirt has sizes, not a capacity.
PRODUCT_KINDS: dict[str, tuple[str, ...]] = {
    "Desk Lamp": ("color", "brightness"),
    "Backpack": ("color", "size", "material"),
    "Electric Kettle": ("kettle capacity", "material"),
    "Headphones": ("color", "connectivity"),
    "Rain Jacket": ("color", "size"),
    "Office Chair": ("color", "material"),
    "Blender": ("capacity", "power"),
    "Wristwatch": ("color", "strap"),
    "Notebook": ("size", "pages"),
    "Camping Tent": ("color", "sleeps"),
    "Bluetooth Speaker": ("color", "connectivity"),
    "Road Bicycle": ("color", "frame size"),
    "Coffee Mug": ("color", "capacity"),
    "Mechanical Keyboard": ("switch type", "connectivity"),
    "Action Camera": ("color", "resolution"),
    "Running Shoes": ("color", "shoe size"),
    "Standing Desk": ("color", "material"),
    "Pillow": ("firmness", "material"),
    "Umbrella": ("color", "size"),
    "Water Bottle": ("capacity", "color"),
    "T-Shirt": ("color", "size", "material"),
    "Sunglasses": ("color", "lens"),
    "Yoga Mat": ("color", "thickness"),
    "Air Purifier": ("color", "filter"),
}
# What a product of a kind usually costs, USD (low, high), and the choices an option takes
# for a kind where the general ones would not fit it (a kettle is not made of cotton).
PRODUCT_PRICES: dict[str, tuple[float, float]] = {
    "Desk Lamp": (20, 120),
    "Backpack": (30, 200),
    "Electric Kettle": (25, 150),
    "Headphones": (40, 350),
    "Rain Jacket": (50, 250),
    "Office Chair": (90, 450),
    "Blender": (40, 300),
    "Wristwatch": (60, 500),
    "Notebook": (5, 30),
    "Camping Tent": (80, 450),
    "Bluetooth Speaker": (30, 250),
    "Road Bicycle": (400, 2500),
    "Coffee Mug": (8, 40),
    "Mechanical Keyboard": (50, 250),
    "Action Camera": (150, 500),
    "Running Shoes": (50, 200),
    "Standing Desk": (200, 800),
    "Pillow": (15, 90),
    "Umbrella": (10, 60),
    "Water Bottle": (10, 50),
    "T-Shirt": (10, 45),
    "Sunglasses": (20, 250),
    "Yoga Mat": (20, 110),
    "Air Purifier": (80, 500),
}
KIND_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("Electric Kettle", "material"): ("plastic", "stainless steel", "glass"),
    ("Backpack", "material"): ("nylon", "polyester", "leather"),
    ("Office Chair", "material"): ("mesh", "fabric", "leather"),
    ("Standing Desk", "material"): ("wood", "bamboo", "steel"),
    ("Pillow", "material"): ("memory foam", "down", "polyester"),
    ("T-Shirt", "material"): ("cotton", "polyester", "linen"),
}


def product_kind(name: str) -> str | None:
    """The known kind a product's name names ("Maroon T-Shirt": T-Shirt), else None."""
    return next((k for k in PRODUCT_KINDS if k.lower() in name.lower()), None)


# Medications with doses they are prescribed in (strength and schedule), so a dosage fits
# its medication.
MEDICATION_DOSES: dict[str, tuple[str, ...]] = {
    "Lisinopril": ("10 mg once daily", "20 mg once daily", "40 mg once daily"),
    "Metformin": ("500 mg twice daily", "850 mg twice daily", "1000 mg twice daily"),
    "Atorvastatin": ("10 mg once daily", "20 mg at bedtime", "40 mg at bedtime"),
    "Amoxicillin": ("250 mg three times daily", "500 mg three times daily"),
    "Levothyroxine": ("50 mcg once daily", "75 mcg once daily", "100 mcg once daily"),
    "Albuterol": ("2 puffs every 4 to 6 hours as needed", "2 puffs before exercise"),
    "Omeprazole": ("20 mg once daily", "40 mg once daily"),
    "Sertraline": ("50 mg once daily", "100 mg once daily"),
    "Amlodipine": ("5 mg once daily", "10 mg once daily"),
    "Cetirizine": ("10 mg once daily", "5 mg once daily"),
    "Ibuprofen": ("400 mg every 6 hours as needed", "600 mg three times daily"),
    "Losartan": ("25 mg once daily", "50 mg once daily", "100 mg once daily"),
    "Montelukast": ("10 mg at bedtime",),
    "Gabapentin": ("300 mg three times daily", "300 mg at bedtime", "600 mg three times daily"),
}
MEDICATIONS = tuple(MEDICATION_DOSES)
DOSAGES = tuple(dict.fromkeys(d for doses in MEDICATION_DOSES.values() for d in doses))
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
# Medications taken as one short course: no refills, over within weeks.
SHORT_COURSES = frozenset({"Amoxicillin"})
NOTES = (
    "Customer asked for a quick update.",
    "Handled at the front desk.",
    "Needs a follow-up next week.",
    "Confirmed by phone.",
    "Requested by the account holder.",
    "No further action needed.",
    "Prefers to be contacted by email.",
    "Changed plans at the last minute.",
)
VISIT_NOTES = (
    "Symptoms improving; continue current treatment.",
    "Advised rest and fluids; return if fever persists.",
    "Blood pressure stable; recheck in three months.",
    "Prescribed stretches; follow up in two weeks.",
    "Routine exam, no concerns.",
)
REVIEWS = {
    "good": (
        "Food arrived hot and the courier was friendly.",
        "Delicious, will order again.",
        "Everything was fresh and well packed.",
        "Fast delivery and generous portions.",
    ),
    "bad": (
        "The food was cold when it arrived.",
        "An item was missing from the bag.",
        "Delivery took much longer than promised.",
        "The order was not what I asked for.",
    ),
}
BILLED = (
    "Office visit",
    "Follow-up visit",
    "Lab panel",
    "Flu vaccination",
    "X-ray",
    "Telehealth consultation",
    "Physical therapy session",
    "Late cancellation fee",
)
# What each billed item usually costs before insurance, USD (low, high).
BILLED_PRICES: dict[str, tuple[float, float]] = {
    "Office visit": (90, 250),
    "Follow-up visit": (60, 180),
    "Lab panel": (40, 300),
    "Flu vaccination": (20, 60),
    "X-ray": (100, 450),
    "Telehealth consultation": (40, 120),
    "Physical therapy session": (70, 200),
    "Late cancellation fee": (25, 50),
}
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
# Where each airport lies (latitude, longitude in degrees), so that a flight takes the time
# its distance does.
AIRPORT_PLACES = {
    "SFO": (37.62, -122.38),
    "JFK": (40.64, -73.78),
    "LAX": (33.94, -118.41),
    "ORD": (41.98, -87.90),
    "DFW": (32.90, -97.04),
    "DEN": (39.86, -104.67),
    "SEA": (47.45, -122.31),
    "ATL": (33.64, -84.43),
    "MIA": (25.79, -80.29),
    "BOS": (42.37, -71.02),
    "PHX": (33.43, -112.01),
    "IAH": (29.99, -95.34),
    "LAS": (36.08, -115.15),
    "MCO": (28.43, -81.31),
    "EWR": (40.69, -74.17),
    "CLT": (35.21, -80.94),
    "MSP": (44.88, -93.22),
    "DTW": (42.21, -83.35),
    "PHL": (39.87, -75.24),
    "LGA": (40.78, -73.87),
}
CRUISE_KMH = 800.0  # a jet's average speed over the ground
MIN_ROUTE_KM = 250.0  # no airline flies a shorter route: people drive or take the train
MAX_DETOUR = 1.5  # a connection's legs together are at most this many times the direct way
TAXI_MINUTES = 40  # taxiing, climb and approach


def flight_minutes(origin: object, destination: object) -> int | None:
    """How long a flight between two known airports takes, on the five minutes: the
    great-circle distance at cruise speed, plus the time on the ground and in the climb."""
    km = route_km(origin, destination)
    if km is None:
        return None
    minutes = TAXI_MINUTES + km / CRUISE_KMH * 60
    return int(round(minutes / 5) * 5)


def route_km(origin: object, destination: object) -> float | None:
    """The great-circle distance between two known airports, in km; None when either is
    unknown or they are one."""
    a, b = AIRPORT_PLACES.get(str(origin)), AIRPORT_PLACES.get(str(destination))
    if a is None or b is None or a == b:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def detour_fits(stops: list[object]) -> bool:
    """Whether a path through known airports goes at most `MAX_DETOUR` times the direct way
    from its first to its last stop (a path with an unknown stop fits)."""
    legs = [route_km(a, b) for a, b in itertools.pairwise(stops)]
    direct = route_km(stops[0], stops[-1]) if len(stops) > 1 else None
    if direct is None or any(km is None for km in legs):
        return True
    return sum(km for km in legs if km is not None) <= MAX_DETOUR * direct


# A fare in the lowest class: a fixed part and a part per km, so longer routes cost more.
FARE_BASE = 60.0
FARE_PER_KM = 0.09
# How many times the lowest class's fare each class costs, by the class's place in its
# enum's declared order (basic economy, economy, business, first).
CLASS_FACTORS = (1.0, 1.4, 3.2, 4.6)


def route_fare(rng: random.Random, km: float | None) -> float:
    """The lowest class's fare on a route of `km` (a short one when unknown), give or take
    a fifth: what a seat costs on that day."""
    distance = km if km is not None else rng.uniform(300, 2500)
    return (FARE_BASE + FARE_PER_KM * distance) * rng.uniform(0.8, 1.2)


def class_fare(base: float, rank: int) -> int:
    """The fare of the class at `rank` in its enum's order, from the lowest class's."""
    factor = CLASS_FACTORS[min(rank, len(CLASS_FACTORS) - 1)] + max(0, rank - 3)
    return round(base * factor)


CARD_BRANDS = ("visa", "mastercard", "amex", "discover")
CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
MONEY_WORDS = frozenset(
    {
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
        "tip",
        "discount",
    }
)
_SEPARATORS = re.compile(r"[^a-z0-9]+")


@cache
def _faker(locale: str) -> Faker:
    fake = Faker(locale)
    # Faker draws names by weight, recomputing the cumulative weights on every draw; drawn
    # evenly from the same names, a record costs a tenth as much.
    for provider in fake.providers:
        for attr in dir(type(provider)):
            value = getattr(type(provider), attr, None)
            if attr.endswith("names") and isinstance(value, dict):
                setattr(provider, attr, tuple(value))
    return fake


def faker(rng: random.Random, locale: str = "en_US") -> Faker:
    """The locale's Faker, seeded from `rng`: what it draws next depends on `rng` alone."""
    fake = _faker(locale)
    fake.seed_instance(rng.getrandbits(64))
    return fake


def words(name: str) -> list[str]:
    """`visit_fee` and `visitFee` alike -> ['visit', 'fee']."""
    return list(_words(name))


@cache
def _words(name: str) -> tuple[str, ...]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return tuple(w for w in spaced.lower().split("_") if w)


def ascii_slug(text: str, sep: str = "") -> str:
    """Lower-case ASCII letters and digits of `text`, its other runs joined by `sep`."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _SEPARATORS.sub(sep, plain.lower()).strip(sep)


@dataclass(frozen=True)
class Persona:
    """One person in one locale, whose values agree: the email and user name are made from
    the name, the address's parts belong to one place."""

    locale: str
    first_name: str
    last_name: str
    email: str
    username: str
    phone: str
    street: str
    secondary: str
    city: str
    state: str
    zip: str
    country: str
    company: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def currency(self) -> str:
        return CURRENCIES.get(self.locale, "USD")

    @classmethod
    def make(cls, rng: random.Random, home: Home | None = None) -> Persona:
        """One person: in the home's locale and region when given, else in a locale drawn."""
        home = home if home is not None else Home.draw(rng)
        locale = home.locale
        fake = faker(rng, locale)
        first, last = fake.first_name(), fake.last_name()
        number = rng.randint(1, 9999)
        state = home.region if home.region is not None else _region(fake, locale)
        if locale == "en_US":
            zipcode = fake.zipcode_in_state(state)
        elif locale == "en_CA":
            zipcode = fake.postcode_in_province(state)
        else:
            zipcode = fake.postcode()
        return cls(
            locale=locale,
            first_name=first,
            last_name=last,
            email=f"{ascii_slug(first)}.{ascii_slug(last)}{number}@{rng.choice(MAIL_DOMAINS)}",
            username=f"{ascii_slug(first)}_{ascii_slug(last)}_{number % 1000}",
            phone=phone(rng, locale),
            street=f"{fake.building_number()} {fake.street_name()}",
            secondary=fake.secondary_address().strip(),
            city=fake.city(),
            state=state,
            zip=zipcode,
            country=home.country,
            company=fake.company(),
        )


class LazyPersona:
    """A persona drawn only when one of its values is read: a record made of numbers, dates
    and enumerations costs no draw."""

    def __init__(self, make: Callable[[], Persona]):
        self._make = make

    def __getattr__(self, name: str) -> Any:
        return getattr(self._make(), name)


def person_name(rng: random.Random) -> str:
    return Persona.make(rng).name


def email(rng: random.Random, first: str | None = None, last: str | None = None) -> str:
    persona = Persona.make(rng)
    first, last = first or persona.first_name, last or persona.last_name
    local = f"{ascii_slug(first)}.{ascii_slug(last)}".strip(".") or "member"
    return f"{local}{rng.randint(1, 999)}@{rng.choice(MAIL_DOMAINS)}"


def phone(rng: random.Random, locale: str = "en_US") -> str:
    """A mobile number of the locale's country, digits only: North America's ten (an area
    code and exchange with no leading 0 or 1), Britain's 07 and nine more, Australia's 04
    and eight more."""
    if locale == "en_GB":
        return f"07{rng.randint(100, 999)}{rng.randint(0, 999999):06d}"
    if locale == "en_AU":
        return f"04{rng.randint(0, 99999999):08d}"
    return f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"


PHONE_SHAPES = {
    "en_US": re.compile(r"[2-9]\d{2}[2-9]\d{6}"),
    "en_CA": re.compile(r"[2-9]\d{2}[2-9]\d{6}"),
    "en_GB": re.compile(r"07\d{9}"),
    "en_AU": re.compile(r"04\d{8}"),
}


def phone_of(value: str, locale: str) -> bool:
    """Whether a phone number, digits only, has the locale's shape."""
    shape = PHONE_SHAPES.get(locale)
    return shape is not None and shape.fullmatch(re.sub(r"\D", "", value)) is not None


def address(rng: random.Random, persona: Persona | None = None) -> str:
    p = persona or Persona.make(rng)
    return f"{p.street}, {p.city}, {p.state} {p.zip}"


def company(rng: random.Random) -> str:
    return faker(rng).company()


PRODUCT_LINES = ("Classic", "Compact", "Deluxe", "Essential", "Pro", "Travel", "Urban", "Eco")


def product(rng: random.Random) -> str:
    """A product type's name: a line and a kind. No colour: its variants come in several."""
    kind = rng.choice(PRODUCTS)
    if "color" in PRODUCT_KINDS.get(kind, ()):
        return f"{rng.choice(PRODUCT_LINES)} {kind}"
    return f"{faker(rng).safe_color_name().title()} {kind}"


def dish(rng: random.Random, cuisine: str | None = None) -> str:
    dishes = CUISINE_DISHES.get(cuisine or "") or rng.choice(list(CUISINE_DISHES.values()))
    return rng.choice(dishes)


def restaurant(rng: random.Random, cuisine: str | None = None) -> str:
    kinds = RESTAURANT_KINDS.get(cuisine or "") or ("Kitchen", "Bistro", "Eatery")
    fake = faker(rng)
    return rng.choice(
        [f"{fake.last_name()}'s {rng.choice(kinds)}", f"{rng.choice(kinds)} {fake.city()}"]
    )


def money(rng: random.Random, low: float = 5.0, high: float = 400.0) -> float:
    return round(rng.uniform(low, high), 2)


def shift_date(clock: str, days: int) -> str:
    return (date.fromisoformat(clock[:10]) + timedelta(days=days)).isoformat()


def shift_minutes(clock: str, minutes: int) -> str:
    """The date-time `minutes` after the clock (before it when negative), to the second."""
    moved = datetime.fromisoformat(clock) + timedelta(minutes=minutes)
    return moved.isoformat(timespec="seconds")


PAST_WORDS = frozenset(
    {
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
        "redeemed",
        "assigned",
        "updated",
        "at",
        "sent",
        "logged",
    }
)
FUTURE_WORDS = frozenset(
    {"expires", "expiry", "expiration", "due", "until", "end", "ends", "valid", "renewal"}
)


def date_for(
    rng: random.Random, tokens: list[str], clock: str, record: dict[str, Any] | None = None
) -> str:
    """A date near the domain clock: birthdays in the past, expiries ahead (a short course's
    within weeks), events around now."""
    t = set(tokens)
    short = any(isinstance(v, str) and v in SHORT_COURSES for v in (record or {}).values())
    if short and FUTURE_WORDS & t:
        return shift_date(clock, rng.randint(-20, 20))
    if {"birth", "dob", "born", "birthday"} & t:
        return shift_date(clock, -rng.randint(18 * 365, 85 * 365))
    if FUTURE_WORDS & t:
        return shift_date(clock, rng.randint(-30, 365))
    if PAST_WORDS & t:
        return shift_date(clock, -rng.randint(0, 365))
    return shift_date(clock, rng.randint(-45, 45))


def datetime_for(rng: random.Random, tokens: list[str], clock: str) -> str:
    """A date-time near the clock, on a quarter hour within working hours."""
    base = datetime.fromisoformat(clock)
    days = -rng.randint(0, 120) if PAST_WORDS & set(tokens) else rng.randint(-14, 21)
    day = (base + timedelta(days=days)).date()
    minute = rng.randrange(8 * 60, 18 * 60, 15)
    return f"{day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:00"


def int_for(rng: random.Random, tokens: list[str], record: dict[str, Any] | None = None) -> int:
    t = set(tokens)
    held = {v for v in (record or {}).values() if isinstance(v, str)}
    if {"baggages", "bags", "baggage"} & t:  # checked bags: one to three, few of them paid
        return (
            rng.choice((0, 0, 0, 1, 1, 2))
            if {"nonfree", "paid"} & t
            else rng.choice((1, 1, 2, 2, 3))
        )
    if "refills" in t and held & SHORT_COURSES:
        return 0  # a course of antibiotics is taken once
    if {"pct", "percent", "percentage"} & t:
        return rng.randrange(10, 95, 5)
    if {"duration", "min", "minutes", "length", "eta"} & t:
        return rng.choice((15, 30, 30, 45, 60))
    if {"rating", "stars", "priority", "level"} & t:
        return rng.randint(1, 5)
    if "age" in t:
        return rng.randint(18, 90)
    if "year" in t:
        return rng.randint(1995, 2024)
    if {"price", "prices", "fare", "fares"} & t:
        return rng.randint(50, 900)
    if {"quantity", "qty"} & t:
        return rng.choice((1, 1, 1, 2, 2, 3))
    if {
        "left",
        "remaining",
        "count",
        "stock",
        "seats",
        "refills",
        "available",
        "baggages",
        "bags",
    } & t:
        return rng.randint(0, 6)
    return rng.randint(1, 100)


def float_for(rng: random.Random, tokens: list[str], context: str = "") -> float:
    t = set(tokens)
    food = bool({"menu", "dish", "meal", "food", "drink"} & set(re.findall(r"[a-z]+", context)))
    if food and {"price", "cost"} & t:
        return money(rng, 4, 32)
    said = set(re.findall(r"[a-z]+", context))
    kind = set(re.findall(r"[a-z]+", context.partition("|")[2])) or said  # the struct's kind
    if {"balance", "amount"} & t and {"balance", "left", "remaining"} & (t | said):
        if {"certificate", "voucher"} & kind:  # issued in round values, spent whole
            return float(rng.choice((50, 100, 100, 150, 200, 250, 250, 300, 500)))
        if {"gift", "card", "wallet"} & kind:
            # a card bought in a round value and partly spent: seldom nothing, never more
            face = rng.choice((25, 50, 50, 100, 100, 150, 200))
            return float(face) if rng.random() < 0.3 else money(rng, 0.2 * face, face)
    if {"balance", "paid", "covered", "refund", "credit", "discount"} & t:
        return rng.choice((0.0, 0.0, money(rng, 10, 150)))
    if {"min", "minimum"} & t:
        return float(rng.choice((0, 10, 15, 20, 25, 30, 40)))
    if {"tax", "tip"} & t:
        return money(rng, 0.5, 12)
    if "fee" in t and {"delivery", "service", "booking", "shipping"} & (t | set(context.split())):
        return money(rng, 1.5, 9)
    if "fee" in t:
        return money(rng, 40, 250)
    if MONEY_WORDS & t:
        return money(rng)
    if {"rate", "ratio", "share", "score"} & t:
        return round(rng.random(), 2)
    if {"weight", "kg"} & t:
        return round(rng.uniform(0.2, 20), 1)
    return round(rng.uniform(1, 100), 2)


def text_for(
    rng: random.Random,
    tokens: list[str],
    entity: str = "",
    persona: Persona | LazyPersona | None = None,
    doc: str = "",
    record: dict[str, Any] | None = None,
) -> str:
    """A string value chosen by the field's name, refined by its entity, its doc and the
    record's other values (a dish of the restaurant's cuisine, a review matching its stars)."""
    p = persona if persona is not None else LazyPersona(lambda: Persona.make(rng))
    t = set(tokens)
    last = tokens[-1] if tokens else ""
    record = record or {}
    lowered = doc.lower()
    if "email" in t or "mail" in t:
        return p.email
    if {"phone", "mobile", "fax", "tel", "telephone"} & t:
        return p.phone
    if {"username", "login", "handle"} & t:
        return p.username
    if {"first", "given", "firstname"} & t:
        return p.first_name
    if {"last", "family", "surname", "lastname"} & t and "name" in t:
        return p.last_name
    if {"address2", "line2", "apartment", "suite", "unit", "secondary"} & t:
        return p.secondary
    if "street" in t or {"address1", "line1"} & t:
        return p.street
    if "address" in t:
        return address(rng, p)
    if "city" in t:
        return p.city
    if {"state", "province", "region", "county"} & t:
        return p.state
    if "country" in t:
        return p.country
    if {"zip", "zipcode", "postal", "postcode"} & t:
        return p.zip
    if t == {"last", "four"} or "four" in t:
        return f"{rng.randint(0, 9999):04d}"
    if "brand" in t and ("card" in lowered or "network" in lowered):
        return rng.choice(CARD_BRANDS)
    if {"airport", "origin", "destination"} & t or "airport" in lowered:
        origin = record.get("origin") if "destination" in t else None
        far = [a for a in AIRPORTS if (route_km(origin, a) or 0) >= MIN_ROUTE_KM]
        return rng.choice(far if origin in AIRPORT_PLACES and far else AIRPORTS)
    if {"medication", "drug", "medicine"} & t:
        return rng.choice(MEDICATIONS)
    if {"dosage", "dose"} & t:
        drug = next((v for v in (record or {}).values() if v in MEDICATION_DOSES), None)
        return rng.choice(MEDICATION_DOSES[drug] if drug is not None else DOSAGES)
    if {"allergy", "allergen", "allergies"} & t:
        return rng.choice(ALLERGENS)
    if {"color", "colour"} & t:
        return rng.choice(PRODUCT_OPTIONS["color"])
    if "currency" in t:
        return p.currency
    if {"url", "website", "link"} & t:
        return f"https://www.{ascii_slug(p.company, '-')}.example.com"
    if {"payer", "company", "vendor", "supplier", "manufacturer", "insurer", "employer"} & t:
        return p.company
    if {"airline", "carrier"} & t:
        return f"{faker(rng).city()} Air"
    if {"tracking", "waybill", "shipment"} & t and last in {"id", "number", "code", "ref"}:
        return str(rng.randint(10**11, 10**12 - 1))  # a carrier's number, unlike an item's
    if last in {"id", "number", "code", "sku", "ref"}:
        return issued_id(rng, tokens)
    if "time" in t or "hh:mm" in lowered:
        return time_of_day(rng)
    if "description" in t and ({"bill", "billed", "charge", "invoice"} & set(lowered.split())):
        return rng.choice(BILLED)
    if reasons.is_reason(t):
        return reasons.reason_for(rng, tokens, words(entity), doc, record)
    if {"comment", "review", "feedback"} & t:
        stars = record.get("stars", record.get("rating"))
        mood = "bad" if isinstance(stars, int) and stars <= 2 else "good"
        return rng.choice(REVIEWS[mood])
    if {"description", "details", "summary"} & t:
        return description(rng, entity, record)
    if {"notes", "note", "message", "text"} & t:
        return rng.choice(VISIT_NOTES if "clinician" in lowered or "visit" in lowered else NOTES)
    if {"title", "product", "item"} & t:
        return product(rng)
    if last == "name" or "name" in t:
        return name_for(rng, entity, doc, p, record)
    return faker(rng).word()


_NAMED_KINDS: tuple[tuple[frozenset[str], str], ...] = (
    (PERSON_ENTITIES, "person"),
    (frozenset({"menu", "dish", "meal", "food", "drink"}), "dish"),
    (frozenset({"restaurant", "cafe", "eatery", "diner"}), "restaurant"),
    (frozenset({"plan", "policy", "tier", "package", "subscription", "insurance"}), "plan"),
    (frozenset({"company", "vendor", "supplier", "payer", "airline", "store", "shop"}), "company"),
    (frozenset({"product", "article", "good", "goods"}), "product"),
)


_TITLED = frozenset({"clinician", "doctor", "physician"})


_PLAN_TIERS = ("Gold", "Silver", "Bronze", "Platinum", "Basic", "Plus", "Select")


def name_for(
    rng: random.Random,
    entity: str,
    doc: str,
    persona: Persona | LazyPersona,
    record: dict[str, Any],
) -> str:
    """A name plausible for what the entity is: a person's, a restaurant's, a dish's… The
    entity's name decides first, then the doc's words in order."""
    cuisine = record.get("cuisine") if isinstance(record.get("cuisine"), str) else None
    sources = [set(words(entity)), *({w} for w in re.findall(r"[a-z]+", doc.lower()))]
    kind = next((kind for tokens in sources for names, kind in _NAMED_KINDS if tokens & names), "")
    if kind == "person":
        # a doctor is introduced by title; the entity's own name says so, not its doc
        return f"Dr. {persona.name}" if set(words(entity)) & _TITLED else persona.name
    if kind == "dish":
        return dish(rng, cuisine)
    if kind == "restaurant":
        return restaurant(rng, cuisine)
    if kind == "plan":
        insurer = persona.company.split(",")[0].split(" ")[0]
        # a tier that repeats the insurer's word reads as a stutter ("Golden Gold")
        tiers = [t for t in _PLAN_TIERS if not insurer.lower().startswith(t.lower()[:4])]
        tier = rng.choice(tiers)
        # no number in the name, which a reader would take for the share it covers
        kind_of = rng.choice(("PPO", "HMO", "EPO", "POS"))
        return f"{insurer} {tier} {kind_of}"
    if kind == "company":
        return persona.company
    return product(rng)


def description(rng: random.Random, entity: str, record: dict[str, Any]) -> str:
    """A description made from the record's own values where it has them."""
    ent = set(words(entity))
    percent = record.get("percent_off", record.get("percent"))
    if isinstance(percent, int):
        minimum = record.get("min_subtotal")
        if isinstance(minimum, int | float) and minimum > 0:
            return f"{percent}% off orders of {minimum:.2f} USD or more"
        return f"{percent}% off your order"
    name = record.get("name")
    if isinstance(name, str) and ent & {"menu", "item", "dish"}:
        style = rng.choice(("House-made", "Freshly prepared", "Classic", "Chef's"))
        return f"{style} {name.lower()}, served {rng.choice(('hot', 'fresh', 'to share'))}"
    return rng.choice(NOTES)


def option_sets(rng: random.Random, entity: str, doc: str, name: str = "") -> dict[str, list[str]]:
    """Option names to their choices, for a dish or a product; a product named after one of
    the known kinds ("Maroon T-Shirt") gets the options of its kind."""
    tokens = set(words(entity)) | set(re.findall(r"[a-z]+", doc.lower()))
    food = bool({"menu", "dish", "meal", "food"} & tokens)
    kind = product_kind(name)
    if not food and kind is not None:
        own = PRODUCT_KINDS[kind]
        names = sorted(rng.sample(own, rng.randint(1, len(own))))
        sets = {n: KIND_CHOICES.get((kind, n), PRODUCT_OPTIONS[n]) for n in own}
    else:
        sets = OPTION_SETS if food else PRODUCT_OPTIONS
        pool = sorted(sets) if food else ["color", "size", "material"]
        names = sorted(rng.sample(pool, rng.randint(0 if food else 1, 2)))
    return {n: list(rng.sample(sets[n], rng.randint(2, len(sets[n])))) for n in names}


def value_for(
    rng: random.Random,
    name: str,
    kind: str,
    clock: str,
    entity: str = "",
    persona: Persona | LazyPersona | None = None,
    doc: str = "",
    record: dict[str, Any] | None = None,
) -> object:
    """A realistic value for a field or parameter name.

    The value is of a plain kind: str, int, float, bool, date or datetime.
    """
    tokens = words(name)
    if kind == "int":
        return int_for(rng, tokens, record)
    if kind == "float":
        held = (record or {}).get("__source")  # the kind of the struct it is in (a gift card)
        said = " ".join([*words(entity), doc.lower()])
        kind = " ".join(words(held)) if isinstance(held, str) else ""
        return float_for(rng, tokens, f"{said} | {kind}" if kind else said)
    if kind == "bool" and tokens[:1] == ["can"]:
        return may(rng, record or {})
    if kind == "bool":
        return (
            rng.random() < 0.7
            if {"open", "available", "active"} & set(tokens)
            else (rng.random() < 0.5)
        )
    if kind == "date":
        return date_for(rng, tokens, clock, record)
    if kind == "datetime":
        return datetime_for(rng, tokens, clock)
    if tokens[-1:] == ["date"] or "yyyy-mm-dd" in doc.lower():
        return date_for(rng, tokens, clock)
    return text_for(rng, tokens, entity, persona, doc, record)


# Roles whose holders may not do what a `can_…` flag allows (a physiotherapist does not
# prescribe); the others may.
LIMITED_ROLES = frozenset(
    {
        "physiotherapy",
        "physiotherapist",
        "therapy",
        "therapist",
        "nurse",
        "assistant",
        "intern",
        "trainee",
        "receptionist",
        "student",
    }
)


def may(rng: random.Random, record: dict[str, Any]) -> bool:
    """A `can_…` flag by the record's role: unset for a role of `LIMITED_ROLES`, else set."""
    said = {w for v in record.values() if isinstance(v, str) for w in words(v.replace(" ", "_"))}
    return not said & LIMITED_ROLES


def issued_id(rng: random.Random, tokens: list[str]) -> str:
    """An id as an issuer hands it out, not a count: a member's or a policy's three
    letters and nine digits, else ten digits (an item's, a product's)."""
    if {"member", "policy", "account", "license", "licence", "passport"} & set(tokens):
        letters = "".join(rng.choice(CODE_LETTERS) for _ in range(3))
        return f"{letters}{rng.randint(10**8, 10**9 - 1)}"
    return str(rng.randint(10**9, 10**10 - 1))


def word(rng: random.Random) -> str:
    return faker(rng).word()


def code(rng: random.Random, length: int, tokens: list[str] | None = None) -> str:
    """A code of exactly `length` characters: an airport code for a three-letter airport,
    origin or destination; else capital letters (and digits past four characters)."""
    t = set(tokens or ())
    if length == 3 and {"airport", "origin", "destination", "from", "to"} & t:
        return rng.choice(AIRPORTS)
    if length == 3 and "currency" in t:
        return rng.choice(("USD", "EUR", "GBP", "JPY", "CAD"))
    if length == 4 and "four" in t:
        return f"{rng.randint(0, 9999):04d}"
    alphabet = CODE_LETTERS if length <= 4 else CODE_LETTERS + "0123456789"
    return "".join(rng.choice(alphabet) for _ in range(length))


WAKING_HOURS = (6, 23)  # when people's events happen: from six in the morning to eleven


def time_of_day(rng: random.Random) -> str:
    """A time HH:MM:SS on a quarter hour, in waking hours."""
    minute = rng.randrange(WAKING_HOURS[0] * 60, WAKING_HOURS[1] * 60, 15)
    return f"{minute // 60:02d}:{minute % 60:02d}:00"
