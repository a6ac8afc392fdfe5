"""The tactic taxonomy of SPEC section 1: the one place that names and orders the tactics.

Everything else (the model's output columns, the corpus labels, the report) reads the order from
here, and the model directory stores it so that a model trained on another order is refused.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tactic:
    id: str
    name: str
    definition: str


TACTICS: tuple[Tactic, ...] = (
    Tactic("job_lure", "false or too-good-to-be-true job offer",
           "modelling, dancing, hostess, nanny, shop, hotel or club work, often abroad; high pay for no "
           "experience; vague employer; pressure to decide fast; up-front fees or handing over documents"),
    Tactic("romance_lure", "fast-tracked romance from an online contact",
           "love-bombing, 'you're my girlfriend now' within days, promises of a future together, used to "
           "gain compliance"),
    Tactic("vulnerability_probe", "seeking or exploiting vulnerability",
           "probing home conflict, running away, homelessness, drugs, money trouble, loneliness; posing as "
           "the rescuer"),
    Tactic("isolation_secrecy", "secrecy and isolation",
           "'don't tell anyone', 'delete this chat', turning the target against family or friends"),
    Tactic("platform_move", "pushing to a private channel",
           "pressing early to move to an encrypted or ephemeral app, or for a phone number"),
    Tactic("travel_offer", "arranging travel or a meeting",
           "paying for tickets, passport or visa, pick-up, accommodation, meeting at a place the contact "
           "chooses"),
    Tactic("gift_debt", "gifts that create obligation",
           "money, gifts, phone top-ups, paying bills; later framing them as owed"),
    Tactic("personal_probe", "risk assessment",
           "asking age, whether they are alone, whether parents check the phone, where they live or go to "
           "school"),
    Tactic("image_request", "requests for images or camera",
           "asking for photos, videos or a live camera of the target, escalating to private pictures"),
    Tactic("coercion_threat", "coercion",
           "threats, blackmail or sextortion, threats to family, keeping documents, debt bondage, forcing "
           "work"),
    Tactic("control_monitoring", "control and surveillance",
           "controlling the target's accounts or phone, demanding location, tracking, answering for them"),
)

TACTIC_IDS: tuple[str, ...] = tuple(t.id for t in TACTICS)
TACTIC_INDEX: dict[str, int] = {tid: i for i, tid in enumerate(TACTIC_IDS)}
