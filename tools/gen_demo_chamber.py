#!/usr/bin/env python3
"""Generate the bundled demo chamber: ``src/booksync/demo/data/*.csv``.

The demo is a fictional chamber of commerce in the Dayton, Ohio area: about
400 members, two years of annual dues, event registrations, sponsorships,
advertising and certificates of origin, some credit memos, and the payments
received against all of it.  The data deliberately holds the cases a
QuickBooks sync must survive: names with ``&``, apostrophes, accents, a
character outside ISO-8859-1, a colon, quotes and ``<``; a name longer than
QuickBooks' 41 characters; two members with the same name; partial payments,
overpayments, unapplied payments, one payment for several invoices, and credit
memos applied through (sometimes zero-amount) payments.

Everything is drawn from one seeded ``random.Random`` and written with
``csv.writer``: running the script twice produces byte-identical files.  The
consistency rules are checked with asserts before anything is written.

Usage: python tools/gen_demo_chamber.py [output-directory]
"""
from __future__ import annotations

import csv
import random
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

SEED = 1908
OUT_DIR = Path(__file__).resolve().parent.parent / "src" / "booksync" / "demo" / "data"

FIRST_DAY = date(2025, 1, 2)      # first invoice date
LAST_DAY = date(2026, 11, 20)     # last invoice / credit memo date
PAY_CAP = date(2026, 11, 25)      # last payment date ("today" for the demo)
MAX_PAY_LAG = 75                  # a payment is at most this many days after an invoice it pays
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# --------------------------------------------------------------------------- chart of accounts

GL_ACCOUNTS = [
    ("1000", "Operating Checking", "Bank", "Checking"),
    ("1050", "Undeposited Funds", "OtherCurrentAsset", "Undeposited Funds"),
    ("1200", "Accounts Receivable", "AccountsReceivable", "Accounts Receivable"),
    ("2400", "Deferred Dues Revenue", "OtherCurrentLiability", "Deferred Revenue"),
    ("4010", "Dues - Individual", "Income", "Membership Dues:Individual"),
    ("4020", "Dues - Small Business", "Income", "Membership Dues:Small Business"),
    ("4030", "Dues - Corporate", "Income", "Membership Dues:Corporate"),
    ("4040", "Dues - Chairman's Circle", "Income", "Membership Dues:Chairman's Circle"),
    ("4100", "Event Registrations", "Income", "Events"),
    ("4200", "Sponsorships", "Income", "Sponsorships"),
    ("4300", "Advertising", "Income", "Advertising Income"),
    ("4400", "Certificates of Origin", "Income", "Certificates of Origin"),
    ("4550", "Contributions", "Income", "Contributions"),
]

TIERS = {  # dues G/L -> (tier name, annual rate)
    "4010": ("Individual", Decimal("150.00")),
    "4020": ("Small Business", Decimal("325.00")),
    "4030": ("Corporate", Decimal("750.00")),
    "4040": ("Chairman's Circle", Decimal("2500.00")),
}
DOWNGRADE = {"4040": "4030", "4030": "4020"}

TIER_WEIGHTS = {  # member category -> weights of 4020, 4030, 4040
    "small": (90, 9, 1),
    "mid": (45, 45, 10),
    "maker": (35, 50, 15),
    "large": (0, 35, 65),
}

# --------------------------------------------------------------------------- names and places

SURNAMES = """
Abernathy Adeyemi Anderson Baker Banerjee Beckett Bennett Brennan Brooks Caldwell Carter
Castillo Chen Collins Cooper Costa Delgado Dixon Donovan Duarte Dunbar Ellis Engel Everett
Fairchild Ferrante Fischer Fitzgerald Foster Gallagher Garcia Gibson Graham Greer Griffin
Hale Hamilton Hargrove Harper Hayes Henderson Hoffman Holloway Huang Hughes Ibarra Iverson
Jablonski Jackson Jensen Jovanovic Kaplan Keller Kessler Kim Kowalski Krueger Lambert Larson
Lawson Lindqvist Lindsey Lombardi Maddox Mahoney Marshall Martinez Mason McAllister Mercer
Meyer Miller Mitchell Monroe Morales Murphy Nakamura Navarro Nguyen Nolan Novak Okafor Olsen
Ortega Ostrowski Owens Palmer Park Patel Perry Petrakis Pham Porter Pruitt Quinn Radcliffe
Rahman Ramirez Reed Reyes Richter Rivera Robinson Rossi Russo Sanders Schaefer Schmidt
Schneider Shah Shelby Simmons Singh Sorensen Stanton Sullivan Takahashi Tanaka Taylor
Thompson Thornton Tran Turner Underwood Vance Vasquez Vaughn Voss Wagner Walsh Warner Weber
Whitaker Whitfield Williams Wilson Wolfe Wozniak Yates Young Zimmerman
""".split()

FIRST_NAMES = """
Aaron Abigail Adrian Aisha Alan Alicia Amanda Andre Angela Anthony Ashley Barbara Benjamin
Brandon Brenda Brian Carlos Carol Catherine Charles Christopher Cynthia Daniel David Deborah
Denise Derek Diana Donald Donna Dorothy Douglas Elena Elizabeth Emily Eric Erin Frank Gary
Gloria Grace Gregory Hannah Heather Henry Isaac Jacob James Janet Jason Jennifer Jeremy
Jessica Joan John Jonathan Joseph Joshua Julia Justin Karen Katherine Keith Kenneth Kevin
Kimberly Laura Lauren Linda Lisa Lucas Margaret Maria Mark Marcus Megan Melissa Michael
Michelle Monica Nancy Nathan Nicole Olivia Patricia Patrick Paul Priya Rachel Raymond
Rebecca Richard Robert Ronald Ruth Ryan Samantha Samuel Sandra Sarah Scott Sharon Stephanie
Stephen Steven Susan Teresa Thomas Timothy Tyler Valerie Victor Victoria Walter William Wei
Yolanda Zachary
""".split()

PLACES = [
    "Kettering", "Beavercreek", "Centerville", "Oakwood", "Miamisburg", "Huber Heights",
    "Fairborn", "Xenia", "Vandalia", "Springboro", "Riverside", "Englewood", "Trotwood",
    "Miami Valley", "Gem City", "Mad River", "Stillwater", "Great Miami", "Five Rivers",
    "Sugarcreek", "Wolf Creek", "Far Hills", "Oregon District", "Downtown", "Twin Valley",
    "Bellbrook",
]

MOTIFS = [
    "Blue Heron", "Red Oak", "Silver Maple", "Copper Kettle", "Iron Horse", "Golden Leaf",
    "North Star", "Stone Bridge", "Cedar Ridge", "Hidden Creek", "Old Mill", "Tall Pines",
    "Summit", "Keystone", "Cornerstone", "Lighthouse", "Evergreen", "Pinnacle", "Meridian",
    "Heritage", "Liberty", "Parkside", "Brickyard", "Lantern", "Canal Street", "Fifth Street",
    "Brown Street", "Wayne Avenue", "Third Street", "Harvest Moon", "Bluebird", "Sycamore",
    "Willow Bend", "Riverbend", "Prairie Wind", "Blackbird", "Fox Run", "Crossroads",
    "Bright Path", "Arrowhead",
]

# Business types: (suffix, category, patterns).  Patterns: S surname, P place,
# M motif, D two surnames ("Walsh and Ortega ..."), B "<Surname> Brothers ...".
BUSINESS_TYPES = [
    ("Dental", "small", "SPM"), ("Family Dentistry", "small", "SP"),
    ("Orthodontics", "small", "SP"), ("Law Office", "small", "SD"), ("Law Group", "small", "SD"),
    ("Hardware", "small", "SP"), ("Bakery", "small", "SPM"), ("Insurance Agency", "small", "SPD"),
    ("CPA Group", "small", "SPD"), ("Tax and Accounting", "small", "SPM"), ("Realty", "small", "SPM"),
    ("Real Estate Group", "small", "SPM"), ("Plumbing", "small", "SPB"),
    ("Heating and Cooling", "small", "SPMB"), ("Brewing Company", "small", "PM"),
    ("Florist", "small", "SPM"), ("Auto Repair", "small", "SPMB"), ("Collision Center", "small", "SP"),
    ("Chiropractic", "small", "SPM"), ("Veterinary Clinic", "small", "SP"),
    ("Animal Hospital", "small", "PM"), ("Landscaping", "small", "SPMB"), ("Roofing", "small", "SPB"),
    ("Electric", "small", "SPMB"), ("Printing", "small", "SPM"), ("Marketing Group", "small", "SM"),
    ("Photography", "small", "SM"), ("Coffee Roasters", "small", "PM"), ("Cafe", "small", "PM"),
    ("Pizzeria", "small", "SPM"), ("Tavern", "small", "PM"), ("Catering", "small", "SM"),
    ("Salon and Spa", "small", "M"), ("Barber Shop", "small", "SPM"), ("Fitness", "small", "PM"),
    ("Yoga Studio", "small", "M"), ("Dance Academy", "small", "PM"), ("Learning Center", "small", "PM"),
    ("Financial Advisors", "small", "SMD"), ("Wealth Management", "small", "SM"),
    ("IT Solutions", "small", "PM"), ("Web Design", "small", "M"), ("Home Inspections", "small", "SM"),
    ("Cleaning Services", "small", "PM"), ("Pest Control", "small", "PM"), ("Travel", "small", "M"),
    ("Eye Care", "small", "PM"), ("Pharmacy", "small", "SP"), ("Physical Therapy", "small", "PM"),
    ("Funeral Home", "small", "SB"), ("Jewelers", "small", "S"), ("Boutique", "small", "M"),
    ("Books", "small", "M"), ("Furniture", "small", "SP"), ("Tire and Auto", "small", "SP"),
    ("Car Wash", "small", "PM"), ("Title Agency", "small", "PM"), ("Mortgage", "small", "PM"),
    ("Sign Company", "small", "PM"), ("Bicycle Shop", "small", "PM"), ("Pet Grooming", "small", "M"),
    ("Tutoring", "small", "M"), ("Counseling Services", "small", "PM"), ("Bridal", "small", "M"),
    ("Wine Bar", "small", "M"), ("Grill", "small", "M"), ("Diner", "small", "SPM"),
    ("Construction", "mid", "SPMB"), ("Builders", "mid", "SM"), ("Engineering", "mid", "SMD"),
    ("Architects", "mid", "SMD"), ("Staffing", "mid", "PM"), ("Logistics", "mid", "PM"),
    ("Hotel and Conference Center", "mid", "P"), ("Inn", "mid", "M"), ("Event Center", "mid", "PM"),
    ("Consulting Group", "mid", "SM"), ("Medical Group", "mid", "PM"), ("Senior Living", "mid", "M"),
    ("Moving and Storage", "mid", "SPB"), ("Distributing", "mid", "SP"), ("Homes", "mid", "S"),
    ("Orthopedics", "mid", "P"),
    ("Precision Machining", "maker", "SP"), ("Tool and Die", "maker", "SPM"),
    ("Manufacturing", "maker", "SPM"), ("Fabrication", "maker", "SMB"), ("Plastics", "maker", "PM"),
    ("Industrial Coatings", "maker", "PM"), ("Castings", "maker", "PM"), ("Controls", "maker", "M"),
    ("Aerospace Components", "maker", "PM"),
]
CATEGORY_WEIGHTS = {"small": 75, "mid": 15, "maker": 10}

LARGE_MEMBERS = [
    "Miami Valley Community Bank", "Gem City Federal Credit Union", "Five Rivers Health System",
    "Stillwater Regional Medical Center", "Great Miami Energy Cooperative", "Kettering Savings Bank",
    "Beavercreek Federal Credit Union", "Huber Heights Community Bank", "Mad River Aerospace",
    "Centerville National Bank", "Sugarcreek Health Partners", "Far Hills Insurance Group",
    "Riverbend Mutual Insurance", "Valley Telecom", "Twin Valley Distribution",
    "Oakwood Trust Company", "Miami Valley Builders Supply", "Gem City University",
]

# The deliberate sync-breakers: number -> fields.  All are active members.
SPECIAL_MEMBERS = {
    "1007": dict(name="Smith & Sons Hardware", category="small", tier="4020",
                 first="Robert", last="Smith", domain="smithandsonshardware.com"),
    "1023": dict(name="O'Malley's Irish Pub", category="small", tier="4020",
                 first="Siobhan", last="O'Malley", domain="omalleysirishpub.com"),
    "1042": dict(name="Café Olé Bakery", category="small", tier="4020",
                 first="José", last="Hernández", domain="cafeolebakery.com"),
    "1088": dict(name="Dvořák Music Studio", category="small", tier="4020",
                 first="Tereza", last="Dvořáková", domain="dvorakmusicstudio.com"),
    "1115": dict(name="Zürich Precision Machining", category="maker", tier="4030",
                 first="Lukas", last="Brunner", domain="zurichprecision.com", exporter=True),
    "1150": dict(name="The Greater Riverside Regional Economic Development Corporation",
                 category="large", tier="4040", first="Denise", last="Whitaker",
                 domain="greaterriversideedc.org"),
    "1177": dict(name="Main Street Dental", category="small", tier="4020",
                 first="Karen", last="Lindqvist", domain="mainstreetdental.com",
                 address=("1420 N Main St", "Dayton", "45405")),
    "1233": dict(name="Acme: The Widget Company", category="maker", tier="4030",
                 first="Wendell", last="Coyle", domain="acmewidget.com", exporter=True),
    "1267": dict(name='Bits <&> Bytes "Computer" Repair', category="small", tier="4020",
                 first="Priya", last="Banerjee", domain="bitsandbytesrepair.com"),
    "1302": dict(name="Main Street Dental", category="small", tier="4020",
                 first="Marcus", last="Okafor", domain="mainstreetdentalmiamisburg.com",
                 address=("36 S Main St", "Miamisburg", "45342")),
}

CITIES = [  # (city, weight, ZIP codes, streets)
    ("Dayton", 30, ["45402", "45403", "45404", "45405", "45406", "45409", "45410", "45414",
                    "45415", "45417", "45419", "45420", "45439", "45440"],
     ["N Main St", "S Main St", "E Third St", "W Third St", "Brown St", "Wayne Ave", "Salem Ave",
      "Wilmington Ave", "Linden Ave", "Keowee St", "E Monument Ave", "S Patterson Blvd",
      "Springfield St", "Troy St", "Needmore Rd", "N Dixie Dr", "E Fifth St", "Warren St"]),
    ("Kettering", 12, ["45419", "45420", "45429", "45440"],
     ["Far Hills Ave", "Stroop Rd", "Dorothy Ln", "Wilmington Pike", "Woodman Dr", "Shroyer Rd",
      "Marshall Rd", "E David Rd"]),
    ("Beavercreek", 10, ["45430", "45431", "45432", "45434", "45440"],
     ["Dayton-Xenia Rd", "N Fairfield Rd", "Grange Hall Rd", "Indian Ripple Rd", "Kemp Rd",
      "Pentagon Blvd", "Shakertown Rd"]),
    ("Centerville", 9, ["45458", "45459"],
     ["N Main St", "Far Hills Ave", "E Franklin St", "Clyo Rd", "Spring Valley Rd", "Loop Rd",
      "Miamisburg Centerville Rd"]),
    ("Miamisburg", 6, ["45342"],
     ["S Main St", "Byers Rd", "Mound Rd", "Lyons Rd", "Kettering Blvd", "Newmark Dr"]),
    ("Huber Heights", 6, ["45424"],
     ["Brandt Pike", "Old Troy Pike", "Executive Blvd", "Chambersburg Rd", "Taylorsville Rd"]),
    ("Fairborn", 5, ["45324"],
     ["W Main St", "Broad St", "Kauffman Ave", "Colonel Glenn Hwy", "Dayton-Yellow Springs Rd"]),
    ("Xenia", 4, ["45385"], ["W Main St", "N Detroit St", "Progress Dr", "S Allison Ave"]),
    ("Vandalia", 4, ["45377"], ["S Dixie Dr", "National Rd", "Northwoods Blvd", "Corporate Center Dr"]),
    ("Springboro", 4, ["45066"], ["S Main St", "W Central Ave", "Tech Dr", "N Pioneer Blvd"]),
    ("Oakwood", 3, ["45409", "45419"], ["Far Hills Ave", "Park Ave", "Shroyer Rd"]),
    ("Riverside", 3, ["45404", "45424", "45431"], ["Airway Rd", "Harshman Rd", "Springfield St"]),
    ("Englewood", 2, ["45322"], ["W National Rd", "S Main St", "Union Blvd"]),
    ("Trotwood", 2, ["45426"], ["Salem Ave", "Olive Rd", "W Main St"]),
]

METHODS = [("Check", 45), ("Credit Card", 35), ("ACH", 15), ("Cash", 5)]

# --------------------------------------------------------------------------- records


@dataclass
class Member:
    number: str
    name: str
    company: str
    first: str
    last: str
    address1: str
    address2: str
    city: str
    postal_code: str
    email: str
    phone: str
    category: str                 # individual, small, mid, maker or large
    tier: str                     # dues G/L billed in 2025
    tier_2026: str = ""           # dues G/L billed in 2026
    active: bool = True
    lapse: date | None = None     # inactive members: nothing is billed from this date on
    exporter: bool = False
    special: bool = False
    dues_years: tuple[int, ...] = (2025, 2026)
    downgrade_year: int | None = None
    anniversary: tuple[int, int] = (1, 2)
    method: str = "Check"
    check_no: int = 1001
    card: str = "x4242"

    def billable(self, day: date) -> bool:
        """True when the member may be billed on ``day``."""
        return self.lapse is None or day < self.lapse


@dataclass
class Line:
    gl: str
    description: str
    quantity: int
    rate: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.rate * self.quantity).quantize(CENT)


@dataclass
class Doc:
    """An invoice or a credit memo."""

    seq: int
    member: Member
    date: date
    lines: list[Line]
    kind: str                     # dues, event, sponsorship, advertising, coo, credit
    memo: str = ""
    number: str = ""
    event_date: date | None = None
    source: Doc | None = None     # credit memo: the invoice it credits
    apply: bool = False           # credit memo: applied through a payment

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def due_date(self) -> date:
        return self.date + timedelta(days=30)


@dataclass
class App:
    invoice: Doc
    amount: Decimal
    credit_memo: Doc | None = None
    credit: Decimal = ZERO


@dataclass
class Payment:
    seq: int
    member: Member
    date: date
    amount: Decimal
    method: str
    memo: str = ""
    apps: list[App] = field(default_factory=list)
    number: str = ""
    reference: str = ""
    deposit: str = "1050"


# --------------------------------------------------------------------------- helpers


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def rand_date(rng: random.Random, lo: date, hi: date) -> date:
    assert lo <= hi, (lo, hi)
    return lo + timedelta(days=rng.randint(0, (hi - lo).days))


def weighted(rng: random.Random, pairs):
    """Choose from ``[(value, weight), ...]``."""
    values = [value for value, _ in pairs]
    return rng.choices(values, weights=[weight for _, weight in pairs])[0]


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


class Counter:
    """Creation order: the tie-breaker that keeps sorting deterministic."""

    def __init__(self) -> None:
        self.value = 0

    def __call__(self) -> int:
        self.value += 1
        return self.value


# --------------------------------------------------------------------------- members


def business_name(rng: random.Random, used: set[str]) -> tuple[str, str]:
    """A new business name and its category."""
    while True:
        category = weighted(rng, CATEGORY_WEIGHTS.items())
        suffix, _, patterns = rng.choice([t for t in BUSINESS_TYPES if t[1] == category])
        pattern = rng.choice(patterns)
        if pattern == "S":
            stem = rng.choice(SURNAMES)
        elif pattern == "P":
            stem = rng.choice(PLACES)
        elif pattern == "M":
            stem = rng.choice(MOTIFS)
        elif pattern == "D":
            first, second = rng.sample(SURNAMES, 2)
            stem = f"{first} and {second}"
        else:
            stem = f"{rng.choice(SURNAMES)} Brothers"
        name = f"{stem} {suffix}"
        if len(name) <= 41 and name.lower() not in used and name != "Main Street Dental":
            used.add(name.lower())
            return name, category


def address(rng: random.Random, name: str) -> tuple[str, str, str, str]:
    """A street address; a business named after a city is in that city."""
    hints = [c for c in CITIES if re.search(rf"\b{c[0]}\b", name)]
    city, _, zips, streets = hints[0] if hints else rng.choices(
        CITIES, weights=[c[1] for c in CITIES])[0]
    address1 = f"{rng.randint(100, 9899)} {rng.choice(streets)}"
    address2 = ""
    if rng.random() < 0.15:
        address2 = rng.choice(["Suite ", "Ste ", "Unit "]) + str(rng.choice(
            [100, 101, 110, 120, 150, 200, 210, 220, 250, 300, 310, 400, 500]))
    return address1, address2, city, rng.choice(zips)


def email_for(rng: random.Random, first: str, last: str, domain: str) -> str:
    local = weighted(rng, [("info", 60), ("office", 10), ("billing", 10), ("contact", 5),
                           (ascii_slug(first) + "." + ascii_slug(last), 15)])
    return f"{local}@{domain}"


def business_domain(name: str) -> str:
    words = [w for w in name.split() if w.lower() not in ("the", "and")]
    slug = ascii_slug("".join(words))
    if len(slug) > 30:
        slug = "".join(ascii_slug(w)[:1] for w in words[:-1]) + ascii_slug(words[-1])
    return slug + ".com"


def new_member(rng: random.Random, number: str, kind: str, used: set[str], phones: set[str]) -> Member:
    """Build member ``number``; kind is 'special', 'individual', a large name, or 'business'."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    special = SPECIAL_MEMBERS.get(number)
    if special:
        name, category, first, last = (special["name"], special["category"],
                                       special["first"], special["last"])
        company, domain = name, special["domain"]
    elif kind == "individual":
        while f"{last}, {first}".lower() in used:
            first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        name, company, category = f"{last}, {first}", "", "individual"
        used.add(name.lower())
        domain = rng.choice(["gmail.com", "yahoo.com", "outlook.com", "att.net", "icloud.com"])
    else:
        if kind == "business":
            name, category = business_name(rng, used)
        else:
            name, category = kind, "large"
            used.add(name.lower())
        company, domain = name, business_domain(name)
        if category == "small" and name.split()[0] in SURNAMES and rng.random() < 0.5:
            last = name.split()[0]
    address1, address2, city, postal = address(rng, name)
    if special and "address" in special:
        (address1, city, postal), address2 = special["address"], ""
    phone = ""
    while not phone or phone in phones:
        phone = f"(937) 555-{rng.randint(0, 9999):04d}"
    phones.add(phone)
    if category == "individual":
        email = f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}"
        tier = "4010"
    else:
        email = email_for(rng, first, last, domain)
        tier = special["tier"] if special else weighted(
            rng, list(zip(("4020", "4030", "4040"), TIER_WEIGHTS[category])))
    exporter = bool(special and special.get("exporter")) or (
        category == "maker" and rng.random() < 0.6)
    month = weighted(rng, [(1, 40), (2, 30), (3, 30)])
    return Member(
        number=number, name=name, company=company, first=first, last=last,
        address1=address1, address2=address2, city=city, postal_code=postal, email=email,
        phone=phone, category=category, tier=tier, tier_2026=tier, exporter=exporter,
        special=bool(special), anniversary=(month, rng.randint(2 if month == 1 else 1, 28)),
        method=weighted(rng, METHODS), check_no=rng.randint(1001, 8800),
        card=rng.choice(["x4242", f"x{rng.randint(0, 9999):04d}"]),
    )


def make_members(rng: random.Random) -> list[Member]:
    numbers = [str(n) for n in range(1001, 1401)]
    ordinary = [n for n in numbers if n not in SPECIAL_MEMBERS]
    chosen = rng.sample(ordinary, 12 + len(LARGE_MEMBERS))
    kinds = {n: "individual" for n in chosen[:12]}
    kinds.update(zip(chosen[12:], LARGE_MEMBERS))
    used = {m["name"].lower() for m in SPECIAL_MEMBERS.values()}
    phones: set[str] = set()
    members = [new_member(rng, n, kinds.get(n, "business"), used, phones) for n in numbers]
    set_status(rng, [m for m in members if not m.special])
    return members


def set_status(rng: random.Random, ordinary: list[Member]) -> None:
    """Inactive members, dues years and tier downgrades (special members keep the defaults)."""
    for member in rng.sample(ordinary, 32):
        member.active = False
        member.lapse = rand_date(rng, date(2025, 4, 1), date(2025, 12, 15))
        member.dues_years = (2025,)
    for member in ordinary:
        if member.active:
            roll = rng.random()
            if roll < 0.09:
                member.dues_years = (2026,)
            elif roll < 0.18:
                member.dues_years = (2025,)
    candidates = [m for m in ordinary if m.active and m.tier in DOWNGRADE and len(m.dues_years) == 2]
    for index, member in enumerate(rng.sample(candidates, 10)):
        member.downgrade_year = 2025 if index < 6 else 2026
        if member.downgrade_year == 2025:
            member.tier_2026 = DOWNGRADE[member.tier]


# --------------------------------------------------------------------------- invoices


def po_memo(rng: random.Random, member: Member, thanks: bool = False) -> str:
    roll = rng.random()
    if member.category in ("mid", "maker", "large") and roll < 0.15:
        return f"PO {rng.randint(1000, 9999)}"
    if thanks and roll > 0.88:
        return "Thank you for your membership"
    if roll > 0.97:
        return rng.choice(["Per our conversation", "Net 30", "Please reference invoice number"])
    return ""


def make_dues(rng: random.Random, members: list[Member], seq: Counter) -> list[Doc]:
    invoices = []
    for member in members:
        for year in member.dues_years:
            gl = member.tier if year == 2025 else member.tier_2026
            tier_name, rate = TIERS[gl]
            lines = [Line(gl, f"{year} Annual Membership Dues - {tier_name}", 1, rate)]
            if rng.random() < 0.10 and member.category != "individual":
                if member.exporter:
                    lines.append(Line("4400", "Certificate of Origin processing",
                                      rng.randint(1, 3), Decimal("35.00")))
                else:
                    lines.append(Line("4300", "Additional directory listing",
                                      rng.choice([1, 1, 1, 2]), Decimal("75.00")))
            day = date(year, *member.anniversary)
            invoices.append(Doc(seq(), member, day, lines, "dues", po_memo(rng, member, True)))
    return invoices


def second_thursday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 7)


# (label, unit, rate, max quantity, weight, event dates)
EVENTS = [
    ("Annual Meeting and Luncheon", "seat", "45.00", 8, 10, [date(2025, 1, 30), date(2026, 1, 29)]),
    ("State of the City Luncheon", "seat", "40.00", 8, 12, [date(2025, 3, 20), date(2026, 3, 19)]),
    ("Legislative Breakfast", "ticket", "35.00", 4, 12,
     [date(2025, 2, 14), date(2025, 9, 12), date(2026, 2, 13), date(2026, 9, 11)]),
    ("Business After Hours", "registration", "15.00", 4, 22,
     [second_thursday(y, m) for y in (2025, 2026) for m in range(1, 12) if m != 7]),
    ("Women in Business Luncheon", "ticket", "40.00", 4, 10,
     [date(2025, 5, 8), date(2025, 10, 16), date(2026, 5, 14), date(2026, 10, 15)]),
    ("Golf Outing foursome", "", "600.00", 1, 8, [date(2025, 6, 16), date(2026, 6, 15)]),
    ("Golf Outing individual golfer", "golfer", "160.00", 2, 5, [date(2025, 6, 16), date(2026, 6, 15)]),
    ("Annual Awards Gala", "ticket", "85.00", 6, 16, [date(2025, 11, 7), date(2026, 11, 13)]),
    ("Annual Awards Gala reserved table of 8", "", "650.00", 1, 4, [date(2025, 11, 7), date(2026, 11, 13)]),
    ("Holiday Open House", "ticket", "20.00", 4, 8, [date(2025, 12, 4), date(2026, 12, 3)]),
    ("Young Professionals Mixer", "ticket", "20.00", 3, 6,
     [date(y, m, 5) for y in (2025, 2026) for m in (3, 6, 9)]),
    ("Leadership Miami Valley tuition", "", "1450.00", 1, 2, [date(2025, 8, 21), date(2026, 8, 20)]),
]

CATEGORY_PULL = {"individual": 1, "small": 2, "mid": 3, "maker": 2, "large": 4}


def pick_member(rng: random.Random, members: list[Member], day: date, pull=CATEGORY_PULL) -> Member:
    eligible = [m for m in members if m.billable(day) and pull.get(m.category, 0)]
    return rng.choices(eligible, weights=[pull[m.category] for m in eligible])[0]


def event_line(rng: random.Random, event, event_date: date) -> Line:
    label, unit, rate, max_qty, _, _ = event
    quantity = rng.randint(1, max_qty) if max_qty > 1 else 1
    if label.startswith("Business After Hours") or label.startswith("Young Professionals"):
        title = f"{label} - {event_date:%B %Y}"
    else:
        title = f"{event_date.year} {label}"
    if unit:
        title += f" - {quantity} {unit}{'s' if quantity > 1 else ''}"
    return Line("4100", title, quantity, Decimal(rate))


def invoice_window(event_date: date, earliest: int, latest: int) -> tuple[date, date] | None:
    """Invoice dates between ``earliest`` and ``latest`` days before an event, inside the demo."""
    lo = max(FIRST_DAY, event_date - timedelta(days=earliest))
    hi = min(LAST_DAY, event_date - timedelta(days=latest))
    return (lo, hi) if lo <= hi else None


def make_events(rng: random.Random, members: list[Member], seq: Counter, count: int) -> list[Doc]:
    instances = [(event, day) for event in EVENTS for day in event[5]
                 if invoice_window(day, 45, 4)]
    weights = [event[4] / len(event[5]) for event, _ in instances]
    specials = [m for m in members if m.special]
    invoices = []
    for index in range(count):
        event, event_date = rng.choices(instances, weights=weights)[0]
        day = rand_date(rng, *invoice_window(event_date, 45, 4))
        member = specials[index] if index < len(specials) else pick_member(rng, members, day)
        if not member.billable(day):
            continue
        lines = [event_line(rng, event, event_date)]
        invoices.append(Doc(seq(), member, day, lines, "event", po_memo(rng, member),
                            event_date=event_date))
    return invoices


# (package, amount, weight, event dates)
SPONSORSHIPS = [
    ("Annual Awards Gala - Presenting Sponsor", "10000.00", 1, [date(2025, 11, 7), date(2026, 11, 13)]),
    ("Annual Awards Gala - Gold Sponsor", "5000.00", 2, [date(2025, 11, 7), date(2026, 11, 13)]),
    ("Annual Awards Gala - Table Sponsor", "1500.00", 3, [date(2025, 11, 7), date(2026, 11, 13)]),
    ("Golf Outing - Title Sponsor", "7500.00", 1, [date(2025, 6, 16), date(2026, 6, 15)]),
    ("Golf Outing - Hole Sponsor", "500.00", 5, [date(2025, 6, 16), date(2026, 6, 15)]),
    ("Golf Outing - Beverage Cart Sponsor", "1000.00", 2, [date(2025, 6, 16), date(2026, 6, 15)]),
    ("Business After Hours - Host Sponsor", "750.00", 4,
     [second_thursday(y, m) for y in (2025, 2026) for m in (4, 8, 10)]),
    ("Legislative Breakfast Series - Sponsor", "2500.00", 2, [date(2025, 2, 14), date(2026, 2, 13)]),
    ("State of the City Luncheon - Presenting Sponsor", "3500.00", 1, [date(2025, 3, 20), date(2026, 3, 19)]),
    ("Annual Meeting - Table Sponsor", "1000.00", 2, [date(2025, 1, 30), date(2026, 1, 29)]),
]
SPONSOR_PULL = {"small": 1, "mid": 4, "maker": 3, "large": 8}


def make_sponsorships(rng: random.Random, members: list[Member], seq: Counter, count: int) -> list[Doc]:
    invoices = []
    while len(invoices) < count:
        package, amount, _, days = weighted(rng, [(s, s[2]) for s in SPONSORSHIPS])
        event_date = rng.choice(days)
        window = invoice_window(event_date, 90, 14)
        if window is None:
            continue
        day = rand_date(rng, *window)
        member = pick_member(rng, members, day, SPONSOR_PULL)
        lines = [Line("4200", f"{event_date.year} {package}", 1, Decimal(amount))]
        if rng.random() < 0.2:
            lines.append(Line("4300", "Event program ad - full page", 1, Decimal("250.00")))
        invoices.append(Doc(seq(), member, day, lines, "sponsorship", po_memo(rng, member),
                            event_date=event_date))
    return invoices


def advertising_line(rng: random.Random, day: date) -> Line:
    next_month = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    directory_year = day.year + 1 if day.month >= 9 else day.year
    choice = rng.randint(1, 6)
    if choice == 1:
        issues = rng.choice([1, 1, 3])
        text = (f"Newsletter banner ad - {next_month:%B %Y}" if issues == 1
                else f"Newsletter banner ad - {issues} issues from {next_month:%B %Y}")
        return Line("4300", text, issues, Decimal("150.00"))
    if choice == 2:
        return Line("4300", f"Member directory {directory_year} - full page ad", 1, Decimal("900.00"))
    if choice == 3:
        return Line("4300", f"Member directory {directory_year} - half page ad", 1, Decimal("500.00"))
    if choice == 4:
        return Line("4300", f"Member directory {directory_year} - quarter page ad", 1, Decimal("300.00"))
    if choice == 5:
        months = rng.choice([3, 6])
        return Line("4300", f"Website featured member listing - {months} months", months,
                    Decimal("100.00"))
    return Line("4300", f"Community Guide {directory_year} - business card ad", 1, Decimal("225.00"))


def make_advertising(rng: random.Random, members: list[Member], seq: Counter, count: int) -> list[Doc]:
    invoices = []
    pull = {"small": 3, "mid": 2, "maker": 1, "large": 2}
    for _ in range(count):
        day = rand_date(rng, FIRST_DAY, LAST_DAY)
        member = pick_member(rng, members, day, pull)
        lines = [advertising_line(rng, day)]
        if rng.random() < 0.12:
            lines.append(Line("4300", "Website featured member listing - 3 months", 3,
                              Decimal("100.00")))
        invoices.append(Doc(seq(), member, day, lines, "advertising", po_memo(rng, member)))
    return invoices


def make_certificates(rng: random.Random, members: list[Member], seq: Counter, count: int) -> list[Doc]:
    """Certificates of origin, billed to exporters in bursts of 1-3 shipments."""
    exporters = [m for m in members if m.exporter]
    invoices: list[Doc] = []
    burst: list[date] = []
    while len(invoices) < count:
        if not burst:
            member = rng.choice(exporters)
            start = rand_date(rng, FIRST_DAY, LAST_DAY)
            burst = [start + timedelta(days=k * rng.randint(4, 12)) for k in range(rng.randint(1, 3))]
        day = burst.pop(0)
        if day > LAST_DAY or not member.billable(day):
            continue
        lines = [Line("4400", "Certificate of Origin - member rate", rng.randint(1, 6),
                      Decimal("25.00"))]
        roll = rng.random()
        if roll < 0.25:
            lines.append(Line("4400", "Certificate of Origin - expedited processing",
                              rng.randint(1, 2), Decimal("45.00")))
        elif roll < 0.35:
            lines.append(Line("4400", "Commercial invoice certification", rng.randint(1, 3),
                              Decimal("35.00")))
        invoices.append(Doc(seq(), member, day, lines, "coo", po_memo(rng, member)))
    return invoices


def make_invoices(rng: random.Random, members: list[Member]) -> list[Doc]:
    seq = Counter()
    invoices = (make_dues(rng, members, seq) + make_events(rng, members, seq, 165)
                + make_sponsorships(rng, members, seq, 25) + make_advertising(rng, members, seq, 42)
                + make_certificates(rng, members, seq, 64))
    invoices.sort(key=lambda doc: (doc.date, doc.seq))
    for index, invoice in enumerate(invoices):
        invoice.number = f"INV{10001 + index}"
    return invoices


# --------------------------------------------------------------------------- credit memos


def cancellation(rng: random.Random, invoice: Doc, seq: Counter, apply: bool, full: bool) -> Doc:
    line = invoice.lines[0]
    quantity = line.quantity if full or line.quantity == 1 else rng.randint(1, line.quantity - 1)
    day = rand_date(rng, invoice.date + timedelta(days=1),
                    min(invoice.event_date - timedelta(days=1), LAST_DAY))
    text = "Cancelled registration - " + re.sub(r" - \d+ \w+$", "", line.description)
    if quantity != line.quantity or line.quantity > 1:
        text += f" ({quantity} of {line.quantity})"
    credit = Line("4100", text, quantity, line.rate)
    return Doc(seq(), invoice.member, day, [credit], "credit",
               rng.choice([f"Re {invoice.number}", "Event cancellation", ""]),
               source=invoice, apply=apply)


def downgrade(rng: random.Random, invoice: Doc, seq: Counter, apply: bool) -> Doc:
    old = invoice.lines[0].gl
    new = DOWNGRADE[old]
    text = (f"{invoice.date.year} dues tier change - {TIERS[old][0]} to {TIERS[new][0]}")
    day = rand_date(rng, invoice.date + timedelta(days=5), invoice.date + timedelta(days=40))
    credit = Line(old, text, 1, TIERS[old][1] - TIERS[new][1])
    return Doc(seq(), invoice.member, day, [credit], "credit", f"Re {invoice.number}",
               source=invoice, apply=apply)


def make_good(rng: random.Random, invoice: Doc, seq: Counter, apply: bool) -> Doc:
    line = invoice.lines[0]
    day = rand_date(rng, invoice.date + timedelta(days=10),
                    min(invoice.date + timedelta(days=45), LAST_DAY))
    rate = line.rate if line.rate < 300 else (line.rate / 2).quantize(CENT)
    credit = Line("4300", f"Make-good credit - {line.description}", 1, rate)
    return Doc(seq(), invoice.member, day, [credit], "credit",
               "Ad ran with outdated artwork", source=invoice, apply=apply)


def make_credit_memos(rng: random.Random, invoices: list[Doc]) -> list[Doc]:
    """13 event cancellations, 10 dues downgrades and 2 advertising make-goods; 10 are applied."""
    seq = Counter()
    events = [inv for inv in invoices if inv.kind == "event" and not inv.member.special
              and (inv.event_date - inv.date).days >= 4 and inv.date < LAST_DAY]
    memos = []
    for index, invoice in enumerate(rng.sample(events, 13)):
        memos.append(cancellation(rng, invoice, seq, apply=index < 5, full=index < 4 or rng.random() < 0.5))
    dues = [inv for inv in invoices if inv.kind == "dues" and inv.member.downgrade_year == inv.date.year]
    for index, invoice in enumerate(dues):
        memos.append(downgrade(rng, invoice, seq, apply=index % 3 == 0 and index < 10))
    ads = [inv for inv in invoices if inv.kind == "advertising" and inv.date < date(2026, 9, 1)]
    for index, invoice in enumerate(rng.sample(ads, 2)):
        memos.append(make_good(rng, invoice, seq, apply=index == 0))
    memos.sort(key=lambda doc: (doc.date, doc.seq))
    for index, memo in enumerate(memos):
        memo.number = f"CM{1001 + index}"
    return memos


# --------------------------------------------------------------------------- payments


class PaymentBook:
    """Builds the payments, in creation order; numbering comes later (see finish_payments)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.seq = Counter()
        self.payments: list[Payment] = []

    def method_for(self, member: Member) -> str:
        if self.rng.random() < 0.4:
            return member.method
        return weighted(self.rng, METHODS)

    def pay_date(self, method: str, invoices: list[Doc], earliest: date | None = None) -> date:
        """A date on or after every invoice (and ``earliest``), within the allowed lag."""
        lo = max([inv.date for inv in invoices] + ([earliest] if earliest else []))
        hi = min(min(inv.date for inv in invoices) + timedelta(days=MAX_PAY_LAG), PAY_CAP)
        lag = {"Credit Card": (0, 10), "ACH": (3, 35), "Check": (7, 55), "Cash": (0, 30)}[method]
        return min(lo + timedelta(days=self.rng.randint(*lag)), hi)

    def add(self, member: Member, day: date, amount: Decimal, method: str, apps: list[App],
            memo: str = "") -> Payment:
        payment = Payment(self.seq(), member, day, amount, method, memo, apps)
        self.payments.append(payment)
        return payment

    def memo(self, invoice: Doc | None = None) -> str:
        roll = self.rng.random()
        if roll < 0.88:
            return ""
        options = ["Thank you!", "Per statement"]
        if invoice is not None:
            options.append(f"Payment for {invoice.number}")
            options.append("Dues renewal" if invoice.kind == "dues" else "See remittance advice")
        return self.rng.choice(options)

    def credit_payment(self, memo: Doc) -> None:
        """Apply credit memo ``memo`` to the invoice it credits; cash pays the rest."""
        invoice = memo.source
        cash = invoice.total - memo.total
        method = self.method_for(invoice.member) if cash else "Cash"
        day = self.pay_date(method, [invoice], earliest=memo.date)
        text = f"Applied {memo.number}" if cash else f"Credit memo {memo.number} applied"
        self.add(invoice.member, day, cash, method, [App(invoice, cash, memo, memo.total)], text)

    def partial(self, invoice: Doc, installments: int, leave_open: bool) -> None:
        """Pay ``invoice`` in installments; with ``leave_open`` the last one never comes."""
        base = (invoice.total / installments).quantize(Decimal("1"), rounding=ROUND_DOWN)
        amounts = [base] * (installments - 1) + [invoice.total - base * (installments - 1)]
        if leave_open:
            amounts = amounts[:-1]
        hi = min(invoice.date + timedelta(days=MAX_PAY_LAG), PAY_CAP)
        day = invoice.date + timedelta(days=self.rng.randint(0, 20))
        for amount in amounts:
            day = min(day, hi)
            method = self.method_for(invoice.member)
            self.add(invoice.member, day, amount, method, [App(invoice, amount)],
                     self.rng.choice(["", "", "Installment", "Partial payment"]))
            day += timedelta(days=self.rng.randint(14, 28))

    def combined(self, invoices: list[Doc]) -> None:
        member = invoices[0].member
        method = self.method_for(member)
        day = self.pay_date(method, invoices)
        apps = [App(inv, inv.total) for inv in invoices]
        total = sum((inv.total for inv in invoices), ZERO)
        self.add(member, day, total, method, apps, self.rng.choice(["", "", "Per statement"]))

    def single(self, invoice: Doc, overpay: bool) -> None:
        method = self.method_for(invoice.member)
        day = self.pay_date(method, [invoice])
        amount, memo = invoice.total, self.memo(invoice)
        if overpay:
            amount = overpayment(self.rng, invoice.total)
            memo = self.rng.choice(["", "Overpayment - leave as credit", "Rounded up"])
        self.add(invoice.member, day, amount, method, [App(invoice, invoice.total)], memo)

    def unapplied(self, member: Member) -> None:
        text, amount = self.rng.choice([
            ("Prepayment - 2027 dues", TIERS[member.tier_2026][1]),
            ("Deposit - Holiday Open House table", Decimal("160.00")),
            ("Advance for certificates of origin", Decimal("200.00")),
            ("Payment received without invoice", Decimal("100.00")),
        ])
        method = self.method_for(member)
        day = rand_date(self.rng, date(2026, 8, 1), PAY_CAP)
        self.add(member, day, amount, method, [], text)


def overpayment(rng: random.Random, total: Decimal) -> Decimal:
    options = [total + Decimal("25.00"), total + Decimal("10.00"), total * 2]
    rounded = (total / 50).quantize(Decimal("1"), rounding=ROUND_DOWN) * 50 + 50
    options.append(rounded)
    return rng.choice(options).quantize(CENT)


def unpaid_chance(invoice: Doc) -> float:
    """The likelihood that nobody has paid ``invoice`` yet: higher for recent invoices."""
    if invoice.member.special and invoice.kind == "dues" and invoice.date.year == 2025:
        return 0.0
    if not invoice.member.active and invoice.kind == "dues":
        return 0.5
    age = (PAY_CAP - invoice.date).days
    if age < 30:
        return 0.85
    if age < 75:
        return 0.45
    if age < 150:
        return 0.30
    return 0.18


def best_group(invoices: list[Doc]) -> list[Doc]:
    """The largest run (at most 4) of one member's invoices dated within 60 days."""
    docs = sorted(invoices, key=lambda d: (d.date, d.seq))
    runs = [[d for d in docs[start:] if (d.date - first.date).days <= 60][:4]
            for start, first in enumerate(docs)]
    return max(runs, key=len)


def group_candidates(rng: random.Random, invoices: list[Doc], wanted: int) -> list[list[Doc]]:
    """``wanted`` groups of 2-4 invoices of one member (one group per member), about a
    third of them of 3 or 4 invoices."""
    by_member: dict[str, list[Doc]] = {}
    for invoice in invoices:
        by_member.setdefault(invoice.member.number, []).append(invoice)
    numbers = [n for n, docs in by_member.items() if len(docs) >= 2]
    rng.shuffle(numbers)
    runs = [run for run in (best_group(by_member[n]) for n in numbers) if len(run) >= 2]
    large = [run for run in runs if len(run) >= 3][: wanted // 3]
    pairs = [run[:2] for run in runs if all(run is not big for big in large)]
    return large + pairs[: wanted - len(large)]


def make_payments(rng: random.Random, members: list[Member], invoices: list[Doc],
                  memos: list[Doc]) -> list[Payment]:
    book = PaymentBook(rng)
    reserved = {memo.source.number for memo in memos if memo.apply}
    for memo in memos:
        if memo.apply:
            book.credit_payment(memo)
    paid = [inv for inv in invoices
            if inv.number not in reserved and rng.random() >= unpaid_chance(inv)]
    candidates = [inv for inv in paid if inv.total >= 150
                  and inv.date + timedelta(days=40) <= PAY_CAP]
    partial = rng.sample(candidates, 44)
    for index, invoice in enumerate(partial):
        book.partial(invoice, 3 if index < 9 or rng.random() < 0.5 else 2, leave_open=index < 9)
    taken = {inv.number for inv in partial}
    rest = [inv for inv in paid if inv.number not in taken]
    groups = group_candidates(rng, rest, 30)
    for group in groups:
        book.combined(group)
        taken.update(inv.number for inv in group)
    singles = [inv for inv in rest if inv.number not in taken]
    overpaid = {inv.number for inv in rng.sample(singles, 10)}
    for invoice in singles:
        book.single(invoice, invoice.number in overpaid)
    for member in rng.sample([m for m in members if m.active], 5):
        book.unapplied(member)
    return finish_payments(rng, book.payments)


def finish_payments(rng: random.Random, payments: list[Payment]) -> list[Payment]:
    """Number payments in date order; give each its reference and deposit account."""
    payments.sort(key=lambda p: (p.date, p.seq))
    for index, payment in enumerate(payments):
        payment.number = f"R{20001 + index}"
        member = payment.member
        if payment.method == "Check":
            member.check_no += rng.randint(1, 12)
            payment.reference = f"{member.check_no:04d}"
        elif payment.method == "Credit Card":
            payment.reference = member.card
        elif payment.method == "ACH":
            payment.reference = f"ACH-{rng.randint(10000, 99999)}"
            if rng.random() < 0.10:
                payment.deposit = "1000"
    return payments


# --------------------------------------------------------------------------- checks


MONEY_RE = re.compile(r"^\d+\.\d\d$")


def check(members: list[Member], invoices: list[Doc], memos: list[Doc],
          payments: list[Payment]) -> None:
    """Assert the consistency rules the demo promises."""
    by_number = {m.number: m for m in members}
    assert len(by_number) == len(members)
    names = [m.name for m in members]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert duplicates == ["Main Street Dental"], duplicates
    assert len({n.lower() for n in names}) == len(names) - 1
    for member in members:
        assert len(member.first) <= 25 and len(member.last) <= 25, member
        assert re.fullmatch(r"\d{5}", member.postal_code)
        assert re.fullmatch(r"\(\d{3}\) \d{3}-\d{4}", member.phone)
    invoice_by_number = {inv.number: inv for inv in invoices}
    memo_by_number = {cm.number: cm for cm in memos}
    for doc in invoices + memos:
        assert by_number[doc.member.number] is doc.member
        assert FIRST_DAY <= doc.date <= LAST_DAY, doc.number
        assert len(doc.number) <= 11
        for line in doc.lines:
            assert line.quantity >= 1 and line.rate > 0
            assert line.amount == line.rate * line.quantity
            assert MONEY_RE.match(money(line.amount)) and MONEY_RE.match(money(line.rate))
    for memo in memos:
        source = invoice_by_number[memo.source.number]
        assert source.member is memo.member and source.date < memo.date
        gl = memo.lines[0].gl
        assert all(line.gl == gl for line in memo.lines)
        assert memo.total <= sum((l.amount for l in source.lines if l.gl == gl), ZERO)
    applied = {inv.number: ZERO for inv in invoices}
    credited = {cm.number: ZERO for cm in memos}
    for payment in payments:
        assert payment.date <= PAY_CAP and payment.amount >= 0
        assert MONEY_RE.match(money(payment.amount))
        assert payment.amount >= sum((a.amount for a in payment.apps), ZERO)
        for app in payment.apps:
            invoice = invoice_by_number[app.invoice.number]
            assert invoice.member is payment.member
            assert 0 <= (payment.date - invoice.date).days <= MAX_PAY_LAG, payment
            assert app.amount >= 0 and app.credit >= 0
            applied[invoice.number] += app.amount + app.credit
            if app.credit_memo is not None:
                memo = memo_by_number[app.credit_memo.number]
                assert memo.member is payment.member and memo.date <= payment.date
                assert 0 < app.credit <= memo.total
                credited[memo.number] += app.credit
    for invoice in invoices:
        assert applied[invoice.number] <= invoice.total, invoice.number
    for memo in memos:
        assert credited[memo.number] <= memo.total, memo.number
    for rows in (invoices, memos, payments):
        assert [r.date for r in rows] == sorted(r.date for r in rows)
    assert sum(1 for p in payments if p.amount == 0 and p.apps) >= 2


# --------------------------------------------------------------------------- output


def write_csv(path: Path, header: list[str], rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def member_rows(members: list[Member]):
    for m in members:
        yield [m.number, m.name, m.company, m.first, m.last, m.address1, m.address2, m.city,
               "OH", m.postal_code, m.email, m.phone, "active" if m.active else "inactive", ""]


def doc_rows(docs: list[Doc]):
    for doc in docs:
        for line in doc.lines:
            yield [doc.number, doc.member.number, doc.date.isoformat(), doc.due_date.isoformat(),
                   doc.memo, line.gl, line.description, str(line.quantity), money(line.rate),
                   money(line.amount)]


def payment_rows(payments: list[Payment]):
    for p in payments:
        head = [p.number, p.member.number, p.date.isoformat(), money(p.amount), p.method,
                p.reference, p.deposit, p.memo]
        if not p.apps:
            yield head + ["", "", "", ""]
        for app in p.apps:
            memo = app.credit_memo
            yield head + [app.invoice.number, money(app.amount),
                          memo.number if memo else "", money(app.credit) if memo else ""]


DOC_HEADER = ["number", "member", "date", "due_date", "memo", "gl_account", "description",
              "quantity", "rate", "amount"]


def write_all(out: Path, members, invoices, memos, payments) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "gl_accounts.csv", ["number", "name", "type", "qb_account"], GL_ACCOUNTS)
    write_csv(out / "members.csv", [
        "number", "name", "company", "contact_first", "contact_last", "address1", "address2",
        "city", "state", "postal_code", "email", "phone", "status", "qb_customer",
    ], member_rows(members))
    write_csv(out / "invoices.csv", DOC_HEADER, doc_rows(invoices))
    write_csv(out / "credit_memos.csv", DOC_HEADER, doc_rows(memos))
    write_csv(out / "payments.csv", [
        "number", "member", "date", "amount", "method", "reference", "deposit_account", "memo",
        "apply_to", "apply_amount", "apply_credit_memo", "apply_credit_amount",
    ], payment_rows(payments))


def summary(members, invoices, memos, payments) -> None:
    billed = sum((inv.total for inv in invoices), ZERO)
    apps = [app for p in payments for app in p.apps]
    cash_applied = sum((a.amount for a in apps), ZERO)
    credit_applied = sum((a.credit for a in apps), ZERO)
    received = sum((p.amount for p in payments), ZERO)
    settled = {inv.number: ZERO for inv in invoices}
    for app in apps:
        settled[app.invoice.number] += app.amount + app.credit
    open_invoices = sum(1 for inv in invoices if settled[inv.number] < inv.total)
    unpaid = sum(1 for inv in invoices if settled[inv.number] == 0)
    print(f"members        {len(members)} ({sum(not m.active for m in members)} inactive)")
    print(f"invoices       {len(invoices)} ({sum(len(i.lines) for i in invoices)} lines)")
    print(f"credit memos   {len(memos)} ({sum(m.apply for m in memos)} applied, "
          f"{money(sum((m.total for m in memos), ZERO))})")
    print(f"payments       {len(payments)} ({len(apps)} applications, "
          f"{sum(not p.apps for p in payments)} unapplied, "
          f"{sum(len(p.apps) > 1 for p in payments)} multi-invoice, "
          f"{sum(p.amount > sum((a.amount for a in p.apps), ZERO) and bool(p.apps) for p in payments)}"
          f" overpayments, {sum(p.amount == 0 for p in payments)} zero-amount)")
    print(f"open invoices  {open_invoices} ({unpaid} wholly unpaid)")
    print(f"billed         {money(billed)}")
    print(f"paid           {money(cash_applied)} cash applied + {money(credit_applied)} credits "
          f"applied (cash received {money(received)})")
    print(f"open           {money(billed - cash_applied - credit_applied)}")


# --------------------------------------------------------------------------- sales receipts (issue 21 item 1)

RECEIPT_SEED = SEED + 21
"""Sales receipts draw from their own generator, so the other files stay byte-identical."""
WALK_IN_EVENTS = [(name, unit, rate, dates) for name, unit, rate, _, _, dates in EVENTS if unit in ("seat", "ticket")]
DONATIONS = ["Donation to the Chamber Foundation scholarship fund", "Donation to the Small Business Week program",
             "Donation to the Holiday Toy Drive", "Sustaining gift to the Chamber Foundation"]


@dataclass
class Receipt:
    number: str
    member: Member
    day: date
    memo: str
    method: str
    reference: str
    deposit: str
    lines: list[Line]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def make_receipts(members: list[Member]) -> list[Receipt]:
    """Event tickets bought at the door and donations, paid on the spot: card receipts go to Undeposited Funds
    (1050) with the day's card payments, checks for donations straight to the checking account (1000)."""
    rng = random.Random(RECEIPT_SEED)
    active = [m for m in members if m.active]
    out: list[Receipt] = []
    for name, unit, rate, dates in WALK_IN_EVENTS:
        for day in dates:
            if day > LAST_DAY:
                continue
            for _ in range(rng.randint(1, 2)):
                qty = rng.randint(1, 3)
                price = Decimal(rate)
                line = Line("4100", f"{name}, {day:%B %-d, %Y}: {unit}s at the door", qty, price)
                method = rng.choice(["Credit Card", "Credit Card", "Check"])
                out.append(Receipt("", rng.choice(active), day, "Walk-in registration", method,
                                    f"x{rng.randint(1000, 9999)}" if method == "Credit Card" else
                                    str(rng.randint(1001, 9999)), "1050", [line]))
    for _ in range(14):
        amount = Decimal(rng.choice(["50.00", "100.00", "100.00", "250.00", "500.00"]))
        day = rand_date(rng, FIRST_DAY, LAST_DAY)
        by_check = rng.random() < 0.5
        out.append(Receipt("", rng.choice(active), day, "Thank you for your gift", "Check" if by_check else
                           "Credit Card", str(rng.randint(1001, 9999)) if by_check else f"x{rng.randint(1000, 9999)}",
                           "1000" if by_check else "1050",
                           [Line("4550", rng.choice(DONATIONS), 1, amount)]))
    out.sort(key=lambda r: (r.day, r.member.number))
    for n, receipt in enumerate(out, 1):
        receipt.number = f"SR{30000 + n}"
    return out


def receipt_rows(receipts: list[Receipt]):
    for r in receipts:
        for line in r.lines:
            yield [r.number, r.member.number, r.day.isoformat(), r.memo, money(r.total), r.method, r.reference,
                   r.deposit, line.gl, line.description, str(line.quantity), money(line.rate), money(line.amount)]


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else OUT_DIR
    rng = random.Random(SEED)
    members = make_members(rng)
    invoices = make_invoices(rng, members)
    memos = make_credit_memos(rng, invoices)
    payments = make_payments(rng, members, invoices, memos)
    check(members, invoices, memos, payments)
    write_all(out, members, invoices, memos, payments)
    receipts = make_receipts(members)
    write_csv(out / "sales_receipts.csv", ["number", "member", "date", "memo", "total", "method", "reference",
                                           "deposit_account", "gl_account", "description", "quantity", "rate",
                                           "amount"], receipt_rows(receipts))
    summary(members, invoices, memos, payments)
    print(f"sales receipts {len(receipts)} ({money(sum((r.total for r in receipts), ZERO))})")
    print(f"written to     {out}")


if __name__ == "__main__":
    main(sys.argv)
