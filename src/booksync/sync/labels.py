"""How the records of a run are named: for people (``member 1001 Name``, ``G/L account 4000 Dues``) and, for a
member's customer, in QuickBooks (:func:`customer_name`, fitted to the port's limits)."""
from __future__ import annotations

from booksync.fields import FieldFitter, Limits
from booksync.records import GLAccountRecord, MemberRecord


def member_label(member: MemberRecord) -> str:
    return f"member {member.number} {member.name}"


def customer_name(fit: FieldFitter, member: MemberRecord, limits: Limits) -> str:
    """The name a member's customer gets in QuickBooks (before any suffix that makes it unique): the member's
    name fitted to the limits, or "Member NUMBER" when nothing of it can be stored."""
    return fit.name(member_label(member), "customer name", member.name, limits.customer_name,
                    fallback=f"Member {member.number}")

def gl_label(account: GLAccountRecord) -> str:
    return f"G/L account {account.number} {account.name}"
