"""Free-text reasons that fit what they are the reason for.

A `reason` of a visit is what brings the patient in; a reason anywhere else is why the
action its field or tool names happens: a line is suspended because its owner travels, an
invoice voided because it was billed in error. The field's name, then its entity's or
tool's name, then the words of its description decide, as the rest of `fakes` decides by
words; what fits nothing gets a plain customer's reason, never a symptom.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping

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
# What brings a patient in, by the kind of visit it is.
VISIT_REASONS: dict[str, tuple[str, ...]] = {
    "annual_physical": ("Annual check-up", "Yearly physical", "Routine exam and blood work"),
    "follow_up": (
        "Follow-up on blood pressure",
        "Medication review",
        "Follow-up after lab results",
        "Checking how the new medication works",
    ),
    "new_patient": (
        "First visit to establish care",
        "Persistent cough for two weeks",
        "Recurring headaches",
        "Knee pain after running",
    ),
    "telehealth": (
        "Sore throat and fever",
        "Skin rash on the arm",
        "Trouble sleeping",
        "Question about a prescription",
    ),
}
VISIT_CANCEL_REASONS = (
    "Schedule conflict",
    "Feeling better",
    "Could not get time off work",
    "Found an earlier appointment elsewhere",
)
CANCEL_REASONS = (
    "Ordered by mistake",
    "Taking too long",
    "Changed my mind",
    "Wrong delivery address",
    "No longer needed",
)
SUSPEND_REASONS = (
    "Travelling abroad for a few months",
    "Away for the summer",
    "Phone was lost; waiting for a replacement",
    "Not using the line for a while",
    "Saving money until I start a new job",
)
REFUND_REASONS = (
    "Item arrived damaged",
    "Charged twice",
    "Order never arrived",
    "Wrong item delivered",
    "Missing items",
)
RETURN_REASONS = (
    "Wrong size",
    "Item arrived damaged",
    "Not as described",
    "No longer needed",
    "Found a better price elsewhere",
)
EXCHANGE_REASONS = (
    "Wrong size",
    "Prefer a different color",
    "Item arrived damaged",
    "Ordered the wrong model",
)
TRANSFER_REASONS = (
    "Moving to another city",
    "Handing the line over to a family member",
    "Consolidating accounts",
    "Closer to where I live now",
)
BLOCK_REASONS = (
    "Card was lost",
    "Card was stolen",
    "Suspicious charges on the account",
    "Phone was stolen",
)
BILLING_REASONS = (
    "Billed in error",
    "Duplicate charge",
    "Charged the wrong amount",
    "Service was not provided",
)
CLOSE_REASONS = (
    "Moving abroad",
    "Switching to another provider",
    "No longer needed",
    "Too expensive",
)
GENERAL_REASONS = (
    "Requested by the account holder",
    "Change of plans",
    "No longer needed",
    "Customer asked for it by phone",
)
# What a reason is for, by the first word that starts with one of these stems.
ACTION_REASONS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("cancel",), CANCEL_REASONS),
    (("suspen", "pause", "hold"), SUSPEND_REASONS),
    (("refund", "reimburs"), REFUND_REASONS),
    (("return",), RETURN_REASONS),
    (("exchang", "replac"), EXCHANGE_REASONS),
    (("transfer", "reassign"), TRANSFER_REASONS),
    (("block", "freez", "lock", "lost", "stolen"), BLOCK_REASONS),
    (("void", "dispute", "waive", "adjust", "chargeback"), BILLING_REASONS),
    (("close", "terminat", "deactivat", "disconnect"), CLOSE_REASONS),
)
# Words that make a record or tool a visit: its reason is what brings the patient in.
VISIT_STEMS = ("visit", "appointment", "consultation", "checkup", "patient", "symptom")

_WORD = re.compile(r"[a-z]+")


def is_reason(tokens: Iterable[str]) -> bool:
    """Whether a field or parameter named by these words holds a reason (`reason`,
    `cancel_reason`, `symptom`)."""
    return bool({"reason", "symptom", "complaint"} & set(tokens))


def reason_for(
    rng: random.Random,
    tokens: list[str],
    owner: list[str],
    doc: str = "",
    record: Mapping[str, object] | None = None,
) -> str:
    """A reason for the field or parameter named by `tokens`, of the entity or tool named by
    `owner`, described by `doc`. The names' action decides first (a cancelled visit's
    reason is a visit's cancel reason), then whether it is a visit (one follows the kind of
    visit the record is), then the action the doc speaks of."""
    said = _WORD.findall(doc.lower())
    action = _action(tokens) or _action(owner)
    visit = "symptom" in tokens or any(w.startswith(VISIT_STEMS) for w in [*owner, *said])
    if visit and action is CANCEL_REASONS:
        return rng.choice(VISIT_CANCEL_REASONS)
    if action is None and visit:
        kinds = [v for v in (record or {}).values() if isinstance(v, str) and v in VISIT_REASONS]
        kind = VISIT_REASONS[kinds[0]] if kinds else None
        return rng.choice(kind or REASONS)
    return rng.choice(action or _action(said) or GENERAL_REASONS)


def _action(words: list[str]) -> tuple[str, ...] | None:
    """The reasons of the first action these words name, in their order."""
    return next(
        (reasons for w in words for stems, reasons in ACTION_REASONS if w.startswith(stems)),
        None,
    )
