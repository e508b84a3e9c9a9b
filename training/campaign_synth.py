"""Synthetic campaigns: dozens of distinct B2B products, each a valid schemas.campaign.Campaign.

A miniature that writes for *any* campaign must see many during training: products, senders,
tones, calls to action and facts that differ from brief to brief, so it learns to copy from the
quoted campaign block rather than memorize one product. Each campaign is composed from parts
with a seeded RNG (a market category's value propositions, benefits, pains, proof-point and
case-study patterns, plus a generated brand, a Faker sender and customers, and fresh numbers),
never from one template: 16 categories x 4 value propositions x C(8,3) benefit sets x ~10 fact
patterns with their own random figures. Numbers are drawn per campaign, so a figure from
another campaign in a draft is detectable (training.rubric.foreign_facts).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

from schemas.campaign import Campaign, parse_campaign
from training.grammar import possessive


@dataclass(frozen=True)
class Category:
    key: str
    values: tuple[str, ...]  # full sentences starting with {product}
    benefits: tuple[str, ...]  # verb phrases
    industries: tuple[str, ...]
    roles: tuple[str, ...]
    pains: tuple[str, ...]  # lead pain points (clauses) this product answers
    proofs: tuple[str, ...]  # proof-point patterns
    cases: tuple[str, ...]  # case-study patterns with {customer}


CATEGORIES: tuple[Category, ...] = (
    Category("accounts-payable",
             ("{product} reads supplier invoices and matches them to purchase orders automatically.",
              "{product} turns every supplier invoice into a coded, approved entry without retyping.",
              "{product} routes each invoice to the right approver and flags duplicates before payment.",
              "{product} gives finance teams one queue for every invoice, from inbox to payment."),
             ("close the books faster each month", "stop duplicate payments before they happen",
              "cut the cost of processing each invoice", "give approvers one clear queue",
              "pay suppliers on time without late fees", "see every open invoice in one place",
              "spend less time chasing approvals", "keep a clean audit trail"),
             ("manufacturing", "logistics", "healthcare", "retail", "construction", "wholesale"),
             ("cfo", "controller", "finance", "accounts payable"),
             ("month-end close takes more than a week", "invoices pile up waiting for approval",
              "the same supplier invoice was paid twice last quarter",
              "late payment fees keep showing up", "the AP team retypes every invoice by hand"),
             ("{product} matches {pct}% of invoices to purchase orders without manual work.",
              "Customers cut the cost per invoice by {pct2}% in their first year.",
              "Approvals that took {n} days take {m} days on average with {product}.",
              "{product} connects to the ERP you already use in under {wk} weeks."),
             ("{customer} cut its month-end close from {n} days to {m} with {product}.",
              "{customer} processes {k} invoices a month with a team of {small}.",
              "{customer} stopped {dup} duplicate payments in its first quarter on {product}.")),
    Category("workforce-scheduling",
             ("{product} builds fair shift schedules from demand forecasts in minutes.",
              "{product} lets managers fill open shifts from a phone instead of a phone tree.",
              "{product} plans staff rotas around demand, skills and working-time rules.",
              "{product} keeps shift plans, swaps and time-off requests in one app."),
             ("fill open shifts the same day", "keep overtime inside the budget",
              "publish next month's schedule in an afternoon", "cut last-minute no-shows",
              "respect rest-period rules automatically", "give staff a say in their shifts",
              "spend less time on the phone with staff", "match staffing to real demand"),
             ("healthcare", "hospitality", "retail", "logistics", "manufacturing"),
             ("operations", "hr", "store manager", "nursing"),
             ("open shifts are filled by phone every morning", "overtime keeps going over budget",
              "publishing the monthly rota takes days", "no-shows leave the floor understaffed",
              "agency staff costs keep rising"),
             ("Open shifts posted in {product} are filled in {mins} minutes on average.",
              "Customers cut unplanned overtime by {pct2}% within {half} months.",
              "Managers spend {n} fewer hours a week on scheduling with {product}."),
             ("{customer} schedules {k} staff in {product} and cut agency costs by {pct2}%.",
              "{customer} staffs peak season across {small} sites with half the planning time.",
              "{customer} reduced no-shows by {pct2}% after moving its rota to {product}.")),
    Category("vulnerability-management",
             ("{product} finds unpatched software across laptops, servers and cloud images.",
              "{product} patches operating systems and third-party apps on a schedule you control.",
              "{product} ranks every open vulnerability by real exposure, not just by score.",
              "{product} keeps every endpoint patched without late-night change windows."),
             ("see every missing patch in one list", "close critical vulnerabilities faster",
              "hand auditors a patch report in minutes", "patch without weekend change windows",
              "cover third-party apps as well as the OS", "stop chasing spreadsheets of CVEs",
              "prove compliance to your regulator", "take manual patching off the IT team's plate"),
             ("financial services", "software", "education", "public sector", "manufacturing"),
             ("ciso", "it", "security", "infrastructure"),
             ("patching laptops falls behind every month", "auditors keep asking for patch reports",
              "critical vulnerabilities stay open for weeks",
              "the security team tracks CVEs in spreadsheets"),
             ("{product} covers more than {k} third-party applications out of the box.",
              "Customers close critical vulnerabilities in {m} days instead of {n}.",
              "{product} scans a new cloud server within {mins} minutes of its start."),
             ("{customer} passed its patch audit with zero findings after {half} months on {product}.",
              "{customer} patches {k} laptops with an IT team of {small}.",
              "{customer} cut its open critical vulnerabilities by {pct2}% in one quarter.")),
    Category("customer-support",
             ("{product} answers routine support questions instantly and hands the rest to your agents.",
              "{product} drafts replies to support tickets from your own help center.",
              "{product} sorts incoming tickets by topic and urgency before an agent opens them.",
              "{product} gives support agents one inbox for email, chat and social messages."),
             ("answer customers in minutes instead of days", "cut the ticket backlog",
              "keep replies consistent across agents", "free agents for the hard questions",
              "support customers around the clock", "spot trending issues early",
              "onboard new agents faster", "raise customer satisfaction scores"),
             ("e-commerce", "software", "telecommunications", "retail", "insurance"),
             ("customer support", "customer success", "operations", "cx"),
             ("customer tickets wait two days for a first reply", "the support backlog doubles every holiday season",
              "agents answer the same questions all day", "customer satisfaction scores keep dropping"),
             ("{product} resolves {pct}% of routine questions without an agent.",
              "Customers cut first-response time from {n} hours to {m}.",
              "Agents using {product} handle {x} times more tickets per shift."),
             ("{customer} cut its support backlog by {pct2}% within {half} months of using {product}.",
              "{customer} answers {k} tickets a week with a team of {small}.",
              "{customer} raised its satisfaction score by {small} points after switching to {product}.")),
    Category("employee-onboarding",
             ("{product} runs new-hire onboarding from signed offer to first day in one checklist.",
              "{product} collects new-hire documents, signatures and equipment requests automatically.",
              "{product} gives every new hire a clear plan for their first ninety days.",
              "{product} connects HR, IT and managers so no onboarding step is missed."),
             ("get new hires productive in their first week", "cut onboarding paperwork",
              "make sure laptops arrive before day one", "keep every onboarding step on track",
              "give managers a ready-made plan", "reduce early attrition",
              "stop chasing signatures by email", "onboard remote staff as smoothly as local ones"),
             ("software", "healthcare", "retail", "financial services", "consulting"),
             ("hr", "people", "talent", "operations"),
             ("onboarding a new hire takes three weeks of paperwork",
              "new hires start without a laptop or accounts",
              "too many new hires leave in their first three months",
              "HR chases signatures by email every week"),
             ("New hires on {product} reach full productivity {n} days sooner.",
              "HR teams save {m} hours of paperwork per new hire with {product}.",
              "{product} cuts first-year attrition by {pct2}% on average."),
             ("{customer} onboards {k} seasonal staff a year with an HR team of {small}.",
              "{customer} cut time to first productive day from {n} days to {m} with {product}.",
              "{customer} reduced early attrition by {pct2}% after rolling out {product}.")),
    Category("route-optimization",
             ("{product} plans delivery routes around traffic, time windows and vehicle capacity.",
              "{product} re-plans the day's routes in seconds when an order changes.",
              "{product} gives dispatchers and drivers one live view of every delivery.",
              "{product} turns the morning's orders into efficient routes before the trucks leave."),
             ("cut fuel costs", "fit more stops into each route", "give customers accurate arrival times",
              "plan routes in minutes instead of hours", "reduce missed delivery windows",
              "lower overtime for drivers", "see every vehicle on one map", "cut empty miles"),
             ("logistics", "food & beverage", "wholesale", "e-commerce", "field services"),
             ("operations", "dispatch", "fleet", "logistics", "supply chain"),
             ("route planning takes the dispatch team all morning", "fuel costs rose sharply this year",
              "customers complain about missed delivery windows", "drivers run too many empty miles"),
             ("Fleets using {product} drive {pct2}% fewer miles for the same deliveries.",
              "{product} plans {k} stops in under {mins} seconds.",
              "On-time delivery rises to {pct}% on average within {half} months."),
             ("{customer} cut its fuel bill by {pct2}% in the first year with {product}.",
              "{customer} added {small} stops per route without adding drivers.",
              "{customer} plans routes for {k} daily deliveries with one dispatcher.")),
    Category("inventory",
             ("{product} keeps stock levels right across warehouses with demand-based reorder points.",
              "{product} tracks every item from receiving to shipping with a phone scanner.",
              "{product} forecasts demand per item and suggests purchase orders automatically.",
              "{product} shows real-time stock across stores, warehouses and channels."),
             ("stop running out of best-sellers", "free cash tied up in slow stock",
              "count stock without closing the warehouse", "ship orders faster",
              "reorder at the right time", "see stock across every location",
              "cut picking errors", "plan purchasing around real demand"),
             ("retail", "e-commerce", "wholesale", "manufacturing", "food & beverage"),
             ("supply chain", "warehouse", "operations", "purchasing"),
             ("best-sellers keep going out of stock", "too much cash is tied up in slow-moving stock",
              "stock counts close the warehouse for two days", "picking errors lead to returns"),
             ("Customers cut stock-outs by {pct2}% in the first {half} months.",
              "{product} reduces excess inventory by {pct2}% on average.",
              "Picking accuracy reaches {pct}% with {product_pos} scanner app."),
             ("{customer} freed {pct2}% of the cash tied up in stock with {product}.",
              "{customer} cut stock-outs across {small} warehouses by {pct2}%.",
              "{customer} now counts stock in {m} hours instead of {n}.")),
    Category("spend-management",
             ("{product} puts every purchase request, approval and supplier in one workflow.",
              "{product} checks purchases against budgets before anyone spends.",
              "{product} gives procurement a live view of spend by supplier and category.",
              "{product} turns buying requests into approved purchase orders in minutes."),
             ("see every commitment before the invoice arrives", "stop maverick spending",
              "negotiate better prices with real spend data", "approve requests in minutes",
              "keep budgets on track", "cut the number of suppliers",
              "make buying easy for employees", "give finance clean data"),
             ("manufacturing", "healthcare", "education", "public sector", "construction"),
             ("procurement", "purchasing", "cfo", "finance"),
             ("purchases happen outside of any approval", "nobody knows the total spend per supplier",
              "budget overruns show up only at quarter end", "purchase approvals take more than a week"),
             ("Customers bring {pct}% of spend under management within a year.",
              "{product} cuts purchase approval time from {n} days to {m}.",
              "Procurement teams save {pct2}% on top categories with {product_pos} spend data."),
             ("{customer} cut its supplier list by {pct2}% with {product}.",
              "{customer} saved {pct2}% on indirect spend in its first year on {product}.",
              "{customer} approves purchase requests in {m} hours instead of {n} days.")),
    Category("contract-management",
             ("{product} stores every contract in one searchable place and tracks key dates.",
              "{product} drafts contracts from approved templates and routes them for signature.",
              "{product} reminds owners before renewals and notice periods pass.",
              "{product} extracts obligations and deadlines from signed contracts automatically."),
             ("never miss a renewal date", "find any clause in seconds", "cut contract turnaround time",
              "keep legal in the loop without slowing sales", "standardize contract language",
              "reduce risk from forgotten obligations", "sign contracts faster",
              "give legal a clear workload view"),
             ("legal services", "software", "real estate", "financial services", "pharmaceuticals"),
             ("general counsel", "legal", "contracts", "operations"),
             ("contracts renew automatically before anyone reviews them",
              "finding a clause means searching shared drives",
              "contract turnaround takes weeks", "legal is a bottleneck for every deal"),
             ("{product} cuts contract turnaround from {n} days to {m}.",
              "Customers avoid {pct2}% of unwanted auto-renewals in the first year.",
              "Legal teams find any clause in under {mins} seconds with {product}."),
             ("{customer} manages {k} contracts with a legal team of {small}.",
              "{customer} avoided {dup} unwanted renewals in its first year on {product}.",
              "{customer} cut sales contract turnaround by {pct2}%.")),
    Category("energy-management",
             ("{product} measures energy use per building and finds the waste automatically.",
              "{product} tunes heating, cooling and lighting schedules to real occupancy.",
              "{product} turns meter data into a ranked list of energy savings.",
              "{product} tracks energy and emissions across every site in one dashboard."),
             ("cut energy bills", "report emissions without spreadsheets", "spot waste overnight",
              "keep buildings comfortable with less energy", "meet sustainability targets",
              "compare sites side by side", "plan upgrades with real data", "avoid peak-demand charges"),
             ("manufacturing", "retail", "education", "healthcare", "real estate", "hospitality"),
             ("facilities", "sustainability", "operations", "cfo"),
             ("energy bills rose sharply this year", "sustainability reporting takes weeks of spreadsheets",
              "buildings heat empty rooms overnight", "energy use cannot be compared across sites"),
             ("Customers cut energy use by {pct2}% in the first year.",
              "{product} reads {k} meters and flags waste within {mins} minutes.",
              "Emission reports take {m} hours instead of {n} days with {product}."),
             ("{customer} saved {pct2}% on energy across {small} buildings with {product}.",
              "{customer} cut its peak-demand charges by {pct2}% in {half} months.",
              "{customer} reports emissions for {k} sites with one analyst.")),
    Category("fleet-telematics",
             ("{product} tracks every vehicle, driver and trip in real time.",
              "{product} scores driving behavior and coaches drivers to drive safer.",
              "{product} predicts vehicle maintenance from engine data before breakdowns happen.",
              "{product} gives fleet managers one view of location, fuel and maintenance."),
             ("reduce accidents", "cut fuel use", "plan maintenance before breakdowns",
              "lower insurance premiums", "know where every vehicle is", "cut idle time",
              "simplify compliance reporting", "coach drivers with real data"),
             ("logistics", "construction", "field services", "public sector", "utilities"),
             ("fleet", "operations", "safety", "logistics"),
             ("vehicle breakdowns keep disrupting deliveries", "fuel costs rose sharply this year",
              "insurance premiums keep going up after accidents", "nobody knows where the vans are during the day"),
             ("Fleets using {product} cut idle time by {pct2}%.",
              "Customers report {pct2}% fewer accidents within {half} months.",
              "{product} flags {pct}% of breakdowns before they happen."),
             ("{customer} cut fuel costs by {pct2}% across {k} vehicles with {product}.",
              "{customer} lowered its insurance premium by {pct2}% after a year on {product}.",
              "{customer} reduced breakdowns by {pct2}% with {product_pos} maintenance alerts.")),
    Category("recruiting",
             ("{product} screens applicants against the role and books interviews automatically.",
              "{product} posts jobs to dozens of boards and ranks applicants in one place.",
              "{product} keeps candidates informed at every step, so fewer drop out.",
              "{product} gives hiring managers a shortlist instead of a pile of CVs."),
             ("hire faster", "stop losing candidates to slow replies", "cut agency fees",
              "give hiring managers better shortlists", "schedule interviews without email ping-pong",
              "build a talent pool for future roles", "keep hiring fair and consistent",
              "measure every source of hires"),
             ("retail", "hospitality", "healthcare", "logistics", "software"),
             ("talent", "recruiting", "hr", "people"),
             ("good candidates drop out before the interview", "time to hire is over two months",
              "agency fees eat the hiring budget", "recruiters spend days scheduling interviews"),
             ("Customers cut time to hire from {n} days to {m}.",
              "{product} books interviews within {mins} minutes of a shortlist.",
              "Candidate drop-out falls by {pct2}% on average with {product}."),
             ("{customer} hires {k} people a year with {small} recruiters using {product}.",
              "{customer} cut agency spend by {pct2}% in its first year on {product}.",
              "{customer} filled seasonal roles {x} times faster with {product}.")),
    Category("field-service",
             ("{product} schedules technicians by skill, location and parts on the van.",
              "{product} gives field technicians job details, manuals and forms on their phone.",
              "{product} turns completed jobs into invoices the same day.",
              "{product} keeps dispatch, technicians and customers in sync in real time."),
             ("fix more issues on the first visit", "invoice jobs the same day",
              "send the right technician the first time", "cut travel time between jobs",
              "give customers accurate arrival windows", "go paperless in the field",
              "see every job's status live", "plan maintenance contracts better"),
             ("utilities", "manufacturing", "real estate", "telecommunications", "healthcare"),
             ("field service", "operations", "service manager", "dispatch"),
             ("technicians arrive without the right parts", "invoicing field jobs takes weeks",
              "customers wait all day for a technician", "job sheets are still on paper"),
             ("First-time fix rates reach {pct}% on average with {product}.",
              "Customers invoice field jobs {n} days sooner.",
              "Technicians complete {small} more jobs a week with {product}."),
             ("{customer} raised its first-time fix rate by {pct2}% with {product}.",
              "{customer} dispatches {k} technicians with a team of {small}.",
              "{customer} cut its invoice cycle from {n} days to {m} with {product}.")),
    Category("quality-management",
             ("{product} tracks every deviation, corrective action and audit in one system.",
              "{product} digitizes inspection checklists on the shop floor.",
              "{product} links customer complaints to root causes and fixes.",
              "{product} keeps standard operating procedures current and signed off."),
             ("pass audits without a scramble", "catch defects earlier", "close corrective actions faster",
              "replace paper checklists", "keep procedures current", "trace every batch",
              "cut scrap and rework", "answer customer complaints with data"),
             ("manufacturing", "pharmaceuticals", "food & beverage", "automotive", "chemicals"),
             ("quality", "plant manager", "operations", "compliance"),
             ("audit preparation takes weeks", "scrap rates keep rising", "inspection checklists are on paper",
              "corrective actions stay open for months"),
             ("Customers cut scrap by {pct2}% within {half} months.",
              "Corrective actions close in {m} days instead of {n} with {product}.",
              "{product} cuts audit preparation time by {pct2}%."),
             ("{customer} passed its certification audit with no major findings using {product}.",
              "{customer} cut customer complaints by {pct2}% across {small} plants.",
              "{customer} replaced {k} paper checklists with {product}.")),
    Category("learning-platform",
             ("{product} delivers short training courses employees finish on their phones.",
              "{product} assigns compliance training automatically and tracks completion.",
              "{product} turns your experts' knowledge into courses in hours, not months.",
              "{product} gives every team a learning path tied to their role."),
             ("get compliance training done on time", "train frontline staff on their phones",
              "build courses in-house", "prove training to auditors", "onboard faster",
              "keep skills current", "track completion without spreadsheets",
              "cut classroom training costs"),
             ("retail", "hospitality", "healthcare", "manufacturing", "financial services"),
             ("learning", "hr", "training", "compliance"),
             ("compliance training completion is below target",
              "frontline staff have no time for classroom training",
              "building a new course takes months", "training records live in spreadsheets"),
             ("Course completion reaches {pct}% on average with {product}.",
              "Customers build a new course in {m} hours instead of {n} days.",
              "{product} cuts classroom training costs by {pct2}%."),
             ("{customer} trains {k} frontline staff a year with {product}.",
              "{customer} raised compliance completion to {pct}% within {half} months.",
              "{customer} cut training costs by {pct2}% across {small} sites.")),
    Category("data-pipelines",
             ("{product} moves data from your business apps into your warehouse without code.",
              "{product} keeps data pipelines running and alerts you before reports break.",
              "{product} syncs clean customer data between your CRM, billing and warehouse.",
              "{product} replaces hand-written data scripts with managed connectors."),
             ("stop fixing broken pipelines", "get fresh data every hour", "free engineers from scripts",
              "trust the numbers in every report", "add a new data source in minutes",
              "cut warehouse costs", "keep customer data consistent", "meet data-privacy rules"),
             ("software", "e-commerce", "financial services", "media", "telecommunications"),
             ("data", "cto", "engineering", "analytics"),
             ("reports break every time a source changes", "data engineers spend days on scripts",
              "dashboards show yesterday's data", "nobody trusts the numbers in the board report"),
             ("{product} offers more than {k} managed connectors.",
              "Customers cut pipeline maintenance by {pct2}% in the first quarter.",
              "New sources go live in {mins} minutes on average with {product}."),
             ("{customer} replaced {dup} hand-written data scripts with {product}.",
              "{customer} refreshes its dashboards every {mins} minutes instead of daily.",
              "{customer} cut data engineering time by {pct2}% with {product}.")),
)

BRAND_HEADS = ("Arc", "Brightpath", "Cinder", "Cobalt", "Delta", "Ember", "Fernway", "Granite",
               "Helio", "Indigo", "Juniper", "Kestrel", "Lumen", "Maple", "Nimbus", "Onyx",
               "Pioneer", "Quill", "Riverton", "Sable", "Tessel", "Umber", "Vela", "Willow",
               "Yarrow", "Zenith", "Alder", "Beacon", "Cedar", "Drift", "Evergreen", "Flint")
BRAND_TAILS = ("ly", "wise", "flow", "desk", "hub", "base", "grid", "works", "loop", "pilot",
               "sense", "craft", "stack", "point", "line", "bridge")
COMPANY_FORMS = ("{brand}", "{brand}", "{brand} Inc.", "{brand} Labs", "{brand} GmbH",
                 "{brand} Ltd", "{brand} Systems", "{brand} Technologies")
TITLES = ("Account Executive", "Senior Account Executive", "Sales Director", "Partnerships Lead",
          "Customer Engagement Manager", "Regional Sales Manager", "Co-founder",
          "Head of Business Development", "Solutions Consultant")
TONES = ("friendly, concise, specific", "warm, practical, plain words", "direct, technical, no hype",
         "precise, calm, numbers first", "upbeat, brief, helpful", "consultative, respectful")
CTA_PATTERNS = ("Would a {n}-minute call {when} work for you?",
                "Would you be open to a {n}-minute walkthrough {when}?",
                "Could we find {n} minutes {when} to look at your numbers?",
                "Is a short demo {when} worth a look?",
                "Would it help to compare notes {when} for {n} minutes?",
                "Do you have {n} minutes {when} for a quick call?")
WHENS = ("next week", "this week", "on Thursday", "next Tuesday or Wednesday", "early next week")
SENDER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "sv_SE", "pl_PL",
                  "pt_BR", "en_IE")
CUSTOMER_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "sv_SE")
# The repository's example briefs (campaigns/examples) stay unseen: never generated here.
RESERVED_PRODUCTS = frozenset({"Ledgerline", "Shiftwise", "Patchwell"})


@lru_cache(maxsize=None)
def _faker(locale: str) -> Faker:
    return Faker(locale)


def _numbers(rng: random.Random) -> dict[str, str]:
    n = rng.randint(6, 30)
    return {"pct": str(rng.randint(62, 97)), "pct2": str(rng.randint(12, 48)), "n": str(n),
            "m": str(rng.randint(1, max(2, n // 3))), "wk": str(rng.randint(2, 6)),
            "k": f"{rng.choice([1, 2, 3, 4, 6, 8, 12, 15, 24, 40]) * rng.choice([100, 1000]):,}",
            "small": str(rng.randint(2, 9)), "dup": str(rng.randint(11, 95)),
            "mins": str(rng.randint(5, 55)), "half": str(rng.randint(3, 9)),
            "x": str(rng.randint(2, 4))}


def _customer(rng: random.Random) -> str:
    fake = _faker(rng.choice(CUSTOMER_LOCALES))
    fake.seed_instance(rng.getrandbits(64))
    for _ in range(10):
        name = fake.company()
        if "," not in name and " and " not in name and len(name) <= 40:
            return name
    return fake.last_name() + " Group"


def _brands(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    pairs = [(h, t) for h in BRAND_HEADS for t in BRAND_TAILS]
    rng.shuffle(pairs)
    for head, tail in pairs:
        brand = head + tail
        # At most two brands per head word, so names stay distinct at a glance.
        if brand not in RESERVED_PRODUCTS and sum(n.startswith(head) for n in names) < 2:
            names.append(brand)
        if len(names) == count:
            break
    return names


def make_campaign(rng: random.Random, category: Category, product: str, index: int) -> Campaign:
    fill = {"product": product, "product_pos": possessive(product)}
    sender_fake = _faker(rng.choice(SENDER_LOCALES))
    sender_fake.seed_instance(rng.getrandbits(64))
    facts, cases = [], []
    for number, pattern in enumerate(rng.sample(category.proofs, len(category.proofs))):
        text = pattern.format(**fill, **_numbers(rng))
        roles = rng.sample(category.roles, rng.randint(0, 2))
        facts.append({"id": f"pp-{number + 1}", "text": text, "roles": roles})
    for number, pattern in enumerate(rng.sample(category.cases, len(category.cases))):
        customer = _customer(rng)
        text = pattern.format(**fill, customer=customer, **_numbers(rng))
        cases.append({"id": f"cs-{number + 1}", "customer": customer, "text": text,
                      "industries": rng.sample(category.industries, rng.randint(1, 2)),
                      "roles": rng.sample(category.roles, rng.randint(1, 2))})
    ctas = []
    for pattern in rng.sample(CTA_PATTERNS, rng.randint(2, 3)):
        ctas.append(pattern.format(n=rng.choice([15, 20, 30]), when=rng.choice(WHENS)))
    doc = {
        "campaign_id": f"synth-{index:03d}-{category.key}", "version": rng.randint(1, 4),
        "product": product,
        "sender": {"name": f"{sender_fake.first_name()} {sender_fake.last_name()}",
                   "title": rng.choice(TITLES),
                   "company": rng.choice(COMPANY_FORMS).format(brand=product)},
        "value_proposition": rng.choice(category.values).format(**fill),
        "benefits": rng.sample(category.benefits, 3),
        "proof_points": facts, "case_studies": cases, "calls_to_action": ctas,
        "tone": rng.choice(TONES),
        "subject_max_chars": rng.choice([60, 70, 80, 90]),
        "body_min_words": rng.choice([25, 30, 35]),
        "body_max_words": rng.choice([150, 180, 200, 220]),
    }
    return parse_campaign(doc, source=doc["campaign_id"])


def generate(count: int = 56, seed: int = 0) -> list[Campaign]:
    """``count`` campaigns, cycling through the categories with distinct brands."""
    rng = random.Random(seed)
    brands = _brands(rng, count)
    return [make_campaign(rng, CATEGORIES[i % len(CATEGORIES)], brands[i], i)
            for i in range(count)]


def category_of(campaign: Campaign) -> Category | None:
    """The category a synthetic campaign was built from (by id), else None."""
    key = campaign.campaign_id.split("-", 2)[-1] if campaign.campaign_id.startswith("synth-") \
        else None
    return next((c for c in CATEGORIES if c.key == key), None)
