"""The simulated business: cards, players, teams, customers and facilities (pure, deterministic per seed).

The world depends only on the seed, never on how many events are asked for, so the `history` stream
(journal) and the `live` stream (RabbitMQ) of one seed describe the same catalog.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from decimal import Decimal
from itertools import accumulate

SPORTS: dict[str, tuple[str, ...]] = {
    "baseball": (
        "New York Yankees",
        "Los Angeles Dodgers",
        "Chicago Cubs",
        "Boston Red Sox",
        "Houston Astros",
    ),
    "basketball": (
        "Los Angeles Lakers",
        "Boston Celtics",
        "Golden State Warriors",
        "Chicago Bulls",
        "Miami Heat",
    ),
    "football": (
        "Kansas City Chiefs",
        "Dallas Cowboys",
        "Green Bay Packers",
        "San Francisco 49ers",
        "Buffalo Bills",
    ),
    "hockey": (
        "Toronto Maple Leafs",
        "Montreal Canadiens",
        "Edmonton Oilers",
        "Boston Bruins",
        "Colorado Avalanche",
    ),
    "soccer": ("Inter Miami", "LA Galaxy", "Seattle Sounders", "Atlanta United", "Real Salt Lake"),
}
SETS: dict[str, tuple[str, ...]] = {
    "baseball": ("Topps Chrome", "Bowman", "Topps Series 1"),
    "basketball": ("Prizm", "Select", "Donruss Optic"),
    "football": ("Prizm", "Mosaic", "Contenders"),
    "hockey": ("Upper Deck Series 1", "SP Authentic", "O-Pee-Chee"),
    "soccer": ("Topps MLS", "Prizm MLS", "Select"),
}
FIRST_NAMES = (
    "Alex",
    "Jordan",
    "Chris",
    "Sam",
    "Taylor",
    "Luis",
    "Mateo",
    "Noah",
    "Kai",
    "Ethan",
    "Leo",
    "Marcus",
    "Andre",
    "Tyler",
    "Victor",
    "Ryan",
    "Jalen",
    "Connor",
    "Diego",
    "Shohei",
)
LAST_NAMES = (
    "Smith",
    "Garcia",
    "Johnson",
    "Martinez",
    "Brown",
    "Okafor",
    "Tanaka",
    "Nguyen",
    "Williams",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Silva",
    "Anderson",
    "Lee",
    "Hernandez",
    "Murphy",
    "Cohen",
)
# (parallel name, serial print run or None, price multiplier)
PARALLELS: tuple[tuple[str, int | None, Decimal], ...] = (
    ("Base", None, Decimal(1)),
    ("Silver", None, Decimal(3)),
    ("Refractor /499", 499, Decimal(5)),
    ("Blue /199", 199, Decimal(8)),
    ("Green /99", 99, Decimal(12)),
    ("Gold /10", 10, Decimal(40)),
    ("Black 1/1", 1, Decimal(150)),
)
PARALLEL_WEIGHTS = (40, 20, 12, 10, 8, 7, 3)
# facility -> defect probability per produced card
FACILITIES: dict[str, float] = {
    "carlsbad-ca": 0.01,
    "memphis-tn": 0.025,
    "dallas-tx": 0.04,
    "monterrey-mx": 0.06,
}
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class CardState:
    """The catalog attributes of one SKU (what card_created / card_updated carry)."""

    sku: str
    player_name: str
    team: str
    sport: str
    set_name: str
    set_year: int
    parallel: str
    print_run: int | None
    is_rookie: bool
    list_price: Decimal


@dataclass(frozen=True, slots=True)
class World:
    cards: tuple[CardState, ...]
    # cumulative Zipf-like demand weights aligned with `cards` (a few SKUs sell most)
    demand_cum_weights: tuple[float, ...]
    customers: tuple[str, ...]
    facilities: tuple[str, ...]


def _price(rng: random.Random, multiplier: Decimal) -> Decimal:
    base = Decimal(rng.randint(99, 4999)) / 100  # 0.99 .. 49.99
    price = (base * multiplier).quantize(CENT)
    if rng.random() < 0.03:
        # a few marketplace prices with sub-cent precision (exactness is tested end to end)
        price += Decimal(rng.randint(1, 9_999_999)) / 1_000_000_000
    return price


def build_world(seed: int, *, skus: int = 1000, customers: int = 5000) -> World:
    """Build the catalog, demand curve, customers and facilities for a seed."""
    rng = random.Random(f"world:{seed}")
    sports = tuple(SPORTS)
    cards: list[CardState] = []
    players: list[tuple[str, str, str, int]] = []  # name, sport, team, rookie year
    for _ in range(max(1, skus // 4)):
        sport = rng.choice(sports)
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        players.append((name, sport, rng.choice(SPORTS[sport]), rng.randint(2018, 2025)))
    parallels_cum = tuple(accumulate(PARALLEL_WEIGHTS))
    for index in range(skus):
        name, sport, team, rookie_year = rng.choice(players)
        year = rng.randint(rookie_year, 2025)
        parallel, print_run, multiplier = rng.choices(PARALLELS, cum_weights=parallels_cum)[0]
        cards.append(
            CardState(
                sku=f"SKU-{seed % 1000:03d}-{index:06d}",
                player_name=name,
                team=team,
                sport=sport,
                set_name=rng.choice(SETS[sport]),
                set_year=year,
                parallel=parallel,
                print_run=print_run,
                is_rookie=year == rookie_year,
                list_price=_price(rng, multiplier),
            )
        )
    ranks = list(range(1, skus + 1))
    rng.shuffle(ranks)
    weights = [1.0 / rank**1.1 for rank in ranks]
    return World(
        cards=tuple(cards),
        demand_cum_weights=tuple(accumulate(weights)),
        customers=tuple(f"CUST-{i:06d}" for i in range(1, customers + 1)),
        facilities=tuple(FACILITIES),
    )


def mutate_card(rng: random.Random, card: CardState) -> CardState:
    """A catalog correction or trade: change one attribute (team, parallel + print run, price, rookie)."""
    change = rng.randrange(4)
    if change == 0:
        teams = [t for t in SPORTS[card.sport] if t != card.team]
        return replace(card, team=rng.choice(teams))
    if change == 1:
        parallel, print_run, _ = rng.choice([p for p in PARALLELS if p[0] != card.parallel])
        return replace(card, parallel=parallel, print_run=print_run)
    if change == 2:
        factor = Decimal(rng.choice((80, 90, 110, 125, 150))) / 100
        return replace(card, list_price=max(CENT, (card.list_price * factor).quantize(CENT)))
    return replace(card, is_rookie=not card.is_rookie)
